/**
 * Wraps each send-token job: its log lines (every `Logger` call made while it
 * runs) carry `requestId` and `dispatchId` as JSON fields, through
 * nestjs-pino's logging context for work outside a request
 * (`PinoLogger.runInContext`); and its outcome is counted.
 */
import { Injectable } from '@nestjs/common';
import { RateLimitError, UnrecoverableError, type Job } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { currentAttempt, failsForGood, type SendTokenPayload } from '@lib/dispatch-contract';
import { RefusedJobError, type SendContext } from '../send-token.handler';
import { WorkerMetrics } from './worker-metrics';

@Injectable()
export class DispatchObserver {
  constructor(
    private readonly pino: PinoLogger,
    private readonly metrics: WorkerMetrics,
  ) {}

  /** Runs `work` with the job's log fields (its id is the dispatch id; the request id is whatever the data says, for correlation only). */
  inContext<T>(job: Job<SendTokenPayload> | undefined, work: () => T): T {
    if (!job) return work();
    const requestId = typeof job.data?.requestId === 'string' ? job.data.requestId.slice(0, 64) : undefined;
    return this.pino.runInContext(work, { bindings: { requestId, dispatchId: job.id } });
  }

  /** Runs one attempt of the job in its log context and counts how it ended, by the channel the store gave it. */
  observe<R extends { outcome: 'sent' | 'skipped' }>(job: Job<SendTokenPayload>, attempt: (context: SendContext) => Promise<R>): Promise<R> {
    const context: SendContext = {};
    return this.inContext(job, async () => {
      try {
        const result = await attempt(context);
        this.metrics.dispatchFinished(context.channel, result.outcome);
        const { channel, requestedAtMs, handedOffAtMs } = context;
        if (result.outcome === 'sent' && channel && requestedAtMs !== undefined && handedOffAtMs !== undefined) {
          this.metrics.handedOff(channel, (handedOffAtMs - requestedAtMs) / 1000);
        }
        return result;
      } catch (err) {
        const final = failsForGood(currentAttempt(job), job.opts.attempts, err instanceof UnrecoverableError);
        const outcome = err instanceof RateLimitError ? 'rate_limited' : err instanceof RefusedJobError ? 'refused' : final ? 'failed' : 'retried';
        this.metrics.dispatchFinished(context.channel, outcome);
        throw err;
      }
    });
  }
}
