/**
 * Runs the BullMQ worker for the dispatch queue. Started after the module is
 * ready and closed on shutdown (waiting for jobs in flight), never in a
 * constructor. Any number of these processes may share one Redis: BullMQ's
 * job locks give each job to one of them at a time.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import type { RedisClient as Redis } from '@lib/store';
import type { AppConfig } from '@lib/config';
import { BACKOFF_STRATEGY, DISPATCH_QUEUE, backoffDelay, type SendTokenPayload } from '@lib/dispatch-contract';
import { TransientSendError } from '@lib/notifications';
import { RedisKeys } from '@lib/store';
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
  ) {}

  onApplicationBootstrap(): void {
    const baseMs = this.config.retry.backoffMs;
    this.worker = new Worker<SendTokenPayload, SendTokenResult>(DISPATCH_QUEUE, (job: Job<SendTokenPayload>) => this.handler.handle(job), {
      connection: this.connection,
      prefix: this.keys.queuePrefix,
      concurrency: this.config.worker.concurrency,
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
    this.worker.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) this.logger.warn(`dispatch ${job.id} failed for good: ${err.message}`);
    });
    this.logger.log(`consuming "${DISPATCH_QUEUE}" with concurrency ${this.config.worker.concurrency}`);
  }

  /** Finishes the jobs in flight, takes no new ones. */
  async onApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }

  get bullWorker(): Worker | undefined {
    return this.worker;
  }
}
