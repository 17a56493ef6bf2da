/**
 * `application/x-www-form-urlencoded` bodies, accepted only on the routes that
 * opt in with `@AcceptsFormBody()` (Twilio's delivery receipts). Everywhere
 * else a form body stays what it was before: 415 DTS000007, as for any media
 * type other than JSON.
 *
 * Fastify matches the route before it parses the body, so the parser can read
 * the route's config and refuse before looking at a single byte.
 */
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiConfig } from '@lib/config';
import { DomainError, ErrorCodes } from '@lib/domain';

export const AcceptsFormBody = () => RouteConfig({ formBody: true });

/** Form fields; a field sent more than once keeps every value, in order. */
export type FormFields = Record<string, string | string[]>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function acceptsForm(req: FastifyRequest): boolean {
  const config = req.routeOptions?.config as { formBody?: boolean } | undefined;
  return config?.formBody === true;
}

export function parseFormFields(text: string): FormFields {
  // No prototype: a field named `__proto__` or `constructor` is just a field.
  const fields: FormFields = Object.create(null);
  for (const [key, value] of new URLSearchParams(text)) {
    const existing = fields[key];
    fields[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return fields;
}

export function registerFormBodyParser(fastify: FastifyInstance, config: ApiConfig): void {
  fastify.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer', bodyLimit: config.http.bodyLimitBytes },
    (req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => {
      if (!acceptsForm(req)) return done(new DomainError(ErrorCodes.unsupportedMediaType));
      let text: string;
      try {
        text = utf8.decode(body);
      } catch {
        return done(new DomainError(ErrorCodes.schema, { reason: 'body is not valid UTF-8' }));
      }
      done(null, parseFormFields(text));
    },
  );
}
