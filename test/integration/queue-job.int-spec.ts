/**
 * QueueJobWriter and BullMQ's add script run inside a script of ours, on a
 * real Redis, against BullMQ itself: the job it writes must be the job
 * `Queue.add` writes, and a BullMQ Worker must run and retry it as any other.
 * A BullMQ upgrade that changes the script's interface fails here.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Queue, Worker, type Job } from 'bullmq';
import { BULLMQ_ADD_STANDARD_JOB_LUA, LuaScript, QueueJobWriter } from '@lib/store';
import { DISPATCH_QUEUE, DispatchJobName, dispatchJobOptions, type SendTokenPayload } from '@lib/dispatch-contract';
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '../support/redis';

const ADD = new LuaScript('test-add-job', `${BULLMQ_ADD_STANDARD_JOB_LUA}\nreturn bullmq_add_standard_job(KEYS, ARGV)`);

describe('a BullMQ job written from a Lua script', () => {
  const prefix = uniquePrefix('queue-job');
  const options = dispatchJobOptions({ attempts: 3, backoffMs: 1000 });
  let redis: Redis;
  let viaAdd: Queue;
  let viaScript: Queue;
  let writer: QueueJobWriter<SendTokenPayload>;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    viaAdd = new Queue(DISPATCH_QUEUE, { connection: redis, prefix: `${prefix}:add` });
    viaScript = new Queue(DISPATCH_QUEUE, { connection: redis, prefix: `${prefix}:script` });
    writer = new QueueJobWriter(viaScript, DispatchJobName.sendToken, options);
  });

  afterAll(async () => {
    await Promise.all([viaAdd.close(), viaScript.close()]);
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  const payload = (): SendTokenPayload => ({ dispatchId: randomUUID(), requestId: randomUUID() });

  async function addViaScript(data: SendTokenPayload, timestampMs = Date.now()): Promise<string> {
    const job = writer.job(data.dispatchId, data, timestampMs);
    return String(await ADD.run(redis, job.keys, job.args));
  }

  it('is the job Queue.add writes: same hash, same wait list entry, same marker and event', async () => {
    const data = payload();
    await viaAdd.add(DispatchJobName.sendToken, data, { ...options, jobId: data.dispatchId });
    expect(await addViaScript(data)).toBe(data.dispatchId);

    const hash = async (q: Queue) => {
      const h = await redis.hgetall(q.toKey(data.dispatchId));
      return { ...h, timestamp: typeof h.timestamp, opts: JSON.parse(h.opts ?? 'null') as unknown };
    };
    const written = await hash(viaScript);
    expect(written.timestamp).toBe('string');
    expect(written).toEqual(await hash(viaAdd));
    expect(Object.keys(written).sort()).toEqual(['data', 'delay', 'name', 'opts', 'priority', 'timestamp']);

    for (const list of ['wait', 'paused', 'active', 'delayed', 'completed', 'prioritized']) {
      const [a, s] = await Promise.all([redis.lrange(viaAdd.keys[list], 0, -1).catch(() => redis.zrange(viaAdd.keys[list], 0, -1)), redis.lrange(viaScript.keys[list], 0, -1).catch(() => redis.zrange(viaScript.keys[list], 0, -1))]);
      expect({ list, jobs: s }).toEqual({ list, jobs: a });
    }
    expect(await redis.zrange(viaScript.keys.marker, 0, -1, 'WITHSCORES')).toEqual(await redis.zrange(viaAdd.keys.marker, 0, -1, 'WITHSCORES'));
    const events = async (q: Queue) => (await redis.xrange(q.keys.events, '-', '+')).map(([, fields]) => fields);
    expect(await events(viaScript)).toEqual(await events(viaAdd));
    expect((await events(viaScript)).map((fields) => fields[1])).toEqual(['added', 'waiting']);

    // What the dashboard and the worker read back.
    const job = await viaScript.getJob(data.dispatchId);
    expect(job).toMatchObject({ id: data.dispatchId, name: DispatchJobName.sendToken, data, attemptsMade: 0 });
    expect(job?.opts).toMatchObject({ attempts: 3, backoff: { type: 'exponential-jitter' }, removeOnComplete: options.removeOnComplete, removeOnFail: options.removeOnFail, jobId: data.dispatchId });
  });

  it('adds nothing twice: the same job id again is a no-op, as with Queue.add', async () => {
    const data = payload();
    expect(await addViaScript(data)).toBe(data.dispatchId);
    expect(await addViaScript({ ...data, requestId: 'another' })).toBe(data.dispatchId);
    expect((await viaScript.getJob(data.dispatchId))?.data.requestId).toBe(data.requestId);
    expect((await redis.lrange(viaScript.keys.wait, 0, -1)).filter((id) => id === data.dispatchId)).toHaveLength(1);
  });

  it('is run, retried with its backoff, and completed by a BullMQ Worker', async () => {
    await viaScript.obliterate({ force: true });
    const data = payload();
    const seen: { attemptsMade: number; data: SendTokenPayload }[] = [];
    const connection = redis.duplicate();
    const worker = new Worker<SendTokenPayload>(
      DISPATCH_QUEUE,
      async (job: Job<SendTokenPayload>) => {
        seen.push({ attemptsMade: job.attemptsMade, data: job.data });
        if (job.attemptsMade === 0) throw new Error('first attempt fails');
      },
      { connection, prefix: `${prefix}:script`, settings: { backoffStrategy: () => 20 } },
    );
    try {
      const completed = new Promise<Job>((resolve) => worker.on('completed', resolve));
      await addViaScript(data);
      const job = await completed;
      expect(job.id).toBe(data.dispatchId);
      expect(seen).toEqual([
        { attemptsMade: 0, data },
        { attemptsMade: 1, data },
      ]);
      expect(await viaScript.getJobState(data.dispatchId)).toBe('completed');
    } finally {
      await worker.close();
      connection.disconnect();
    }
  });
});
