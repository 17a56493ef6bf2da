/**
 * Builds and starts the worker: the dispatch processor, plus a small HTTP
 * listener (WORKER_HTTP_HOST/PORT) for its health endpoints and /metrics.
 */
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger as PinoLogger } from 'nestjs-pino';
import { startupLine, type WorkerConfig } from '@lib/config';
import { logProcessWarnings } from '@lib/observability';
import { WorkerModule } from './worker.module';

export async function startWorker(config: WorkerConfig) {
  logProcessWarnings();
  const app = await NestFactory.create<NestFastifyApplication>(WorkerModule.forRoot(config), new FastifyAdapter({ return503OnClosing: true }), {
    bufferLogs: true,
  });
  app.useLogger(app.get(PinoLogger));
  const logger = new Logger('Worker');
  // Which rules this process runs under, and whether it runs on secrets `npm start` generated (names only).
  if (config.generatedSecrets.length > 0) logger.warn(startupLine(config));
  else logger.log(startupLine(config));
  app.enableShutdownHooks();
  await app.listen(config.worker.httpPort, config.worker.httpHost);
  const { sms, email } = config;
  new Logger('Worker').log(`started (sms via ${sms.kind}, e-mail via ${email.kind})`);
  new Logger('Worker').log(`health listening on ${await app.getUrl()}`);
  if (sms.kind === 'outbox' || email.kind === 'outbox') {
    new Logger('Worker').warn(`development outbox in use: messages are written to ${sms.kind === 'outbox' ? sms.path : (email as { path: string }).path}`);
  }
  return app;
}
