/**
 * `GET /health/live`: the process answers. `GET /health/ready`: the store's
 * connection answers a read of a key of the service's and the send queues
 * can be read, each within the Redis command timeout; 503 otherwise. A key's
 * read rather than PING: in a Cluster PING goes to any node and answers while
 * the master of the service's slot is gone (see probeServiceSlot). Outside
 * the device API's authentication; answered in terminus' shape, not the
 * device API's error envelope.
 */
import { Controller, Get, Inject, UseFilters } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { ApiConfig } from '@lib/config';
import { HealthCheckFilter, probe } from '@lib/observability';
import { RedisKeys, probeServiceSlot, type RedisClient as Redis } from '@lib/store';
import { DispatchQueue } from '../infrastructure/dispatch-queue';
import { APP_CONFIG, REDIS } from '../infrastructure/tokens';

@Controller('health')
@UseFilters(HealthCheckFilter)
export class ApiHealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly queue: DispatchQueue,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Get('live')
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  ready() {
    const timeoutMs = this.config.redis.commandTimeoutMs;
    return this.health.check([
      () => probe(this.indicators, 'redis', () => probeServiceSlot(this.redis, this.keys), timeoutMs),
      () => probe(this.indicators, 'queue', () => Promise.all(this.queue.queues.map((q) => q.getJobCounts('waiting'))), timeoutMs),
    ]);
  }
}
