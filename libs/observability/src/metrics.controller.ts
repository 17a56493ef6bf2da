/** `GET /metrics` in Prometheus' text format, behind MetricsAuth. */
import { Controller, Get, Headers, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { MetricsAuth } from './metrics-auth';
import { MetricsRegistry } from './metrics-registry';

@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly registry: MetricsRegistry,
    private readonly auth: MetricsAuth,
  ) {}

  @Get()
  async scrape(@Headers('authorization') authorization: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    if (!this.auth.allows(authorization)) {
      await reply.code(401).header('www-authenticate', 'Bearer realm="metrics"').type('text/plain; charset=utf-8').send('unauthorized\n');
      return;
    }
    const body = await this.registry.metrics();
    await reply.code(200).type(this.registry.contentType).send(body);
  }
}
