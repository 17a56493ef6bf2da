/**
 * One Prometheus registry per process, with Node's default process metrics.
 * Application metrics are named `device2fa_*`; the default ones keep their
 * standard names so stock dashboards work.
 */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { withTimeout } from './timeout';

export const METRIC_PREFIX = 'device2fa_';

export class MetricsRegistry extends Registry {
  constructor() {
    super();
    collectDefaultMetrics({ register: this });
  }
}

/** Queue states reported by the queue depth gauge. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

export interface CountableQueue {
  readonly name: string;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}

/**
 * `device2fa_queue_jobs{queue,state}` for each queue, read from Redis when
 * scraped. A queue whose Redis does not answer in time has no samples
 * (rather than stale ones); the readiness endpoint says why.
 */
export function registerQueueDepthGauge(registry: Registry, queues: readonly CountableQueue[], timeoutMs: number): Gauge<'queue' | 'state'> {
  return new Gauge({
    name: `${METRIC_PREFIX}queue_jobs`,
    help: 'Jobs in each send queue by state, read from Redis at scrape time.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const read = await Promise.allSettled(queues.map((queue) => withTimeout(queue.getJobCounts(...QUEUE_STATES), timeoutMs, 'queue job counts')));
      read.forEach((result, i) => {
        if (result.status !== 'fulfilled') return;
        for (const state of QUEUE_STATES) this.set({ queue: queues[i].name, state }, result.value[state] ?? 0);
      });
    },
  });
}
