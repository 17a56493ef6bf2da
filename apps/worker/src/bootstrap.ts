/** Builds and starts the worker (no HTTP listener of its own yet). */
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AppConfig } from '@lib/config';
import { WorkerModule } from './worker.module';

export async function startWorker(config: AppConfig) {
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config));
  app.enableShutdownHooks();
  const { sms, email } = config;
  new Logger('Worker').log(`started (env ${config.env}, sms via ${sms.kind}, e-mail via ${email.kind})`);
  if (sms.kind === 'outbox' || email.kind === 'outbox') {
    new Logger('Worker').warn(`development outbox in use: messages are written to ${sms.kind === 'outbox' ? sms.path : (email as { path: string }).path}`);
  }
  return app;
}
