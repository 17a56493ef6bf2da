import { ERROR_CATALOG, fillCatalogText, type CatalogTextParams, type ErrorCode } from './error-catalog';

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
    /** What the code's texts interpolate (GDF000014's detail, GDF000018's client key). */
    readonly textParams: CatalogTextParams = {},
  ) {
    super(`${code}: ${fillCatalogText(ERROR_CATALOG[code].description, textParams, 'en')}`);
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

export function envelopeFor(code: ErrorCode, extraFields: ExtraFields = {}, textParams: CatalogTextParams = {}): ErrorEnvelope {
  const entry = ERROR_CATALOG[code];
  return {
    title: entry.title,
    description: fillCatalogText(entry.description, textParams, 'en'),
    translation: fillCatalogText(entry.translation, textParams, 'pt'),
    code,
    extra_fields: extraFields,
  };
}
