/**
 * Wraps each send-token job: its log lines (every `Logger` call made while it
 * runs) carry `requestId` and `dispatchId` as JSON fields, through a pino
 * child logger in nestjs-pino's async context; and its outcome is counted.
 */
import { Injectable } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { Store, storage } from 'nestjs-pino/storage';
import type { SendTokenPayload } from '@lib/dispatch-contract';
import { WorkerMetrics } from './worker-metrics';

@Injectable()
export class DispatchObserver {
  constructor(
    private readonly pino: PinoLogger,
    private readonly metrics: WorkerMetrics,
  ) {}

  /** Runs `work` with the job's log fields. */
  inContext<T>(job: Job<SendTokenPayload> | undefined, work: () => T): T {
    if (!job) return work();
    const root = PinoLogger.root ?? storage.exit(() => this.pino.logger);
    return storage.run(new Store(root.child({ requestId: job.data.requestId, dispatchId: job.data.dispatchId })), work);
  }

  /** Runs one attempt of the job in its log context and counts how it ended. */
  observe<R extends { outcome: 'sent' | 'skipped' }>(job: Job<SendTokenPayload>, attempt: () => Promise<R>): Promise<R> {
    const { channel } = job.data;
    return this.inContext(job, async () => {
      try {
        const result = await attempt();
        this.metrics.dispatchFinished(channel, result.outcome);
        return result;
      } catch (err) {
        const final = err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        this.metrics.dispatchFinished(channel, final ? 'failed' : 'retried');
        throw err;
      }
    });
  }
}
