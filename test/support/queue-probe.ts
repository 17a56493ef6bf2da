/**
 * The send queues of a stack (one per channel) as an operator (or Bull
 * Board) sees them: BullMQ Queues and QueueEvents on the stack's prefix, to
 * count jobs, read them, retry failed ones and wait for them to finish
 * (events, not sleeps). A job is looked up in both queues: its id, the
 * dispatch id, is unique across them.
 */
import { Queue, QueueEvents, type Job, type JobType } from 'bullmq';
import { DISPATCH_CHANNELS, DISPATCH_QUEUES } from '@lib/dispatch-contract';
import type { ContactType } from '@lib/domain';
import { RedisKeys } from '@lib/store';

export { DISPATCH_QUEUES };

const COUNTED = ['completed', 'failed', 'active', 'wait', 'delayed', 'prioritized', 'waiting-children'] as const;

export class QueueProbe {
  readonly queues: Readonly<Record<ContactType, Queue>>;
  private readonly events: Readonly<Record<ContactType, QueueEvents>>;

  constructor(redisUrl: string, prefix: string) {
    const u = new URL(redisUrl);
    const opts = { connection: { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null }, prefix: new RedisKeys(prefix).queuePrefix };
    const make = <T extends Queue | QueueEvents>(build: (name: string) => T) =>
      Object.fromEntries(
        DISPATCH_CHANNELS.map((channel) => {
          const it = build(DISPATCH_QUEUES[channel]);
          // Many jobs are awaited at once, each listening on both.
          it.setMaxListeners(0);
          (it as unknown as { on(event: 'error', listener: () => void): void }).on('error', () => undefined);
          return [channel, it];
        }),
      ) as Record<ContactType, T>;
    this.queues = make((name) => new Queue(name, opts));
    this.events = make((name) => new QueueEvents(name, opts));
  }

  /** The SMS queue (most tests' devices get their codes by SMS). */
  get sms(): Queue {
    return this.queues.sms;
  }

  async ready(): Promise<this> {
    await Promise.all(DISPATCH_CHANNELS.flatMap((c) => [this.queues[c].waitUntilReady(), this.events[c].waitUntilReady()]));
    return this;
  }

  /** Jobs by state, both queues together. */
  async counts(): Promise<Record<(typeof COUNTED)[number], number>> {
    const each = await Promise.all(DISPATCH_CHANNELS.map((c) => this.queues[c].getJobCounts(...COUNTED)));
    return Object.fromEntries(COUNTED.map((state) => [state, each.reduce((n, counts) => n + (counts[state] ?? 0), 0)])) as Record<
      (typeof COUNTED)[number],
      number
    >;
  }

  /** The jobs in these states, both queues together. */
  async jobs(states: JobType[]): Promise<Job[]> {
    return (await Promise.all(DISPATCH_CHANNELS.map((c) => this.queues[c].getJobs(states, 0, -1)))).flat();
  }

  /** Waits until the job is completed or failed for good; how it ended. */
  async finished(jobId: string, timeoutMs = 30_000): Promise<'completed' | 'failed'> {
    const found = await this.find(jobId);
    if (!found) throw new Error(`no job ${jobId}`);
    try {
      await found.job.waitUntilFinished(this.events[found.channel], timeoutMs);
      return 'completed';
    } catch (err) {
      if (/timed out|timeout/i.test((err as Error).message)) throw err;
      return 'failed';
    }
  }

  async job(jobId: string): Promise<Job | undefined> {
    return (await this.find(jobId))?.job;
  }

  /** The job's log lines, from whichever queue holds it. */
  async logs(jobId: string): Promise<string[]> {
    const found = await this.find(jobId);
    return found ? (await this.queues[found.channel].getJobLogs(jobId)).logs : [];
  }

  async close(): Promise<void> {
    await Promise.all(DISPATCH_CHANNELS.flatMap((c) => [this.events[c].close(), this.queues[c].close()]));
  }

  private async find(jobId: string): Promise<{ job: Job; channel: ContactType } | undefined> {
    for (const channel of DISPATCH_CHANNELS) {
      const job = await this.queues[channel].getJob(jobId);
      if (job) return { job, channel };
    }
    return undefined;
  }
}
