/**
 * Fastify options and body parsing. JSON only: any other media type with a
 * body is refused (DTS000007), except form bodies on the routes that opt in
 * (Twilio's delivery receipts, receipts/form-body.ts). The raw bytes are kept
 * for the signature's `payload_md5`; invalid UTF-8 is a schema error, not a 500.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { ApiConfig } from '@lib/config';
import { DomainError, ERROR_CATALOG, ErrorCodes, envelopeFor } from '@lib/domain';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { toErrorResponse } from './envelope';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/**
 * The request's id: the caller's `x-request-id` when well-formed, so a client
 * can trace its request, else a new UUID. Travels into the job payload and
 * every log line of the request and of its dispatch.
 */
export function requestIdFor(req: { headers: Record<string, string | string[] | undefined> }): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export function fastifyOptions(config: ApiConfig) {
  const timeoutMs = config.http.requestTimeoutMs;
  return {
    bodyLimit: config.http.bodyLimitBytes,
    requestTimeout: timeoutMs,
    connectionTimeout: timeoutMs,
    // Node enforces request deadlines only when it checks its connections (every
    // 30 s by default) and gives headers 60 s: a client trickling its headers
    // or body could hold a socket for a minute and more. Both follow
    // REQUEST_TIMEOUT_MS instead, checked every second.
    http: { requestTimeout: timeoutMs, headersTimeout: timeoutMs, connectionsCheckingInterval: Math.min(1_000, timeoutMs) },
    keepAliveTimeout: 5_000,
    routerOptions: { maxParamLength: 200 },
    genReqId: requestIdFor,
    return503OnClosing: true,
    frameworkErrors,
    clientErrorHandler,
  };
}

/** What Node's HTTP parser reports on a connection, as the contract's envelope: each cause its code. */
export function clientErrorResponse(err: { code?: string }): { status: number; body: string } {
  const code =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ErrorCodes.headersTooLarge
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ErrorCodes.requestTimeout
        : ErrorCodes.malformedHttp;
  return { status: ERROR_CATALOG[code].status, body: JSON.stringify(envelopeFor(code)) };
}

/**
 * Errors Node's HTTP server meets before there is a request to route (headers
 * over the size limit, a request line or header it cannot parse, a client
 * too slow to send its request): Fastify would answer them with a body of its
 * own. The answer here is the contract's envelope, written on the socket,
 * which is then closed (it cannot be trusted to carry a next request).
 */
function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  // A connection reset has nothing left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const { status, body } = clientErrorResponse(err);
  // Sent, then the connection closed; a client that does not read is cut off after a second.
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/**
 * A malformed URL (bad percent-encoding) or an over-long path parameter is
 * answered by Fastify before any route, outside Nest's filter, with a body of
 * its own that echoes the path: answer in the contract's envelope instead.
 */
function frameworkErrors(err: Error, _req: FastifyRequest, reply: FastifyReply): void {
  const response = toErrorResponse(err, false);
  void reply.status(response.status).type('application/json; charset=utf-8').send(response.body);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function registerJsonBodyParser(fastify: FastifyInstance, config: ApiConfig): void {
  fastify.removeAllContentTypeParsers();
  const defaultJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: config.http.bodyLimitBytes },
    (req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => {
      req.rawBody = body;
      if (body.length === 0) return done(null, undefined);
      let text: string;
      try {
        text = utf8.decode(body);
      } catch {
        return done(new DomainError(ErrorCodes.schema, { reason: 'body is not valid UTF-8' }));
      }
      // Fastify's own JSON errors would reach the filter wrapped by Nest as a
      // bare 400, losing why; say it here, as for invalid UTF-8 above.
      defaultJson(req, text, (err, parsed) => (err ? done(new DomainError(ErrorCodes.schema, { reason: 'malformed JSON body' })) : done(null, parsed)));
    },
  );
}
