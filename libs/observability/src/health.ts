/**
 * Health endpoint helpers shared by both apps (with @nestjs/terminus):
 * dependency probes bounded in time, and a filter that lets terminus' own 503
 * answer through (the api's error filter would otherwise turn it into the
 * device API's envelope).
 */
import { ArgumentsHost, Catch, ServiceUnavailableException, type ExceptionFilter } from '@nestjs/common';
import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { withTimeout } from './timeout';

/** `key` is up when `check` resolves within `timeoutMs` and does not answer false. */
export async function probe(
  indicators: HealthIndicatorService,
  key: string,
  check: () => Promise<unknown> | unknown,
  timeoutMs: number,
): Promise<HealthIndicatorResult> {
  const session = indicators.check(key);
  try {
    const result = await withTimeout(Promise.resolve().then(check), timeoutMs, key);
    return result === false ? session.down({ message: `${key} not ready` }) : session.up();
  } catch (err) {
    return session.down({ message: err instanceof Error ? err.message : String(err) });
  }
}

@Catch(ServiceUnavailableException)
export class HealthCheckFilter implements ExceptionFilter {
  catch(exception: ServiceUnavailableException, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    void reply.code(503).type('application/json; charset=utf-8').send(exception.getResponse());
  }
}
