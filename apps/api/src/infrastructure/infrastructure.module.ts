/**
 * Wires configuration, the Redis connections, repositories and the dispatch
 * queue. Three connections: the repositories' (the request path), the BullMQ
 * Queue's (adding send jobs; the dashboard's, health check's and depth
 * gauge's reads, which should not wait behind the store's scripts) and the
 * client cache's change listener. The queue itself is @nestjs/bullmq's,
 * registered on the Queue connection; the connections are closed on shutdown.
 */
import { BullModule } from '@nestjs/bullmq';
import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { RedisClient as Redis } from '@lib/store';
import { TokenCrypto } from '@lib/domain';
import type { ApiConfig } from '@lib/config';
import { DISPATCH_CHANNELS, DISPATCH_QUEUES } from '@lib/dispatch-contract';
import { queueTelemetry } from '@lib/tracing';
import { ClientCache, DeviceRepository, DirectoryRepository, RedisKeys, ReplayGuard, ReplicaAck, createRedis } from '@lib/store';
import { DispatchQueue } from './dispatch-queue';
import { WriteAcknowledgement } from './write-ack';
import { APP_CONFIG, QUEUE_REDIS, REDIS, SUBSCRIBER_REDIS } from './tokens';

/** The connections, the key layout and the configuration, for every module (BullModule's factory included). */
@Global()
@Module({})
class ConnectionsModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(QUEUE_REDIS) private readonly queueRedis: Redis,
    @Inject(SUBSCRIBER_REDIS) private readonly subscriberRedis: Redis,
  ) {}

  static forRoot(config: ApiConfig): DynamicModule {
    const providers = [
      { provide: APP_CONFIG, useValue: config },
      { provide: REDIS, useFactory: () => createRedis('command', config.redis, 'device-2fa-api') },
      { provide: QUEUE_REDIS, useFactory: () => createRedis('command', config.redis, 'device-2fa-api-queue') },
      { provide: SUBSCRIBER_REDIS, useFactory: () => createRedis('subscriber', config.redis, 'device-2fa-api-changes') },
      { provide: RedisKeys, useValue: new RedisKeys(config.redis.keyPrefix) },
    ];
    return { module: ConnectionsModule, providers, exports: providers.map((p) => p.provide) };
  }

  onApplicationShutdown(): void {
    this.queueRedis.disconnect();
    this.subscriberRedis.disconnect();
    this.redis.disconnect();
  }
}

@Global()
@Module({})
export class InfrastructureModule implements OnModuleInit {
  constructor(private readonly clients: ClientCache) {}

  /** The client cache listens for changes from start-up on (before the api listens). */
  onModuleInit(): void {
    this.clients.start();
  }

  static forRoot(config: ApiConfig): DynamicModule {
    return {
      module: InfrastructureModule,
      imports: [
        ConnectionsModule.forRoot(config),
        BullModule.forRootAsync({
          inject: [QUEUE_REDIS, RedisKeys],
          useFactory: (connection: Redis, keys: RedisKeys) => ({ connection, prefix: keys.queuePrefix }),
        }),
        // With tracing on, adding a job records its span and puts the trace context in the job's options.
        BullModule.registerQueue(...DISPATCH_CHANNELS.map((channel) => ({ name: DISPATCH_QUEUES[channel], telemetry: queueTelemetry() }))),
      ],
      providers: [
        { provide: TokenCrypto, useValue: new TokenCrypto(config.tokenHashSecret, config.tokenPolicy) },
        { provide: DirectoryRepository, inject: [REDIS, RedisKeys], useFactory: (r: Redis, k: RedisKeys) => new DirectoryRepository(r, k) },
        { provide: DeviceRepository, inject: [REDIS, RedisKeys], useFactory: (r: Redis, k: RedisKeys) => new DeviceRepository(r, k) },
        {
          provide: ClientCache,
          inject: [DirectoryRepository, SUBSCRIBER_REDIS, RedisKeys],
          useFactory: (d: DirectoryRepository, r: Redis, k: RedisKeys) => new ClientCache(d, r, k),
        },
        { provide: ReplayGuard, inject: [REDIS, RedisKeys], useFactory: (r: Redis, k: RedisKeys) => new ReplayGuard(r, k) },
        { provide: ReplicaAck, inject: [RedisKeys], useFactory: (k: RedisKeys) => new ReplicaAck(config.replicaAck, k.pendingDispatches) },
        DispatchQueue,
        WriteAcknowledgement,
      ],
      exports: [BullModule, TokenCrypto, DirectoryRepository, ClientCache, DeviceRepository, ReplayGuard, DispatchQueue, WriteAcknowledgement],
    };
  }
}
