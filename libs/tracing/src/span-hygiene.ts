/**
 * What an HTTP span may say about its request. The request's line is kept
 * without its query string, and nothing else of it: no header (Twilio's and
 * SES's carry credentials; a client's AUTHORIZATION is its signed JWT) and no
 * body (Twilio's form body carries the phone number and the message, code
 * included). OpenTelemetry's HTTP instrumentation records neither headers nor
 * bodies unless asked; these hooks take the query string off the URLs it
 * records. Path parameters stay: the account and device keys are ids, logged
 * on every access line too.
 */
import type { Attributes } from '@opentelemetry/api';
import type { RequestOptions } from 'node:http';

/** `url.full` of an outgoing request, without query string, fragment or credentials. */
export function outgoingUrl(options: Pick<RequestOptions, 'protocol' | 'hostname' | 'host' | 'port' | 'path'>): string {
  const protocol = options.protocol ?? 'http:';
  const host = options.hostname ?? options.host ?? 'localhost';
  const port = options.port ? `:${options.port}` : '';
  return `${protocol}//${host}${port}${withoutQuery(options.path ?? '/')}`;
}

/** A path (or URL) without its query string and fragment. */
export function withoutQuery(path: string): string {
  const cut = path.search(/[?#]/);
  return cut < 0 ? path : path.slice(0, cut);
}

/** Attributes that replace what the HTTP instrumentation records of an outgoing request. */
export function outgoingSpanAttributes(options: RequestOptions): Attributes {
  return { 'url.full': outgoingUrl(options) };
}

/** Attributes that replace what it records of an incoming one: no `url.query` (an undefined attribute is dropped). */
export function incomingSpanAttributes(): Attributes {
  return { 'url.query': undefined };
}
