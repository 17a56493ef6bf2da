/**
 * What every test of the queue dashboard (Bull Board at /admin/queues) expects
 * of its answers: the envelope of a refused cross-origin change (DTS000015,
 * the catalog's wire text, kept here rather than in e2e-checks' table so the
 * board's tests own it) and the headers that keep the board out of frames and
 * its referrers on the site.
 */
import type { HttpResult } from './api-client';

export const CROSS_ORIGIN_REFUSED = {
  title: 'Forbidden',
  description: 'Cross-origin request refused',
  translation: 'Requisição de outra origem recusada',
  code: 'DTS000015',
  extra_fields: {},
};

/** 403, JSON, and exactly the contract's envelope for DTS000015. */
export function expectCrossOriginRefused(res: HttpResult, context: Record<string, unknown> = {}): void {
  expect({ ...context, status: res.status, contentType: res.headers.get('content-type'), body: res.body }).toEqual({
    ...context,
    status: 403,
    contentType: 'application/json; charset=utf-8',
    body: CROSS_ORIGIN_REFUSED,
  });
}

/** The hardening headers of one answer, as the tests compare them. */
export function hardeningOf(get: (name: string) => string | null | undefined) {
  return {
    frameOptions: get('x-frame-options'),
    frameAncestors: /(?:^|;)\s*frame-ancestors 'none'\s*(?:;|$)/.test(get('content-security-policy') ?? ''),
    contentTypeOptions: get('x-content-type-options'),
    referrerPolicy: get('referrer-policy'),
  };
}

/** What `hardeningOf` must give for every board answer. */
export const HARDENED = { frameOptions: 'DENY', frameAncestors: true, contentTypeOptions: 'nosniff', referrerPolicy: 'same-origin' };
