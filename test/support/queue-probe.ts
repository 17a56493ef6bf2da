/**
 * The dispatch queue of a stack as an operator (or Bull Board) sees it: a
 * BullMQ Queue and QueueEvents on the stack's prefix, to count jobs, read
 * them, retry failed ones and wait for them to finish (events, not sleeps).
 */
import { Queue, QueueEvents, type Job } from 'bullmq';
import { RedisKeys } from '@lib/store';

export const DISPATCH_QUEUE_NAME = 'token-dispatch';

export class QueueProbe {
  readonly queue: Queue;
  readonly events: QueueEvents;

  constructor(redisUrl: string, prefix: string) {
    const u = new URL(redisUrl);
    const opts = { connection: { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null }, prefix: new RedisKeys(prefix).queuePrefix };
    this.queue = new Queue(DISPATCH_QUEUE_NAME, opts);
    this.events = new QueueEvents(DISPATCH_QUEUE_NAME, opts);
    // Many jobs are awaited at once, each listening on both.
    this.queue.setMaxListeners(0);
    this.events.setMaxListeners(0);
    this.queue.on('error', () => undefined);
    this.events.on('error', () => undefined);
  }

  async ready(): Promise<this> {
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
    return this;
  }

  counts() {
    return this.queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed', 'prioritized', 'waiting-children');
  }

  /** Waits until the job is completed or failed for good; how it ended. */
  async finished(jobId: string, timeoutMs = 30_000): Promise<'completed' | 'failed'> {
    const job = await this.queue.getJob(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    try {
      await job.waitUntilFinished(this.events, timeoutMs);
      return 'completed';
    } catch (err) {
      if (/timed out|timeout/i.test((err as Error).message)) throw err;
      return 'failed';
    }
  }

  job(jobId: string): Promise<Job | undefined> {
    return this.queue.getJob(jobId);
  }

  async close(): Promise<void> {
    await Promise.all([this.events.close(), this.queue.close()]);
  }
}
