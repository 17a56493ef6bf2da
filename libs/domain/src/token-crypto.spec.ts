import { randomUUID } from 'node:crypto';
import { TokenCrypto } from './token-crypto';
import { DEFAULT_TOKEN_POLICY } from './token-policy';

describe('TokenCrypto', () => {
  const crypto = new TokenCrypto('a-test-secret-that-is-long-enough-0000', DEFAULT_TOKEN_POLICY);

  it('gives the same code for the same dispatch (a retry re-sends it)', () => {
    const id = randomUUID();
    expect(crypto.tokenFor(id)).toBe(crypto.tokenFor(id));
    expect(crypto.tokenFor(id)).toMatch(/^\d{6}$/);
  });

  it('gives unrelated codes for different dispatches', () => {
    const codes = new Set(Array.from({ length: 200 }, () => crypto.tokenFor(randomUUID())));
    expect(codes.size).toBeGreaterThan(190);
  });

  it('depends on the secret', () => {
    const other = new TokenCrypto('another-secret-that-is-long-enough-111', DEFAULT_TOKEN_POLICY);
    const ids = Array.from({ length: 20 }, () => randomUUID());
    expect(ids.map((id) => other.tokenFor(id))).not.toEqual(ids.map((id) => crypto.tokenFor(id)));
  });

  it('matches a token against its stored hash, bound to the device', () => {
    const hash = crypto.hashToken('device-a', '123456');
    expect(hash).not.toContain('123456');
    expect(crypto.matches(hash, 'device-a', '123456')).toBe(true);
    expect(crypto.matches(hash, 'device-a', '123457')).toBe(false);
    expect(crypto.matches(hash, 'device-b', '123456')).toBe(false);
    expect(crypto.matches('abcd', 'device-a', '123456')).toBe(false);
  });

  it('digests destinations without exposing them, e-mail case-insensitively', () => {
    const d = crypto.destinationDigest('email', 'Maria@Example.com');
    expect(d).toBe(crypto.destinationDigest('email', 'maria@example.com'));
    expect(d).not.toContain('maria');
    expect(crypto.destinationDigest('sms', '+5511999990000')).not.toBe(crypto.destinationDigest('sms', '+5511999990001'));
  });
});
