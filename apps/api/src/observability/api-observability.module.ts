/**
 * The api's logs, metrics and health endpoints. Its request ids are Fastify's
 * (see fastify-setup), so the access line (bootstrap.ts), the app's lines and
 * the queued job all carry the same `requestId`.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import type { ApiConfig } from '@lib/config';
import { ObservabilityModule } from '@lib/observability';
import { ApiHealthController } from './api-health.controller';
import { ApiMetrics } from './api-metrics';
import { HttpMetricsHook } from './http-metrics.hook';
import { ValidationMetricsInterceptor } from './validation-metrics.interceptor';

@Module({})
export class ApiObservabilityModule {
  static forRoot(config: ApiConfig): DynamicModule {
    return {
      module: ApiObservabilityModule,
      imports: [
        ObservabilityModule.forRoot({
          service: 'device-2fa-api',
          level: config.logLevel,
          format: config.logFormat,
          metricsToken: config.metricsToken,
        }),
      ],
      controllers: [ApiHealthController],
      providers: [ApiMetrics, HttpMetricsHook, ValidationMetricsInterceptor],
      exports: [ApiMetrics, ValidationMetricsInterceptor],
    };
  }
}
