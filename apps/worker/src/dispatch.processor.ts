/**
 * The send queues' consumers (one per channel), through @nestjs/bullmq: a
 * `@Processor` WorkerHost per queue whose BullMQ Worker the module creates.
 * Any number of these processes may share one Redis: BullMQ's job locks give
 * each job to one of them at a time, and each queue's limiter holds its
 * provider's send rate across all of them.
 *
 * What the decorator's static options cannot say is taken from the
 * configuration by building the processor class from it (`dispatchProcessor`,
 * Nest's mixin pattern): the queue, concurrency, the lock and stalled-job
 * check, the provider's send rate, and the backoff that honours a provider's
 * Retry-After. A provider's refusal for its rate pauses that queue (BullMQ's
 * manual rate limit) and puts the job back without spending an attempt. The
 * worker starts consuming once the application is bootstrapped (`autorun:
 * false`, then `run()`), and stops gracefully, with a deadline, before
 * @nestjs/bullmq closes it.
 */
import { InjectQueue, OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap, type Type } from '@nestjs/common';
import { RateLimitError, UnrecoverableError, type Job, type Queue, type RateLimiterOptions, type WorkerOptions } from 'bullmq';
import type { WorkerConfig } from '@lib/config';
import { BACKOFF_STRATEGY, DISPATCH_QUEUES, backoffDelay, failsForGood, type SendTokenPayload } from '@lib/dispatch-contract';
import type { ContactType } from '@lib/domain';
import { TransientSendError } from '@lib/notifications';
import { DispatchObserver } from './observability/dispatch-observer';
import { ProviderPause, SendTokenHandler, type SendTokenResult } from './send-token.handler';
import { APP_CONFIG } from './worker.tokens';

/** A provider's Retry-After is honoured, within reason. */
const MAX_RETRY_AFTER_MS = 60_000;

/** BullMQ Worker options but the connection, which @nestjs/bullmq takes from the module. */
export type DispatchWorkerOptions = Omit<WorkerOptions, 'connection'>;

/** The processors, one per channel, as the health check sees them (the classes themselves are built from the configuration). */
export const DISPATCH_PROCESSORS = Symbol('DispatchProcessors');
export type DispatchProcessor = WorkerHost & { readonly channel: ContactType; readonly consuming: boolean };

/** "No limit of ours": a limit no provider's rate comes near (BullMQ obeys a manual rate limit only on a queue with a limiter). */
const UNLIMITED = 1_000_000_000;

/** BullMQ's limiter for a rate in sends per second: `max` sends per `duration` ms (2.5/s: one every 400 ms). */
export function limiterFor(sendsPerSecond: number): RateLimiterOptions {
  if (sendsPerSecond <= 0) return { max: UNLIMITED, duration: 1000 };
  if (Number.isInteger(sendsPerSecond)) return { max: sendsPerSecond, duration: 1000 };
  return { max: 1, duration: Math.round(1000 / sendsPerSecond) };
}

/**
 * The BullMQ Worker options of a channel's queue from the configuration.
 * BullMQ's own exponential backoff with jitter computes the same delays, but
 * cannot honour a provider's Retry-After; this strategy does both.
 */
export function dispatchWorkerOptions(config: Pick<WorkerConfig, 'worker' | 'retry' | 'sendRates'>, channel: ContactType): DispatchWorkerOptions {
  const baseMs = config.retry.backoffMs;
  return {
    autorun: false,
    concurrency: config.worker.concurrency,
    // The provider's send rate, across every worker of the queue.
    limiter: limiterFor(config.sendRates[channel]),
    // A killed worker's jobs return to the queue once their lock expires and
    // a stalled-job check sees it (WORKER_LOCK_DURATION_MS, WORKER_STALLED_INTERVAL_MS).
    lockDuration: config.worker.lockDurationMs,
    stalledInterval: config.worker.stalledIntervalMs,
    settings: {
      backoffStrategy: (attemptsMade: number, type?: string, err?: Error) => {
        if (type !== BACKOFF_STRATEGY) return -1;
        const delay = backoffDelay(attemptsMade, baseMs);
        const retryAfter = err instanceof TransientSendError ? err.retryAfterMs : undefined;
        return retryAfter ? Math.max(delay, Math.min(retryAfter, MAX_RETRY_AFTER_MS)) : delay;
      },
    },
  };
}

