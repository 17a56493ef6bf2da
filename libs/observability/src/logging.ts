/**
 * Structured JSON logs (pino through nestjs-pino) for both apps: one line per
 * event, the level as a word, ISO timestamps, the service name, and request
 * ids under `requestId`. Secrets and contact data are removed by
 * configuration (`redact`), whatever a log call passes, and request bodies
 * are never logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { Params } from 'nestjs-pino';
import { destination, stdTimeFunctions, type LevelWithSilent } from 'pino';
import type { Options as HttpLoggerOptions } from 'pino-http';

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

export interface LoggingOptions {
  /** `service` field of every line, e.g. `device-2fa-api`. */
  service: string;
  level: LevelWithSilent;
  /** The request id for an HTTP request (the api reuses Fastify's, see fastify-setup). */
  genReqId?: (req: IncomingMessage) => string;
}

/** The pino options both apps use (also what the unit spec checks). */
export function loggerOptions(options: LoggingOptions): HttpLoggerOptions {
  return {
    level: options.level,
    base: { service: options.service, pid: process.pid, hostname: hostname() },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // App lines inside a request carry only its id; the access line adds method, url and headers.
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'requestId', responseTime: 'responseTimeMs' },
    ...(options.genReqId ? { genReqId: (req: IncomingMessage) => options.genReqId!(req) } : {}),
    serializers: {
      req: (req: { method?: string; url?: string; headers?: Record<string, unknown> }) => ({ method: req.method, url: req.url, headers: req.headers }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
    // 5xx answers are warnings (a dependency was down, a client was told so);
    // `error` is kept for defects, which the apps log themselves.
    customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) => (err || res.statusCode >= 500 ? 'warn' : 'info'),
    // For a 5xx pino-http makes up an error ("failed with status code …") with
    // its own stack: noise. The app logs the real cause itself.
    customErrorObject: (_req: IncomingMessage, _res: ServerResponse, _err: Error, fields: Record<string, unknown>) => {
      const { err: _made, ...rest } = fields;
      return rest;
    },
    // Middleware may see a stripped `url`; `originalUrl` (set by middie) is the request's.
    autoLogging: { ignore: (req: IncomingMessage & { originalUrl?: string }) => OPS_PATH.test(req.originalUrl ?? req.url ?? '') },
  };
}

export function loggerParams(options: LoggingOptions): Params {
  // Synchronous writes to stdout: a line logged just before the process ends
  // (Nest re-raises SIGTERM once closed, which skips pino's exit flush) is
  // written, not lost in an async buffer.
  return { pinoHttp: [loggerOptions(options), destination({ dest: 1, sync: true })] };
}
