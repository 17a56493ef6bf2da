/**
 * Structured JSON logs (pino) for both apps: one line per event, the level as
 * a word, ISO timestamps, the service name, and request ids under
 * `requestId`. Secrets and contact data are removed by configuration
 * (`redact`), whatever a log call passes, and request bodies are never logged.
 *
 * Nest's `Logger` writes through nestjs-pino to the same pino logger. The
 * api's access line (one per answered request) comes from a Fastify
 * `onResponse` hook (`registerAccessLog`), not from pino-http as Express
 * middleware: on Fastify, Nest runs middleware through @fastify/middie and
 * nestjs-pino binds each request's logger with AsyncLocalStorage, which
 * together cost the api more CPU per request than the rest of its logging
 * (README, "Performance"). Lines logged inside a request name it with a
 * `requestId` field of their own.
 */
import { hostname } from 'node:os';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Params } from 'nestjs-pino';
import pino, { destination, stdTimeFunctions, type LevelWithSilent, type Logger, type LoggerOptions } from 'pino';

/** Fields that must never reach a log line, at the top level or one level down. */
const SENSITIVE_FIELDS = ['authorization', 'token', 'password', 'secret', 'phone_number', 'email', 'approvers', 'body'];

export const REDACT_PATHS: string[] = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-twilio-signature"]',
  'res.headers["set-cookie"]',
  ...SENSITIVE_FIELDS.flatMap((field) => [field, `*.${field}`]),
];

/** Health probes and scrapes come every few seconds: no access line for them. */
const OPS_PATH = /^\/(?:health(?:\/|$|\?)|metrics(?:$|\?))/;

/**
 * Log lines are collected in memory and written in blocks of at least this
 * many bytes (a few lines), instead of one write(2) per line…
 */
const WRITE_BLOCK_BYTES = 4096;
/** …and at least this often, so a quiet process's lines are never held longer. */
const FLUSH_EVERY_MS = 100;

export interface LoggingOptions {
  /** `service` field of every line, e.g. `device-2fa-api`. */
  service: string;
  level: LevelWithSilent;
}

export interface AppLoggerOptions extends LoggingOptions {
  /** Where lines go: a file descriptor or path (default 1, stdout). */
  dest?: number | string;
}

/** The pino options both apps use (also what the unit spec checks). */
export function loggerOptions(options: LoggingOptions): LoggerOptions {
  return {
    level: options.level,
    base: { service: options.service, pid: process.pid, hostname: hostname() },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
}

export interface AppLogger {
  logger: Logger;
  /** Writes out what is buffered, synchronously. */
  flush(): void;
  /** From now on every line is written at once (the app is shutting down). */
  writeThrough(): void;
}

/**
 * The app's pino logger on stdout. Writes are synchronous (a line is never
 * lost in an async write still in flight when the process ends) and
 * batched: lines wait in memory until a block is full or FLUSH_EVERY_MS has
 * passed. What is buffered is written when the process exits, and once Nest
 * starts shutting down (ObservabilityModule) every line is written at once, so
 * the lines of a graceful stop are all out before Nest re-raises the signal.
 * A SIGKILL loses at most the last FLUSH_EVERY_MS of lines.
 */
export function createAppLogger(options: AppLoggerOptions): AppLogger {
  const stream = destination({ dest: options.dest ?? 1, sync: true, minLength: WRITE_BLOCK_BYTES, periodicFlush: FLUSH_EVERY_MS });
  const flush = () => {
    try {
      stream.flushSync();
    } catch {
      // stdout closed (EPIPE) or already destroyed: nothing left to write to
    }
  };
  process.on('exit', flush);
  const writeThrough = () => {
    flush();
    // SonicBoom reads minLength on every write: 0 writes each line as it comes.
    (stream as unknown as { minLength: number }).minLength = 0;
  };
  return { logger: pino(loggerOptions({ service: options.service, level: options.level }), stream), flush, writeThrough };
}

/**
 * nestjs-pino's parameters: Nest's `Logger` writes to `logger`. No HTTP
 * middleware (`forRoutes: []`): access lines come from `registerAccessLog`.
 */
export function loggerParams(logger: Logger): Params {
  return { pinoHttp: { logger }, forRoutes: [] };
}

/**
 * One access line per answered request, from Fastify's `onResponse` hook:
 * request id, method, url and headers (credentials redacted by the logger's
 * configuration; never the body), status and time taken. 5xx answers are
 * warnings (a dependency was down, a client was told so); `error` is kept for
 * defects, which the apps log themselves.
 */
export function registerAccessLog(fastify: FastifyInstance, logger: Logger): void {
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const url = request.url;
    if (!OPS_PATH.test(url)) {
      const status = reply.statusCode;
      const line = {
        requestId: request.id,
        req: { method: request.method, url, headers: request.headers },
        res: { statusCode: status },
        responseTimeMs: Math.round(reply.elapsedTime * 100) / 100,
      };
      if (status >= 500) logger.warn(line, 'request completed');
      else logger.info(line, 'request completed');
    }
    done();
  });
}

