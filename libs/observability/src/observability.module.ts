/**
 * Logging, metrics endpoint and health-check machinery for one app, and the
 * flush of its traces on shutdown. Each app imports it once and adds its own
 * metrics and health controller.
 */
import { Inject, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleDestroy } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { stopTracing } from '@lib/tracing';
import { createAppLogger, loggerParams, type AppLogger, type LoggingOptions } from './logging';
import { MetricsAuth } from './metrics-auth';
import { MetricsController } from './metrics.controller';
import { MetricsRegistry } from './metrics-registry';

/** Injection token of the app's AppLogger (pino logger and its buffer). */
export const APP_LOGGER = Symbol('APP_LOGGER');

export interface ObservabilityOptions extends LoggingOptions {
  /** When set, `/metrics` requires it as a bearer token. */
  metricsToken?: string;
}

@Module({})
export class ObservabilityModule implements OnModuleDestroy, OnApplicationShutdown {
  constructor(@Inject(APP_LOGGER) private readonly appLogger: AppLogger) {}

  static forRoot(options: ObservabilityOptions): DynamicModule {
    const appLogger = createAppLogger({ service: options.service, level: options.level, format: options.format });
    return {
      module: ObservabilityModule,
      // Terminus logs a failed check at error level; a dependency outage is
      // not a defect, and the 503 answer already says what is down.
      imports: [LoggerModule.forRoot(loggerParams(appLogger.logger)), TerminusModule.forRoot({ logger: false })],
      controllers: [MetricsController],
      providers: [
        { provide: APP_LOGGER, useValue: appLogger },
        { provide: MetricsRegistry, useFactory: () => new MetricsRegistry() },
        { provide: MetricsAuth, useFactory: () => new MetricsAuth(options.metricsToken) },
      ],
      exports: [APP_LOGGER, MetricsRegistry, TerminusModule],
    };
  }

  /**
   * The first step of a shutdown: from here on log lines are written at once,
   * so a graceful stop's lines are out before Nest re-raises the signal.
   */
  onModuleDestroy(): void {
    this.appLogger.writeThrough();
  }

  /** The last step: the spans still buffered are exported (when tracing is on, libs/tracing). */
  async onApplicationShutdown(): Promise<void> {
    await stopTracing();
  }
}
