import { DEFAULT_TOKEN_POLICY, isWellFormedToken, tokenExpiresAt, tokenFromBytes } from './token-policy';

describe('tokenFromBytes', () => {
  const bytes = (...values: number[]) => {
    let used = false;
    return () => {
      if (used) throw new Error('byte source exhausted');
      used = true;
      return Uint8Array.from(values);
    };
  };

  it('maps bytes onto the alphabet', () => {
    expect(tokenFromBytes(DEFAULT_TOKEN_POLICY, bytes(0, 1, 2, 13, 24, 35))).toBe('012345');
  });

  it('skips bytes that would bias the draw (rejection sampling)', () => {
    // 256 - 256 % 10 = 250: bytes 250..255 are discarded.
    expect(tokenFromBytes({ alphabet: '0123456789', length: 3 }, bytes(255, 250, 7, 251, 8, 9))).toBe('789');
  });

  it('asks for more bytes until the token is long enough', () => {
    let calls = 0;
    const token = tokenFromBytes({ alphabet: 'AB', length: 4 }, () => Uint8Array.of(calls++));
    expect(token).toBe('ABAB');
    expect(calls).toBe(4);
  });

  it('is uniform over the alphabet for uniform input', () => {
    const counts = new Map<string, number>();
    for (let b = 0; b < 250; b += 1) {
      const t = tokenFromBytes({ alphabet: '0123456789', length: 1 }, () => Uint8Array.of(b));
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    expect([...counts.values()]).toEqual(new Array(10).fill(25));
  });

  it('refuses a degenerate alphabet', () => {
    expect(() => tokenFromBytes({ alphabet: 'A', length: 6 }, () => Uint8Array.of(1))).toThrow(RangeError);
  });
});

describe('token shape and lifetime', () => {
  it('accepts only tokens of the configured length and alphabet', () => {
    expect(isWellFormedToken(DEFAULT_TOKEN_POLICY, '123456')).toBe(true);
    expect(isWellFormedToken(DEFAULT_TOKEN_POLICY, '12345')).toBe(false);
    expect(isWellFormedToken(DEFAULT_TOKEN_POLICY, '12345a')).toBe(false);
  });

  it('expires ttl seconds after the hand-off', () => {
    expect(tokenExpiresAt({ ttlSeconds: 300 }, 1_000)).toBe(301_000);
  });
});
