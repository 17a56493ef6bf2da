/**
 * The worker application: a processor per send queue (SMS, e-mail) and the
 * repair of pending dispatches (@nestjs/bullmq), and what they need.
 */
import { BullModule } from '@nestjs/bullmq';
import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { RedisClient as Redis } from '@lib/store';
import type { WorkerConfig } from '@lib/config';
import { DISPATCH_CHANNELS, DISPATCH_QUEUES, REPAIR_QUEUE } from '@lib/dispatch-contract';
import { TokenCrypto } from '@lib/domain';
import { EMAIL_SENDER, SMS_SENDER, createEmailSender, createSmsSender } from '@lib/notifications';
import { DeviceRepository, RedisKeys, createRedis } from '@lib/store';
import { queueTelemetry } from '@lib/tracing';
import { DISPATCH_PROCESSORS, dispatchProcessor, dispatchWorkerOptions, type DispatchProcessor } from './dispatch.processor';
import { timedEmailSender, timedSmsSender } from './observability/timed-senders';
import { workerObservability } from './observability/worker-observability';
import { WorkerMetrics } from './observability/worker-metrics';
import { RepairProcessor } from './repair.processor';
import { SendTokenHandler } from './send-token.handler';
import { APP_CONFIG, REDIS, STORE } from './worker.tokens';

/** The connections, the key layout and the configuration, for every module (BullModule's factory included). */
@Global()
@Module({})
class ConnectionsModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly queueRedis: Redis,
    @Inject(STORE) private readonly storeRedis: Redis,
  ) {}

  static forRoot(config: WorkerConfig): DynamicModule {
    const providers = [
      { provide: APP_CONFIG, useValue: config },
      // BullMQ's connection waits for Redis to come back; the store's fails
      // fast, so a dispatch hit by an outage errors and is retried. The
      // store's connection is its own: BullMQ's blocking reads on the other
      // must not hold up a job's store commands (see redis-connection.ts for
      // why no connection auto-pipelines).
      { provide: REDIS, useFactory: () => createRedis('worker', config.redis, 'device-2fa-worker') },
      { provide: STORE, useFactory: () => createRedis('command', config.redis, 'device-2fa-worker-store') },
      { provide: RedisKeys, useValue: new RedisKeys(config.redis.keyPrefix) },
    ];
    return { module: ConnectionsModule, providers, exports: providers.map((p) => p.provide) };
  }

  onApplicationShutdown(): void {
    // Runs after the processors closed their workers (providers shut down first).
    this.queueRedis.disconnect();
    this.storeRedis.disconnect();
  }
}

@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    const observability = workerObservability(config);
    // One processor per send queue, each with its provider's rate.
    const processors = DISPATCH_CHANNELS.map((channel) => dispatchProcessor(channel, dispatchWorkerOptions(config, channel)));
    // With tracing on, the send queues' jobs and their processing are traced (@nestjs/bullmq gives a queue's
    // telemetry to its processor's worker, whose process span continues the trace the job's options carry); the
    // repair's are not.
    const telemetry = queueTelemetry();
    return {
      module: WorkerModule,
      imports: [
        ConnectionsModule.forRoot(config),
        BullModule.forRootAsync({
          inject: [REDIS, RedisKeys],
          useFactory: (connection: Redis, keys: RedisKeys) => ({ connection, prefix: keys.queuePrefix }),
        }),
        BullModule.registerQueue(...DISPATCH_CHANNELS.map((channel) => ({ name: DISPATCH_QUEUES[channel], telemetry })), { name: REPAIR_QUEUE }),
        ...observability.imports,
      ],
      controllers: observability.controllers,
      providers: [
        ...observability.providers,
        { provide: TokenCrypto, useValue: new TokenCrypto(config.tokenHashSecret, config.tokenPolicy) },
        { provide: DeviceRepository, inject: [STORE, RedisKeys], useFactory: (r: Redis, k: RedisKeys) => new DeviceRepository(r, k) },
        {
          provide: SMS_SENDER,
          inject: [WorkerMetrics],
          useFactory: (m: WorkerMetrics) =>
            timedSmsSender(createSmsSender(config.sms, config.providerTimeoutMs, { statusCallbackUrl: config.twilioStatusCallbackUrl }), m),
        },
        {
          provide: EMAIL_SENDER,
          inject: [WorkerMetrics],
          useFactory: (m: WorkerMetrics) => timedEmailSender(createEmailSender(config.email, config.providerTimeoutMs), m),
        },
        SendTokenHandler,
        ...processors,
        { provide: DISPATCH_PROCESSORS, inject: processors, useFactory: (...all: DispatchProcessor[]) => all },
        RepairProcessor,
      ],
    };
  }
}
