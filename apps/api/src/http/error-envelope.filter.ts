import { ArgumentsHost, Catch, Logger, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InfrastructureError } from '@lib/domain';
import { toErrorResponse } from './envelope';
import { routeSendsToken } from './sends-token';

/** Every error leaves the API in the contract's envelope; never a stack trace. */
@Catch()
export class ErrorEnvelopeFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const response = toErrorResponse(exception, routeSendsToken(request));

    if (response.unexpected) {
      const err = exception instanceof Error ? exception : new Error(String(exception));
      this.logger.error({ requestId: request.id, err }, `request ${request.id} failed: ${err.name}: ${err.message}`);
    } else if (exception instanceof InfrastructureError) {
      const cause = exception.cause instanceof Error ? exception.cause.message : String(exception.cause);
      this.logger.warn({ requestId: request.id }, `request ${request.id}: ${exception.dependency} unavailable (${cause})`);
    }

    if (reply.sent) return;
    if (response.headers) reply.headers(response.headers);
    void reply.status(response.status).type('application/json; charset=utf-8').send(response.body);
  }
}
