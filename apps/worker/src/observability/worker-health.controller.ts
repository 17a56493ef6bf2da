/**
 * The worker's `GET /health/live` (the process answers) and `GET
 * /health/ready`: ready only while both Redis connections are ready and the
 * BullMQ worker is running and not closing (a stopping worker is not ready).
 */
import { Controller, Get, Inject, UseFilters } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { WorkerConfig } from '@lib/config';
import { HealthCheckFilter, probe } from '@lib/observability';
import type { RedisClient as Redis } from '@lib/store';
import { DISPATCH_PROCESSOR, type DispatchProcessor } from '../dispatch.processor';
import { APP_CONFIG, REDIS, STORE } from '../worker.tokens';

@Controller('health')
@UseFilters(HealthCheckFilter)
export class WorkerHealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS) private readonly queueRedis: Redis,
    @Inject(STORE) private readonly storeRedis: Redis,
    @Inject(DISPATCH_PROCESSOR) private readonly processor: DispatchProcessor,
    @Inject(APP_CONFIG) private readonly config: WorkerConfig,
  ) {}

  @Get('live')
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  ready() {
    const timeoutMs = this.config.redis.commandTimeoutMs;
    return this.health.check([
      () => probe(this.indicators, 'redis', () => this.queueRedis.status === 'ready' && this.storeRedis.status === 'ready', timeoutMs),
      () => probe(this.indicators, 'worker', () => this.processor.consuming, timeoutMs),
    ]);
  }
}
