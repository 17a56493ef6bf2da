/**
 * The worker's `GET /health/live` (the process answers) and `GET
 * /health/ready`: ready only while both Redis connections (BullMQ's and the
 * store's) answer a read of a key of the service's within the Redis command
 * timeout, and the BullMQ worker of each send queue is running and not
 * closing (a stopping worker is not ready). The read, not the client's status: in a Cluster the
 * client stays `ready` while the master of the service's slot is gone, and
 * the worker can take no job (see probeServiceSlot).
 */
import { Controller, Get, Inject, UseFilters } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { WorkerConfig } from '@lib/config';
import { HealthCheckFilter, probe } from '@lib/observability';
import { RedisKeys, probeServiceSlot, type RedisClient as Redis } from '@lib/store';
import { DISPATCH_PROCESSORS, type DispatchProcessor } from '../dispatch.processor';
import { APP_CONFIG, REDIS, STORE } from '../worker.tokens';

@Controller('health')
@UseFilters(HealthCheckFilter)
export class WorkerHealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS) private readonly queueRedis: Redis,
    @Inject(STORE) private readonly storeRedis: Redis,
    private readonly keys: RedisKeys,
    @Inject(DISPATCH_PROCESSORS) private readonly processors: readonly DispatchProcessor[],
    @Inject(APP_CONFIG) private readonly config: WorkerConfig,
  ) {}

  @Get('live')
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  ready() {
    const timeoutMs = this.config.redis.commandTimeoutMs;
    const reach = (name: string, redis: Redis) =>
      probeServiceSlot(redis, this.keys).catch((err: unknown) => {
        throw new Error(`${name} connection: ${err instanceof Error ? err.message : String(err)}`);
      });
    return this.health.check([
      () => probe(this.indicators, 'redis', () => Promise.all([reach('queue', this.queueRedis), reach('store', this.storeRedis)]), timeoutMs),
      () => probe(this.indicators, 'worker', () => this.processors.every((p) => p.consuming), timeoutMs),
    ]);
  }
}
