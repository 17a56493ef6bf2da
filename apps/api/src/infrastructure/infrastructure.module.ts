/**
 * Wires configuration, the Redis connections, repositories and the dispatch
 * queue. Three connections: the repositories' (the request path), the BullMQ
 * Queue's (the dashboard's, health check's and depth gauge's reads, which
 * should not wait behind requests) and the client cache's change listener.
 * They are opened here and closed on shutdown.
 */
import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { RedisClient as Redis } from '@lib/store';
import { TokenCrypto } from '@lib/domain';
import type { AppConfig } from '@lib/config';
import { ClientCache, DeviceRepository, DirectoryRepository, RedisKeys, ReplayGuard, createRedis } from '@lib/store';
import { DispatchQueue } from './dispatch-queue';
import { APP_CONFIG, QUEUE_REDIS, REDIS, SUBSCRIBER_REDIS } from './tokens';

@Global()
@Module({})
export class InfrastructureModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(QUEUE_REDIS) private readonly queueRedis: Redis,
    @Inject(SUBSCRIBER_REDIS) private readonly subscriberRedis: Redis,
    private readonly queue: DispatchQueue,
  ) {}

  static forRoot(config: AppConfig) {
    return {
      module: InfrastructureModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: REDIS, useFactory: () => createRedis('command', config.redis, 'device-2fa-api') },
        { provide: QUEUE_REDIS, useFactory: () => createRedis('command', config.redis, 'device-2fa-api-queue') },
        { provide: SUBSCRIBER_REDIS, useFactory: () => createRedis('subscriber', config.redis, 'device-2fa-api-changes') },
        { provide: RedisKeys, useValue: new RedisKeys(config.redis.keyPrefix) },
        { provide: TokenCrypto, useValue: new TokenCrypto(config.tokenHashSecret, config.tokenPolicy) },
        { provide: DirectoryRepository, inject: [REDIS, RedisKeys], useFactory: (r: Redis, k: RedisKeys) => new DirectoryRepository(r, k) },
        { provide: DeviceRepository, inject: [REDIS, RedisKeys], useFactory: (r: Redis, k: RedisKeys) => new DeviceRepository(r, k) },
        {
          provide: ClientCache,
          inject: [DirectoryRepository, SUBSCRIBER_REDIS, RedisKeys],
          useFactory: (d: DirectoryRepository, r: Redis, k: RedisKeys) => {
            const cache = new ClientCache(d, r, k);
            cache.start();
            return cache;
          },
        },
        { provide: ReplayGuard, inject: [REDIS, RedisKeys], useFactory: (r: Redis, k: RedisKeys) => new ReplayGuard(r, k) },
        { provide: DispatchQueue, inject: [QUEUE_REDIS, RedisKeys, APP_CONFIG], useFactory: (r: Redis, k: RedisKeys, c: AppConfig) => new DispatchQueue(r, k, c.retry) },
      ],
      exports: [APP_CONFIG, REDIS, QUEUE_REDIS, RedisKeys, TokenCrypto, DirectoryRepository, ClientCache, DeviceRepository, ReplayGuard, DispatchQueue],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close();
    this.queueRedis.disconnect();
    this.subscriberRedis.disconnect();
    this.redis.disconnect();
  }
}
