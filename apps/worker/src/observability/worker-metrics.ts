/**
 * The worker's Prometheus metrics: dispatch outcomes (retries among them),
 * the time from a send request to its hand-off to the provider (what the
 * approver waits for), provider request durations, and the send queues'
 * depth (exported here only: it is shared state, the same from every worker,
 * so dashboards take `max`, not `sum`). Labels are bounded sets (channel,
 * provider, outcome, state): never an id, a phone number or an address.
 */
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Counter, Histogram } from 'prom-client';
import type { WorkerConfig } from '@lib/config';
import { DISPATCH_CHANNELS, DISPATCH_QUEUES } from '@lib/dispatch-contract';
import type { ContactType } from '@lib/domain';
import { PermanentSendError, TransientSendError } from '@lib/notifications';
import { METRIC_PREFIX, MetricsRegistry, registerQueueDepthGauge } from '@lib/observability';
import { RedisKeys, type RedisClient as Redis } from '@lib/store';
import { APP_CONFIG, STORE } from '../worker.tokens';

export type DispatchOutcome = 'sent' | 'skipped' | 'retried' | 'rate_limited' | 'failed' | 'refused';
const OUTCOMES: DispatchOutcome[] = ['sent', 'skipped', 'retried', 'rate_limited', 'failed', 'refused'];
/** `none`: the job ended before the store named its channel (refused, skipped, or a store failure). */
const CHANNELS: (ContactType | 'none')[] = ['sms', 'email', 'none'];

@Injectable()
export class WorkerMetrics implements OnModuleInit, OnApplicationShutdown {
  private readonly dispatches: Counter<'channel' | 'outcome'>;
  private readonly handoff: Histogram<'channel'>;
  private readonly providerDuration: Histogram<'provider' | 'channel' | 'outcome'>;
  private queues: Queue[] = [];

  constructor(
    private readonly registry: MetricsRegistry,
    @Inject(STORE) private readonly store: Redis,
    private readonly keys: RedisKeys,
    @Inject(APP_CONFIG) private readonly config: WorkerConfig,
  ) {
    const registers = [registry];
    this.dispatches = new Counter({
      name: `${METRIC_PREFIX}dispatches_total`,
      help: 'Send-token job attempts by channel and outcome: sent, skipped (superseded or no longer pending), retried (will run again), rate_limited (the provider refused it for its rate: its queue paused, the job waits without spending an attempt), failed (for good), refused (job data edited or forged).',
      labelNames: ['channel', 'outcome'] as const,
      registers,
    });
    this.handoff = new Histogram({
      name: `${METRIC_PREFIX}dispatch_handoff_seconds`,
      help: 'Time from a send request (its 202) to the provider accepting the message, by channel: what the approver waits for, queueing and retries included.',
      labelNames: ['channel'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.providerDuration = new Histogram({
      name: `${METRIC_PREFIX}provider_request_duration_seconds`,
      help: 'Time the SMS or e-mail provider took to accept or refuse a message, by provider, channel and outcome.',
      labelNames: ['provider', 'channel', 'outcome'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    for (const channel of CHANNELS) {
      for (const outcome of OUTCOMES) this.dispatches.inc({ channel, outcome }, 0);
    }
  }

  onModuleInit(): void {
    // Reads through the store's fail-fast connection: a scrape during an
    // outage answers at once, without the queue depth.
    this.queues = DISPATCH_CHANNELS.map((channel) => new Queue(DISPATCH_QUEUES[channel], { connection: this.store, prefix: this.keys.queuePrefix }));
    for (const queue of this.queues) queue.on('error', () => undefined);
    registerQueueDepthGauge(this.registry, this.queues, this.config.redis.commandTimeoutMs);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.close()));
  }

  dispatchFinished(channel: ContactType | undefined, outcome: DispatchOutcome): void {
    this.dispatches.inc({ channel: channel ?? 'none', outcome });
  }

  /** A message the provider accepted `seconds` after its send was requested. */
  handedOff(channel: ContactType, seconds: number): void {
    this.handoff.observe({ channel }, Math.max(0, seconds));
  }

  /** Runs one provider request, timing it by how it ended. */
  async timeProviderRequest<T>(provider: string, channel: ContactType, request: () => Promise<T>): Promise<T> {
    const end = this.providerDuration.startTimer({ provider, channel });
    try {
      const result = await request();
      end({ outcome: 'accepted' });
      return result;
    } catch (err) {
      end({ outcome: err instanceof PermanentSendError ? 'permanent_error' : err instanceof TransientSendError ? 'transient_error' : 'unexpected_error' });
      throw err;
    }
  }
}
