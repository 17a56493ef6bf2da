/**
 * Structured JSON logs (pino) for both apps: one line per event, the level as
 * a word, ISO timestamps, the service name, and request ids under
 * `requestId`. With LOG_FORMAT=pretty (what `npm start` asks for) the same
 * lines, redacted the same way, are formatted for a person by pino-pretty
 * before they are written (prettyLines). The access line keeps only allow-listed request headers
 * (LOGGED_HEADERS); secrets and contact data are also removed by
 * configuration (`redact`), whatever a log call passes, and request bodies
 * are never logged.
 *
 * Nest's `Logger` writes through nestjs-pino to the same pino logger. The
 * api's access line (one per answered request) comes from a Fastify
 * `onResponse` hook (`registerAccessLog`), not from pino-http as Express
 * middleware: on Fastify, Nest runs middleware through @fastify/middie and
 * nestjs-pino binds each request's logger with AsyncLocalStorage, which
 * together cost the api more CPU per request than the rest of its logging
 * (measured with `npm run bench`). Lines logged inside a request name it with a
 * `requestId` field of their own.
 */
import { hostname } from 'node:os';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Params } from 'nestjs-pino';
import pino, { destination, stdTimeFunctions, type DestinationStream, type LevelWithSilent, type Logger, type LoggerOptions } from 'pino';
import type { PrettyOptions } from 'pino-pretty';

/**
 * The request headers whose values the access line keeps; every other header
 * is left out, whatever it is called, so a credential sent where nobody
 * expects one (X-Api-Key, a bearer in X-Forwarded-Authorization, a cookie)
 * never reaches a log. Each is here because support needs it and it carries
 * no credential:
 * - host, user-agent, accept, accept-encoding, accept-language, content-type,
 *   content-length: which client asked for what, in which form (never the body);
 * - x-request-id, traceparent, tracestate: the caller's trace ids (W3C trace
 *   context), to follow a request across systems;
 * - x-forwarded-for, x-forwarded-proto, x-forwarded-host: what the proxy in
 *   front saw (the client's address, https or not, the public host);
 * - api-client-key: the client integration's public UUID, which tells clients
 *   apart (its secret is the private key that signs AUTHORIZATION);
 * - origin, sec-fetch-site: where a browser's request came from, to explain a
 *   dashboard change refused as cross-origin (DTS000015). Not referer: its
 *   path and query can carry anything, reset tokens included.
 */
export const LOGGED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'user-agent',
  'accept',
  'accept-encoding',
  'accept-language',
  'content-type',
  'content-length',
  'x-request-id',
  'traceparent',
  'tracestate',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'api-client-key',
  'origin',
  'sec-fetch-site',
]);

/**
 * Names of left-out headers are listed (so support can see that, say, an
 * `authorization` was sent) only when they look like header names: a value
 * pasted by mistake as a name (a JWT has dots) is counted, not shown.
 */
const LISTED_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/** Fields that must never reach a log line, at the top level or one level down. */
const SENSITIVE_FIELDS = ['authorization', 'token', 'password', 'secret', 'phone_number', 'email', 'approvers', 'body'];

const REDACTED = '[redacted]';

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

/** `json`: one JSON object per line; `pretty`: the same objects formatted for a person (pino-pretty). */
export type LogFormat = 'json' | 'pretty';

export interface LoggingOptions {
  /** `service` field of every line, e.g. `device-2fa-api`. */
  service: string;
  level: LevelWithSilent;
  /** Default `json`. */
  format?: LogFormat;
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
    redact: { paths: REDACT_PATHS, censor: REDACTED },
  };
}

/**
 * How pino-pretty shows a line: local time, the level, `[context]` and the
 * message on one line, then the line's other fields as compact JSON on the
 * same line (an error's stack on the lines below). pid, hostname and service
 * are left out (`npm start` prefixes each line with its app), and an access
 * line shows as `GET /path → 200 (3.2 ms)`, its headers only in JSON.
 * Colours follow pino-pretty's own rule (NO_COLOR, FORCE_COLOR, a terminal).
 */
