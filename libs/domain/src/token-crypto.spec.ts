import { randomUUID } from 'node:crypto';
import { CODE_NONCE_BYTES, TokenCrypto } from './token-crypto';
import { DEFAULT_TOKEN_POLICY } from './token-policy';

describe('TokenCrypto', () => {
  const crypto = new TokenCrypto('a-test-secret-that-is-long-enough-0000', DEFAULT_TOKEN_POLICY);

  it('gives the same code for the same dispatch and nonce (a retry re-sends it)', () => {
    const id = randomUUID();
    const nonce = TokenCrypto.newCodeNonce();
    expect(crypto.codeFor(id, nonce)).toBe(crypto.codeFor(id, nonce));
    expect(crypto.codeFor(id, nonce)).toMatch(/^\d{6}$/);
  });

  it('draws nonces of 256 bits from the CSPRNG', () => {
    const nonces = Array.from({ length: 100 }, () => TokenCrypto.newCodeNonce());
    expect(new Set(nonces).size).toBe(100);
    for (const n of nonces) expect(Buffer.from(n, 'base64url')).toHaveLength(CODE_NONCE_BYTES);
  });

  it('gives unrelated codes for different nonces of one dispatch, and for different dispatches', () => {
    const id = randomUUID();
    expect(new Set(Array.from({ length: 200 }, () => crypto.codeFor(id, TokenCrypto.newCodeNonce()))).size).toBeGreaterThan(190);
    const nonce = TokenCrypto.newCodeNonce();
    expect(new Set(Array.from({ length: 200 }, () => crypto.codeFor(randomUUID(), nonce))).size).toBeGreaterThan(190);
  });

  it('cannot derive a code without the nonce', () => {
    expect(() => crypto.codeFor(randomUUID(), '')).toThrow(RangeError);
  });

  it('depends on the secret', () => {
    const other = new TokenCrypto('another-secret-that-is-long-enough-111', DEFAULT_TOKEN_POLICY);
    const sends = Array.from({ length: 20 }, () => [randomUUID(), TokenCrypto.newCodeNonce()] as const);
    expect(sends.map(([id, n]) => other.codeFor(id, n))).not.toEqual(sends.map(([id, n]) => crypto.codeFor(id, n)));
  });

  it('matches a candidate against the code of its dispatch only', () => {
    const id = randomUUID();
    const nonce = TokenCrypto.newCodeNonce();
    const code = crypto.codeFor(id, nonce);
    const wrong = code === '000000' ? '000001' : '000000';
    expect(crypto.matches(id, nonce, code)).toBe(true);
    expect(crypto.matches(id, nonce, wrong)).toBe(false);
    expect(crypto.matches(id, nonce, `${code}0`)).toBe(false);
    expect(crypto.matches(id, nonce, '')).toBe(false);
  });

  it('digests destinations without exposing them, e-mail case-insensitively', () => {
    const d = crypto.destinationDigest('email', 'Maria@Example.com');
    expect(d).toBe(crypto.destinationDigest('email', 'maria@example.com'));
    expect(d).not.toContain('maria');
    expect(crypto.destinationDigest('sms', '+5511999990000')).not.toBe(crypto.destinationDigest('sms', '+5511999990001'));
  });
});
