/** Builds and starts the API on Fastify. Kept apart from main.ts so tests and benchmarks can start it in-process. */
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger as PinoLogger } from 'nestjs-pino';
import { startupLine, type ApiConfig } from '@lib/config';
import { APP_LOGGER, logProcessWarnings, registerAccessLog, type AppLogger } from '@lib/observability';
import { whenReady } from '@lib/store';
import { nameRequestSpan, tracingStarted } from '@lib/tracing';
import { ApiModule } from './api.module';
import { setupApiDocs } from './docs/docs.setup';
import { fastifyOptions, registerJsonBodyParser } from './http/fastify-setup';
import { QUEUE_REDIS, REDIS } from './infrastructure/tokens';
import { registerFormBodyParser } from './receipts/form-body';

/** How long start-up waits for Redis before listening anyway. */
const REDIS_READY_WAIT_MS = 5_000;

export async function createApi(config: ApiConfig): Promise<NestFastifyApplication> {
  logProcessWarnings();
  const adapter = new FastifyAdapter(fastifyOptions(config));
  registerJsonBodyParser(adapter.getInstance(), config);
  registerFormBodyParser(adapter.getInstance(), config); // only routes marked @AcceptsFormBody() take it
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule.forRoot(config), adapter, {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(PinoLogger));
  registerAccessLog(adapter.getInstance(), app.get<AppLogger>(APP_LOGGER).logger);
  if (tracingStarted()) {
    // The request's span is named after the route it matched (libs/tracing).
    adapter.getInstance().addHook('onRequest', (request, _reply, done) => {
      nameRequestSpan(request.method, request.routeOptions.url);
      done();
    });
  }
  setupApiDocs(app, config); // /docs, when DOCS_ENABLED
  app.enableShutdownHooks();
  return app;
}

export async function startApi(config: ApiConfig): Promise<NestFastifyApplication> {
  const app = await createApi(config);
  const logger = new Logger('Api');
  // Which rules this process runs under, and whether it runs on secrets `npm start` generated (names only).
  if (config.generatedSecrets.length > 0) logger.warn(startupLine(config));
  else logger.log(startupLine(config));
  // The Redis connections buffer nothing while they connect, so a request
  // served before it is ready would get a 503 from a healthy system. Listen
  // once it is ready; if Redis is down, start anyway and answer 503/OBD000097
  // until it comes back, as at any other time.
  await Promise.all([whenReady(app.get(REDIS), REDIS_READY_WAIT_MS), whenReady(app.get(QUEUE_REDIS), REDIS_READY_WAIT_MS)]).catch((err: Error) =>
    logger.warn(`${err.message}; listening anyway`),
  );
  await app.listen(config.http.port, config.http.host);
  return app;
}