export const PRETTY_OPTIONS: PrettyOptions = {
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname,service,context,req,res,responseTimeMs',
  messageFormat: '{if context}[{context}] {end}{msg}{if req.method} {req.method} {req.url} → {res.statusCode} ({responseTimeMs} ms){end}',
  singleLine: true,
};

type PinoPretty = typeof import('pino-pretty');

/** pino-pretty, loaded only when asked for: it is a devDependency, absent from the production image. */
function loadPinoPretty(): PinoPretty {
  try {
    // A require() here, not an import: the apps must start without the package when LOG_FORMAT is json.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('pino-pretty') as PinoPretty;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    throw new Error(
      'LOG_FORMAT=pretty needs the pino-pretty package, a devDependency (`npm ci` installs it; the production image has none): install it, or set LOG_FORMAT=json',
      { cause: err },
    );
  }
}

/**
 * A stream for pino that formats each serialized line with pino-pretty
 * (prettyFactory, synchronous) and writes the result to `target`. pino has
 * already applied `redact` when it serialized the line, so the pretty output
 * is built from the same redacted object as the JSON one.
 */
export function prettyLines(target: { write(text: string): unknown }, options: PrettyOptions = PRETTY_OPTIONS): DestinationStream {
  const format = loadPinoPretty().prettyFactory(options);
  return { write: (line: string) => void target.write(format(line)) };
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
 * A SIGKILL loses at most the last FLUSH_EVERY_MS of lines. The pretty
 * format writes through the same buffer, with the same guarantees.
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
  const out = options.format === 'pretty' ? prettyLines(stream) : stream;
  return { logger: pino(loggerOptions({ service: options.service, level: options.level }), out), flush, writeThrough };
}

/**
 * nestjs-pino's parameters: Nest's `Logger` writes to `logger`. No HTTP
 * middleware (`forRoutes: []`): access lines come from `registerAccessLog`.
 */
export function loggerParams(logger: Logger): Params {
  return { pinoHttp: { logger }, forRoutes: [] };
}

/**
 * The headers an access line records: the allow-listed ones with their
 * values, and the names of the others (`omittedHeaders`, absent when none).
 */
function accessLogHeaders(headers: IncomingHttpHeaders): { headers: Record<string, string | string[]>; omittedHeaders?: string[] } {
  const kept: Record<string, string | string[]> = {};
  const omitted: string[] = [];
  let unlisted = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (LOGGED_HEADERS.has(name)) kept[name] = value;
    else if (LISTED_NAME.test(name)) omitted.push(name);
    else unlisted += 1;
  }
  if (unlisted > 0) omitted.push(`(${unlisted} more)`);
  return omitted.length > 0 ? { headers: kept, omittedHeaders: omitted } : { headers: kept };
}

/**
 * One access line per answered request, from Fastify's `onResponse` hook:
 * request id, method, url, the allow-listed headers (accessLogHeaders; never
 * the body), status and time taken. 5xx answers are warnings (a dependency
 * was down, a client was told so); `error` is kept for defects, which the apps
 * log themselves.
 */
export function registerAccessLog(fastify: FastifyInstance, logger: Logger): void {
  // The line is built from allow-listed fields only (accessLogHeaders), so
  // the `redact` list never finds anything in it: written through a child
  // without that list, it reads the same and costs a fraction of the CPU
  // (the redaction walk was most of the line's cost; `npm run bench`).
  const access = logger.child({}, { redact: { paths: [], censor: REDACTED } });
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const url = request.url;
    if (!OPS_PATH.test(url)) {
      const status = reply.statusCode;
      const line = {
        requestId: request.id,
        req: { method: request.method, url, ...accessLogHeaders(request.headers) },
        res: { statusCode: status },
        responseTimeMs: Math.round(reply.elapsedTime * 100) / 100,
      };
      if (status >= 500) access.warn(line, 'request completed');
      else access.info(line, 'request completed');
    }
    done();
  });
}
