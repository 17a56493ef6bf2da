/**
 * `/metrics` access: open when no token is configured, else only with
 * `Authorization: Bearer <token>`. Digests of equal length are compared in
 * constant time, so neither the token nor its length leaks through timing.
 */
import { secretDigest, secretEquals } from '@lib/domain';

export class MetricsAuth {
  private readonly expected?: Buffer;

  constructor(token: string | undefined) {
    this.expected = token ? secretDigest(token) : undefined;
  }

  allows(authorization: string | undefined): boolean {
    if (!this.expected) return true;
    const match = typeof authorization === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization) : null;
    // Always compare, even without a candidate, so a missing header takes as long as a wrong one.
    const ok = secretEquals(this.expected, match?.[1] ?? '');
    return ok && match !== null;
  }
}
