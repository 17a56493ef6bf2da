/**
 * The api's DispatchQueue on real BullMQ queues: the send jobs of one turn of
 * the event loop reach Redis in one `addBulk`, each with the options a lone
 * add gives it, and a turn's only job with `add`; adding a job again is
 * harmless; a Redis failure rejects each caller as an infrastructure fault.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { DispatchQueue } from '../../apps/api/src/infrastructure/dispatch-queue';
import { loadConfig } from '@lib/config';
import { DISPATCH_QUEUES, sendTokenJob, type SendTokenPayload } from '@lib/dispatch-contract';
import { InfrastructureError } from '@lib/domain';
import { DedicatedRedis } from '../support/dedicated-redis';
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '../support/redis';

describe('DispatchQueue on BullMQ', () => {
  const prefix = uniquePrefix('dispatch-queue');
  const config = loadConfig(
    { NODE_ENV: 'test', TOKEN_HASH_SECRET: 'dispatch-queue-test-secret-0123456789', ADMIN_TOKEN: 'dispatch-queue-test-admin-token-0123456789' },
    'api',
  );
  let redis: Redis;
  let sms: Queue<SendTokenPayload>;
  let email: Queue<SendTokenPayload>;
  let queue: DispatchQueue;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    sms = new Queue(DISPATCH_QUEUES.sms, { connection: redis, prefix });
    email = new Queue(DISPATCH_QUEUES.email, { connection: redis, prefix });
    queue = new DispatchQueue(sms, email, config);
  });

  afterAll(async () => {
    await sms.close();
    await email.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  const payload = (): SendTokenPayload => ({ dispatchId: randomUUID(), requestId: randomUUID() });

  it('adds the jobs of one turn with one addBulk per channel, each as a lone add would', async () => {
    const bulk = jest.spyOn(sms, 'addBulk');
    const payloads = Array.from({ length: 12 }, payload);

    await Promise.all([...payloads.map((p) => queue.add(p, 'sms')), queue.add(payload(), 'email')]);

    expect(bulk).toHaveBeenCalledTimes(1);
    bulk.mockRestore();
    const expected = sendTokenJob(payloads[0], config.retry, config.lifetimes);
    for (const p of payloads) {
      const job = await sms.getJob(p.dispatchId);
      expect(job?.data).toEqual(p);
      expect(job?.opts).toMatchObject({ attempts: expected.opts.attempts, backoff: expected.opts.backoff });
    }
    expect(await email.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  it("adds a turn's only job with add, with the same options", async () => {
    const bulk = jest.spyOn(sms, 'addBulk');
    const add = jest.spyOn(sms, 'add');
    const p = payload();

    await queue.add(p, 'sms');

    expect(bulk).not.toHaveBeenCalled();
    expect(add).toHaveBeenCalledTimes(1);
    bulk.mockRestore();
    add.mockRestore();
    const expected = sendTokenJob(p, config.retry, config.lifetimes);
    const job = await sms.getJob(p.dispatchId);
    expect(job?.data).toEqual(p);
    expect(job?.opts).toMatchObject({ attempts: expected.opts.attempts, backoff: expected.opts.backoff });
  });

  it('keeps the first job when a dispatch is added again', async () => {
    const p = payload();
    await queue.add(p, 'sms');
    await Promise.all([queue.add(p, 'sms'), queue.add(p, 'sms')]);

    expect((await sms.getJobs(['waiting'])).filter((j) => j.id === p.dispatchId)).toHaveLength(1);
  });

  it('rejects every caller of a batch Redis refused, as an infrastructure fault', async () => {
    const server = await DedicatedRedis.create();
    await server.start();
    const connection = new Redis(server.url, { maxRetriesPerRequest: null });
    const full = new Queue<SendTokenPayload>(DISPATCH_QUEUES.sms, { connection, prefix });
    try {
      await full.waitUntilReady();
      // Out of memory and allowed to evict nothing: Redis refuses every write.
      await connection.config('SET', 'maxmemory', '1');
      await connection.config('SET', 'maxmemory-policy', 'noeviction');
      const failing = new DispatchQueue(full, full, config);

      const settled = await Promise.allSettled([failing.add(payload(), 'sms'), failing.add(payload(), 'sms')]);

      expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
      for (const s of settled) {
        const reason = (s as PromiseRejectedResult).reason as InfrastructureError;
        expect(reason).toBeInstanceOf(InfrastructureError);
        expect(String(reason.cause)).toMatch(/OOM/);
      }
      await connection.config('SET', 'maxmemory', '0');
      expect(await full.count()).toBe(0);
    } finally {
      await full.close();
      connection.disconnect();
      await server.stop();
    }
  });
});
