/**
 * Token rules: shape, lifetime and attempt limit. Pure functions only; the
 * random or keyed bytes come from the caller so this file needs no crypto
 * import and can be tested byte for byte.
 */
export interface TokenPolicy {
  /** Characters a token is drawn from; digits by default. */
  readonly alphabet: string;
  readonly length: number;
  readonly ttlSeconds: number;
  /** Failed validations allowed; reaching it locks the device (`rejected`). */
  readonly maxFailedAttempts: number;
}

export const DEFAULT_TOKEN_POLICY: TokenPolicy = {
  alphabet: '0123456789',
  length: 6,
  ttlSeconds: 300,
  maxFailedAttempts: 5,
};

/**
 * Draws `policy.length` characters from `policy.alphabet` using bytes from
 * `nextBytes`, with rejection sampling so every character is equally likely
 * (a plain `byte % n` would favour the first `256 % n` characters).
 */
export function tokenFromBytes(policy: Pick<TokenPolicy, 'alphabet' | 'length'>, nextBytes: () => Uint8Array): string {
  const n = policy.alphabet.length;
  if (n < 2 || n > 256) throw new RangeError('token alphabet must have between 2 and 256 characters');
  const limit = 256 - (256 % n);
  let out = '';
  while (out.length < policy.length) {
    for (const byte of nextBytes()) {
      if (byte >= limit) continue;
      out += policy.alphabet[byte % n];
      if (out.length === policy.length) break;
    }
  }
  return out;
}

export function isWellFormedToken(policy: Pick<TokenPolicy, 'alphabet' | 'length'>, token: string): boolean {
  if (token.length !== policy.length) return false;
  for (const ch of token) if (!policy.alphabet.includes(ch)) return false;
  return true;
}

export function tokenExpiresAt(policy: Pick<TokenPolicy, 'ttlSeconds'>, handedOffAtMs: number): number {
  return handedOffAtMs + policy.ttlSeconds * 1000;
}
