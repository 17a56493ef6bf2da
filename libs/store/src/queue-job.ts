/**
 * Adding a BullMQ job from inside one of the store's Lua scripts.
 *
 * Sending a token is a check-and-record step (coalescing, send caps, the
 * dispatch record) followed by a job for the worker. As two Redis calls that
 * costs the api two round trips per request, and a crash between them leaves a
 * dispatch recorded as queued with no job. Run as one script, the checks, the
 * record and the job are one atomic step: all of it happens or none of it.
 *
 * The job is written by BullMQ's own add script (the Lua text BullMQ ships),
 * wrapped as a local function of ours, so the job's hash, the wait list, the
 * marker and the events stream are exactly what `Queue.add` writes. What this
 * module mirrors of BullMQ's client side, because the script's interface is
 * not public: the order of the script's KEYS (Scripts.addStandardJobArgs),
 * its argument array and msgpack encoding (Scripts.addJob). The job options
 * go through BullMQ's own Job normalisation and encoding. BullMQ is pinned;
 * test/integration/queue-job.int-spec.ts compares a job written here with one
 * written by `Queue.add`, field by field, and has a BullMQ Worker process it,
 * so an upgrade that changes any of this fails there first.
 */
import { Job, type JobsOptions, type Queue, type RedisJobOptions } from 'bullmq';
import { Packr } from 'msgpackr';

// BullMQ ships each script's Lua text as a module (typed under dist/esm only);
// the name ends in the script's key count, so a change of keys fails here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { addStandardJob } = require('bullmq/dist/cjs/scripts/addStandardJob-9') as typeof import('bullmq/dist/esm/scripts/addStandardJob-9');

/** BullMQ's add script as a Lua function `bullmq_add_standard_job(keys, argv)` returning the job id, to include in a script. */
export const BULLMQ_ADD_STANDARD_JOB_LUA = `local function bullmq_add_standard_job(KEYS, ARGV)\n${addStandardJob.content}\nend\n`;

/** One job, ready to pass to a script that includes BULLMQ_ADD_STANDARD_JOB_LUA. */
export interface QueueJobInsert {
  readonly id: string;
  readonly keys: readonly string[];
  readonly args: readonly (string | Buffer)[];
}

// BullMQ's encoder settings (classes/scripts.js).
const packer = new Packr({ useRecords: false, encodeUndefinedAsNil: true });

/** Builds the keys and arguments of standard jobs (no delay, priority or parent) of one name on one queue. */
export class QueueJobWriter<Data extends object> {
  private readonly keys: readonly string[];
  private readonly keyPrefix: string;
  /** The options as BullMQ stores them; only the job id differs from job to job. */
  private readonly encodedOptions: RedisJobOptions;

  constructor(
    queue: Queue,
    private readonly name: string,
    options: Omit<JobsOptions, 'jobId' | 'delay' | 'priority' | 'parent' | 'repeat' | 'deduplication' | 'debounce' | 'lifo'>,
  ) {
    const k = queue.keys;
    this.keys = [k.wait, k.paused, k.meta, k.id, k.completed, k.delayed, k.active, k.events, k.marker];
    this.keyPrefix = k[''];
    // BullMQ's defaults and normalisation (attempts, backoff), as Queue.add applies them, encoded once.
    this.encodedOptions = Job.optsAsJSON(new Job(queue, name, {}, options).opts);
  }

  job(jobId: string, data: Data, timestampMs: number): QueueJobInsert {
    return {
      id: jobId,
      keys: this.keys,
      args: [
        // key prefix, custom id, name, timestamp, parent key, parent dependencies key, parent, repeat job key, deduplication key
        packer.pack([this.keyPrefix, jobId, this.name, timestampMs, null, null, undefined, undefined, null]),
        JSON.stringify(data),
        packer.pack({ ...this.encodedOptions, jobId }),
      ],
    };
  }
}
