/**
 * The API's side of the dispatch queue: adds one send-token job per dispatch.
 * The job id is the dispatch id, so adding the same dispatch twice (a retry of
 * a coalesced request) is a no-op in BullMQ instead of a second send.
 */
import { Queue } from 'bullmq';
import type { RedisClient as Redis } from '@lib/store';
import { InfrastructureError } from '@lib/domain';
import { DISPATCH_QUEUE, DispatchJobName, dispatchJobOptions, type DispatchRetryPolicy, type SendTokenPayload } from '@lib/dispatch-contract';
import type { RedisKeys } from '@lib/store';

export class DispatchQueue {
  private readonly queue: Queue<SendTokenPayload, void, typeof DispatchJobName.sendToken>;

  constructor(
    connection: Redis,
    keys: RedisKeys,
    private readonly retry: DispatchRetryPolicy,
  ) {
    // The shared connection has no offline queue: if Redis is down, add()
    // fails at once instead of buffering the job in this process's memory.
    this.queue = new Queue(DISPATCH_QUEUE, { connection, prefix: keys.queuePrefix });
    this.queue.on('error', () => undefined);
  }

  async enqueue(payload: SendTokenPayload): Promise<void> {
    try {
      await this.queue.add(DispatchJobName.sendToken, payload, dispatchJobOptions(this.retry, payload.dispatchId));
    } catch (err) {
      throw new InfrastructureError('queue', { cause: err });
    }
  }

  get bullQueue(): Queue {
    return this.queue;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
