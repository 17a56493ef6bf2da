/**
 * Logging, metrics endpoint and health-check machinery for one app. Each app
 * imports it once and adds its own metrics and health controller.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { loggerParams, type LoggingOptions } from './logging';
import { MetricsAuth } from './metrics-auth';
import { MetricsController } from './metrics.controller';
import { MetricsRegistry } from './metrics-registry';

export interface ObservabilityOptions extends LoggingOptions {
  /** When set, `/metrics` requires it as a bearer token. */
  metricsToken?: string;
}

@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityOptions): DynamicModule {
    return {
      module: ObservabilityModule,
      // Terminus logs a failed check at error level; a dependency outage is
      // not a defect, and the 503 answer already says what is down.
      imports: [LoggerModule.forRoot(loggerParams(options)), TerminusModule.forRoot({ logger: false })],
      controllers: [MetricsController],
      providers: [
        { provide: MetricsRegistry, useFactory: () => new MetricsRegistry() },
        { provide: MetricsAuth, useFactory: () => new MetricsAuth(options.metricsToken) },
      ],
      exports: [MetricsRegistry, TerminusModule],
    };
  }
}
