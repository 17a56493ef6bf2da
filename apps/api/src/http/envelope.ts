/**
 * Turns any error into the contract's envelope and HTTP status. The one place
 * where codes become statuses; used by the exception filter for everything
 * Nest and Fastify report (routes, guards, pipes, body parsing, not found).
 */
import { HttpException } from '@nestjs/common';
import {
  DomainError,
  ERROR_CATALOG,
  ErrorCodes,
  InfrastructureError,
  envelopeFor,
  type CatalogTextParams,
  type ErrorCode,
  type ErrorEnvelope,
} from '@lib/domain';

export interface ErrorResponse {
  status: number;
  body: ErrorEnvelope;
  headers?: Record<string, string>;
  /** True when the error is ours to investigate (logged as an error). */
  unexpected: boolean;
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
}

const FASTIFY_CODES: Record<string, { code: ErrorCode; reason?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: ErrorCodes.unsupportedMediaType },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: ErrorCodes.payloadTooLarge },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: ErrorCodes.schema, reason: 'malformed JSON body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: ErrorCodes.schema, reason: 'empty JSON body' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: ErrorCodes.schema, reason: 'invalid content-length' },
  FST_ERR_CTP_INVALID_TYPE: { code: ErrorCodes.unsupportedMediaType },
  FST_ERR_BAD_URL: { code: ErrorCodes.schema, reason: 'malformed URL' },
  FST_ERR_MAX_PARAM_LENGTH: { code: ErrorCodes.schema, reason: 'path parameter too long' },
};

export function toErrorResponse(err: unknown, sendsToken: boolean): ErrorResponse {
  if (err instanceof DomainError) {
    // Every 429 says when to come back.
    const headers =
      ERROR_CATALOG[err.code].status === 429 && typeof err.extraFields.retry_after_seconds === 'number'
        ? { 'retry-after': String(err.extraFields.retry_after_seconds) }
        : undefined;
    return respond(err.code, err.extraFields, false, headers, err.textParams);
  }
  if (err instanceof InfrastructureError) {
    // A send could not even be requested: the contract's OBD000097 on the
    // endpoints that send a token, a plain 503 elsewhere.
    return sendsToken
      ? respond(ErrorCodes.sendFailed, { reason: `${err.dependency}_unavailable` }, false)
      : respond(ErrorCodes.unavailable, { reason: `${err.dependency}_unavailable` }, false);
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    if (status === 404) return respond(ErrorCodes.routeNotFound, {}, false);
    if (status === 413) return respond(ErrorCodes.payloadTooLarge, {}, false);
    if (status === 415) return respond(ErrorCodes.unsupportedMediaType, {}, false);
    if (status >= 400 && status < 500) return respond(ErrorCodes.schema, { reason: 'bad request' }, false);
    return respond(ErrorCodes.internal, {}, true);
  }
  const fastify = fastifyError(err);
  if (err instanceof SyntaxError && fastify?.statusCode === 400) return respond(ErrorCodes.schema, { reason: 'malformed JSON body' }, false);
  if (fastify) {
    const known = fastify.code ? FASTIFY_CODES[fastify.code] : undefined;
    if (known) return respond(known.code, known.reason ? { reason: known.reason } : {}, false);
    if (fastify.statusCode === 413) return respond(ErrorCodes.payloadTooLarge, {}, false);
    if (fastify.statusCode === 415) return respond(ErrorCodes.unsupportedMediaType, {}, false);
    if (fastify.statusCode !== undefined && fastify.statusCode >= 400 && fastify.statusCode < 500) {
      return respond(ErrorCodes.schema, { reason: 'bad request' }, false);
    }
  }
  return respond(ErrorCodes.internal, {}, true);
}

function fastifyError(err: unknown): FastifyLikeError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as FastifyLikeError;
  if (typeof e.statusCode === 'number' || (typeof e.code === 'string' && e.code.startsWith('FST_'))) return e;
  return undefined;
}

function respond(
  code: ErrorCode,
  extra: Record<string, unknown>,
  unexpected: boolean,
  headers?: Record<string, string>,
  textParams?: CatalogTextParams,
): ErrorResponse {
  return { status: ERROR_CATALOG[code].status, body: envelopeFor(code, extra, textParams), headers, unexpected };
}
