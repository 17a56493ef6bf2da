/** Builds and starts the API on Fastify. Kept apart from main.ts so tests and benchmarks can start it in-process. */
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from '@lib/config';
import { ApiModule } from './api.module';
import { fastifyOptions, registerJsonBodyParser } from './http/fastify-setup';

export async function createApi(config: AppConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter(fastifyOptions(config));
  registerJsonBodyParser(adapter.getInstance(), config);
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule.forRoot(config), adapter, {
    bodyParser: false,
    bufferLogs: false,
  });
  app.enableShutdownHooks();
  return app;
}

export async function startApi(config: AppConfig): Promise<NestFastifyApplication> {
  const app = await createApi(config);
  await app.listen(config.http.port, config.http.host);
  return app;
}
