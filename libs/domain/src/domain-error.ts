import { ERROR_CATALOG, ErrorCode } from './error-catalog';

/** Structured, non-secret detail carried to the envelope's `extra_fields`. */
export type ExtraFields = Record<string, unknown>;

/**
 * A rule of the domain was not met. Carries a stable catalog code; the HTTP
 * status and envelope are decided once, at the API's exception filter.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly extraFields: ExtraFields = {},
  ) {
    super(`${code}: ${ERROR_CATALOG[code].description}`);
    this.name = 'DomainError';
  }
}

/**
 * An infrastructure dependency (Redis, the queue) could not be reached. The
 * endpoint decides which code the caller sees (OBD000097 where a send was
 * being requested, DTS000010 elsewhere).
 */
export class InfrastructureError extends Error {
  constructor(
    readonly dependency: string,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} unavailable`, options);
    this.name = 'InfrastructureError';
  }
}

export interface ErrorEnvelope {
  title: string;
  description: string;
  translation: string;
  code: ErrorCode;
  extra_fields: ExtraFields;
}

export function envelopeFor(code: ErrorCode, extraFields: ExtraFields = {}): ErrorEnvelope {
  const entry = ERROR_CATALOG[code];
  return {
    title: entry.title,
    description: entry.description,
    translation: entry.translation,
    code,
    extra_fields: extraFields,
  };
}
