import { codePart, networkFailureOf, parseRetryAfterMs } from './provider-error';

describe('networkFailureOf', () => {
  const withCode = (code: string, name = 'Error') => Object.assign(new Error('x'), { code, name });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'])('reads %s as a network failure', (code) => {
    expect(networkFailureOf(withCode(code))).toEqual({ kind: 'network', code });
  });

  it.each(['ETIMEDOUT', 'ECONNABORTED'])('reads %s as a timeout', (code) => {
    expect(networkFailureOf(withCode(code))).toEqual({ kind: 'timeout' });
  });

  it('trusts the code over the name (the AWS SDK names a reset "TimeoutError")', () => {
    expect(networkFailureOf(withCode('ECONNRESET', 'TimeoutError'))).toEqual({ kind: 'network', code: 'ECONNRESET' });
  });

  it('reads TimeoutError and AbortError without a code as timeouts', () => {
    expect(networkFailureOf(Object.assign(new Error('x'), { name: 'TimeoutError' }))).toEqual({ kind: 'timeout' });
    expect(networkFailureOf(Object.assign(new Error('x'), { name: 'AbortError' }))).toEqual({ kind: 'timeout' });
  });

  it('looks into cause', () => {
    expect(networkFailureOf(new TypeError('fetch failed', { cause: withCode('ECONNREFUSED') }))).toEqual({ kind: 'network', code: 'ECONNREFUSED' });
  });

  it('ignores anything else, message text included', () => {
    expect(networkFailureOf(new Error('socket hang up ECONNRESET timeout'))).toBeUndefined();
    expect(networkFailureOf(withCode('ERR_INVALID_ARG_TYPE'))).toBeUndefined();
    expect(networkFailureOf(undefined)).toBeUndefined();
    expect(networkFailureOf('ECONNRESET')).toBeUndefined();
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfterMs('7', now)).toBe(7_000);
    expect(parseRetryAfterMs(' 0 ', now)).toBe(0);
    expect(parseRetryAfterMs(['3'], now)).toBe(3_000);
  });

  it('reads an HTTP date, never negative', () => {
    expect(parseRetryAfterMs('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfterMs('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
  });

  it('ignores absent or malformed values', () => {
    expect(parseRetryAfterMs(undefined, now)).toBeUndefined();
    expect(parseRetryAfterMs('', now)).toBeUndefined();
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
    expect(parseRetryAfterMs('-5', now)).toBeUndefined();
  });
});

describe('codePart', () => {
  it('keeps codes to letters, digits and underscores', () => {
    expect(codePart('TooManyRequestsException')).toBe('TooManyRequestsException');
    expect(codePart('a b@c.d')).toBe('a_b_c_d');
    expect(codePart('')).toBe('unknown');
    expect(codePart('x'.repeat(100))).toHaveLength(64);
  });
});
