/**
 * Runs the BullMQ worker for the dispatch queue. Started after the module is
 * ready and closed on shutdown (waiting for jobs in flight), never in a
 * constructor. Any number of these processes may share one Redis: BullMQ's
 * job locks give each job to one of them at a time.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { RedisClient as Redis } from '@lib/store';
import type { AppConfig } from '@lib/config';
import { BACKOFF_STRATEGY, DISPATCH_QUEUE, backoffDelay, type SendTokenPayload } from '@lib/dispatch-contract';
import { TransientSendError } from '@lib/notifications';
import { RedisKeys } from '@lib/store';
import { DispatchObserver } from './observability/dispatch-observer';
import { SendTokenHandler, type SendTokenResult } from './send-token.handler';
import { APP_CONFIG, REDIS } from './worker.tokens';

/** A provider's Retry-After is honoured, within reason. */
const MAX_RETRY_AFTER_MS = 60_000;

@Injectable()
export class DispatchProcessor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('DispatchProcessor');
  private worker?: Worker<SendTokenPayload, SendTokenResult>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly connection: Redis,
    private readonly keys: RedisKeys,
    private readonly handler: SendTokenHandler,
    private readonly observer: DispatchObserver,
  ) {}

  onApplicationBootstrap(): void {
    const baseMs = this.config.retry.backoffMs;
    this.worker = new Worker<SendTokenPayload, SendTokenResult>(DISPATCH_QUEUE, (job: Job<SendTokenPayload>) => this.observer.observe(job, (context) => this.handler.handle(job, context)), {
      connection: this.connection,
      prefix: this.keys.queuePrefix,
      concurrency: this.config.worker.concurrency,
      // A killed worker's jobs return to the queue once their lock expires and
      // a stalled-job check sees it (WORKER_LOCK_DURATION_MS, WORKER_STALLED_INTERVAL_MS).
      lockDuration: this.config.worker.lockDurationMs,
      stalledInterval: this.config.worker.stalledIntervalMs,
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string, err?: Error) => {
          if (type !== BACKOFF_STRATEGY) return -1;
          const delay = backoffDelay(attemptsMade, baseMs);
          const retryAfter = err instanceof TransientSendError ? err.retryAfterMs : undefined;
          return retryAfter ? Math.max(delay, Math.min(retryAfter, MAX_RETRY_AFTER_MS)) : delay;
        },
      },
    });
    this.worker.on('error', (err) => this.logger.warn(`queue connection: ${err.message}`));
    this.worker.on('failed', (job, err) =>
      this.observer.inContext(job, () => {
        // Final when the attempts are used up, or at once for a permanent failure.
        const final = job && (err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1));
        if (final) this.logger.warn(`dispatch ${job.id} failed for good: ${err.message}`);
      }),
    );
    this.logger.log(`consuming "${DISPATCH_QUEUE}" with concurrency ${this.config.worker.concurrency}`);
  }

  /**
   * Graceful stop (SIGTERM): take no new jobs and let those in flight finish,
   * for up to WORKER_SHUTDOWN_GRACE_MS. Past that the worker is closed
   * forcibly: unfinished jobs keep their lock until it expires, then BullMQ's
   * stalled-job check hands them to another worker, which re-sends the same
   * code (the token is derived from the dispatch id).
   */
  async onApplicationShutdown(signal?: string): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const grace = this.config.worker.shutdownGraceMs;
    this.logger.log(`stopping${signal ? ` on ${signal}` : ''}: finishing jobs in flight (grace ${grace} ms)`);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), grace);
    });
    const outcome = await Promise.race([worker.close().then(() => 'closed' as const), expired]);
    clearTimeout(timer);
    if (outcome === 'expired') {
      this.logger.warn(`grace period over: closing with jobs still in flight; they will be retried by another worker`);
      await worker.close(true);
    } else {
      this.logger.log('stopped: no job in flight');
    }
  }

  get bullWorker(): Worker | undefined {
    return this.worker;
  }
}