export function dispatchProcessor(channel: ContactType, options: DispatchWorkerOptions): Type<DispatchProcessor> {
  const queueName = DISPATCH_QUEUES[channel];

  @Processor(queueName, options)
  class Consumer extends WorkerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
    readonly channel = channel;
    private readonly logger = new Logger(`DispatchProcessor ${channel}`);
    private running = false;

    constructor(
      @Inject(APP_CONFIG) private readonly config: WorkerConfig,
      private readonly handler: SendTokenHandler,
      private readonly observer: DispatchObserver,
      @InjectQueue(queueName) private readonly queue: Queue<SendTokenPayload>,
    ) {
      super();
    }

    process(job: Job<SendTokenPayload>): Promise<SendTokenResult> {
      return this.observer.observe(job, async (context) => {
        try {
          return await this.handler.handle(job, channel, context);
        } catch (err) {
          if (!(err instanceof ProviderPause)) throw err;
          // Every worker of this queue stops taking its jobs for the pause; this one goes back to wait, its attempt not spent.
          await this.queue.rateLimit(err.pauseMs);
          throw new RateLimitError();
        }
      });
    }

    /** Whether the worker consumes: started, and neither stopping nor stopped. */
    get consuming(): boolean {
      return this.running && this.worker.isRunning() && !this.worker.closing;
    }

    onApplicationBootstrap(): void {
      this.running = true;
      this.worker.run().catch((err: Error) => this.logger.error(`worker stopped: ${err.message}`));
      const { max, duration } = options.limiter!;
      const rate = this.config.sendRates[channel] > 0 ? `, at most ${max} sends per ${duration} ms` : '';
      this.logger.log(`consuming "${queueName}" with concurrency ${this.config.worker.concurrency}${rate}`);
    }

    @OnWorkerEvent('error')
    onError(err: Error): void {
      this.logger.warn(`queue connection: ${err.message}`);
    }

    @OnWorkerEvent('failed')
    onFailed(job: Job<SendTokenPayload> | undefined, err: Error): void {
      if (!job) return;
      this.observer.inContext(job, () => {
        // In the 'failed' event the failed attempt is already counted in attemptsMade.
        if (failsForGood(job.attemptsMade, job.opts.attempts, err instanceof UnrecoverableError)) {
          this.logger.warn(`dispatch ${job.id} failed for good: ${err.message}`);
        }
      });
    }

    /**
     * Graceful stop (SIGTERM): take no new jobs and let those in flight finish
     * (BullMQ's `pause`, which waits for them), for up to
     * WORKER_SHUTDOWN_GRACE_MS, then close. Past the grace the worker is closed
     * forcibly, without waiting (`close(true)`: a close already begun would
     * wait for the jobs, so the first close is the forced one): unfinished
     * jobs keep their lock until it expires, then BullMQ's stalled-job check
     * hands them to another worker, which re-sends the same code (it is
     * derived from the dispatch). @nestjs/bullmq's own close, which follows,
     * finds the worker closed.
     */
    async beforeApplicationShutdown(signal?: string): Promise<void> {
      if (!this.running) return;
      const grace = this.config.worker.shutdownGraceMs;
      this.logger.log(`stopping${signal ? ` on ${signal}` : ''}: finishing jobs in flight (grace ${grace} ms)`);
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), grace);
      });
      const outcome = await Promise.race([this.worker.pause().then(() => 'drained' as const), expired]);
      clearTimeout(timer);
      if (outcome === 'expired') {
        this.logger.warn('grace period over: closing with jobs still in flight; they will be retried by another worker');
        await this.worker.close(true);
      } else {
        await this.worker.close();
        this.logger.log('stopped: no job in flight');
      }
    }
  }
  return Consumer;
}
