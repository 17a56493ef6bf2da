/** What the worker module adds for logs, metrics and health (see WorkerModule). */
import type { WorkerConfig } from '@lib/config';
import { ObservabilityModule } from '@lib/observability';
import { DispatchObserver } from './dispatch-observer';
import { WorkerHealthController } from './worker-health.controller';
import { WorkerMetrics } from './worker-metrics';

export const workerObservability = (config: WorkerConfig) => ({
  imports: [ObservabilityModule.forRoot({ service: 'device-2fa-worker', level: config.logLevel, format: config.logFormat, metricsToken: config.metricsToken })],
  controllers: [WorkerHealthController],
  providers: [WorkerMetrics, DispatchObserver],
});
