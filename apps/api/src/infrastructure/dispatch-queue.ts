/**
 * The API's side of the dispatch queue. A send job is not added by a call of
 * its own: DispatchQueue builds it (`job`), and the store's request-dispatch
 * script adds it in the same atomic step that checks the send rules and
 * records the dispatch (libs/store, queue-job.ts). The BullMQ Queue is kept
 * for what reads the queue: the dashboard, the health check, the depth gauge.
 */
import { Queue } from 'bullmq';
import { QueueJobWriter, type QueueJobInsert, type RedisClient as Redis } from '@lib/store';
import { DISPATCH_QUEUE, DispatchJobName, dispatchJobOptions, type DispatchRetryPolicy, type SendTokenPayload } from '@lib/dispatch-contract';
import type { RedisKeys } from '@lib/store';

export class DispatchQueue {
  private readonly queue: Queue<SendTokenPayload, void, typeof DispatchJobName.sendToken>;
  private readonly jobs: QueueJobWriter<SendTokenPayload>;

  constructor(connection: Redis, keys: RedisKeys, retry: DispatchRetryPolicy) {
    this.queue = new Queue(DISPATCH_QUEUE, { connection, prefix: keys.queuePrefix });
    this.queue.on('error', () => undefined);
    this.jobs = new QueueJobWriter(this.queue, DispatchJobName.sendToken, dispatchJobOptions(retry));
  }

  /** The send job of one dispatch; its id is the dispatch id, so a dispatch never has two jobs. */
  job(payload: SendTokenPayload, nowMs: number): QueueJobInsert {
    return this.jobs.job(payload.dispatchId, payload, nowMs);
  }

  get bullQueue(): Queue {
    return this.queue;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
