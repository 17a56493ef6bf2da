import { ConfigError, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('runs with no settings outside production: defaults and the development outbox', () => {
    const c = loadConfig({});
    expect(c.env).toBe('development');
    expect(c.http.port).toBe(3000);
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.tokenPolicy).toEqual({ alphabet: '0123456789', length: 6, ttlSeconds: 300, maxFailedAttempts: 5 });
    expect(c.sendLimits).toEqual({ coalesceWindowSeconds: 30, perDevicePerHour: 5, perDestinationPerHour: 10 });
    expect(c.sms).toEqual({ kind: 'outbox', path: '.outbox/messages.log' });
    expect(c.email.kind).toBe('outbox');
  });

  it('uses Twilio and SES when they are configured', () => {
    const c = loadConfig({
      TWILIO_ACCOUNT_SID: 'AC1',
      TWILIO_AUTH_TOKEN: 'secret',
      TWILIO_FROM_NUMBER: '+15005550006',
      TWILIO_API_URL: 'http://127.0.0.1:4010',
      SES_FROM_ADDRESS: 'no-reply@example.com',
      SES_ENDPOINT: 'http://127.0.0.1:4020',
      AWS_REGION: 'sa-east-1',
    });
    expect(c.sms).toEqual({ kind: 'twilio', accountSid: 'AC1', authToken: 'secret', fromNumber: '+15005550006', apiUrl: 'http://127.0.0.1:4010' });
    expect(c.email).toEqual({ kind: 'ses', fromAddress: 'no-reply@example.com', region: 'sa-east-1', endpoint: 'http://127.0.0.1:4020' });
  });

  it('in production, names every missing setting and refuses to start', () => {
    let error: unknown;
    try {
      loadConfig({ NODE_ENV: 'production' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as ConfigError).message;
    for (const name of ['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM_NUMBER', 'SES_FROM_ADDRESS']) {
      expect(text).toContain(name);
    }
  });

  it('rejects malformed values with the variable named', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ TWILIO_API_URL: 'not a url', TWILIO_ACCOUNT_SID: 'a', TWILIO_AUTH_TOKEN: 'b', TWILIO_FROM_NUMBER: 'c' })).toThrow(/TWILIO_API_URL/);
    expect(() => loadConfig({ TOKEN_HASH_SECRET: 'short' })).toThrow(/TOKEN_HASH_SECRET/);
    expect(() => loadConfig({ TWILIO_ACCOUNT_SID: 'AC1' })).toThrow(/TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER/);
    expect(() => loadConfig({ TOKEN_ALPHABET: 'aab' })).toThrow(/TOKEN_ALPHABET/);
  });

  it("reads the worker's job lock and stalled-job check (BullMQ's 30 s defaults unless set)", () => {
    expect(loadConfig({}).worker).toMatchObject({ lockDurationMs: 30_000, stalledIntervalMs: 30_000 });
    expect(loadConfig({ WORKER_LOCK_DURATION_MS: '4000', WORKER_STALLED_INTERVAL_MS: '1000' }).worker).toMatchObject({ lockDurationMs: 4000, stalledIntervalMs: 1000 });
    expect(() => loadConfig({ WORKER_LOCK_DURATION_MS: '10' })).toThrow(/WORKER_LOCK_DURATION_MS/);
  });

  it('keeps the retry window shorter than the token lifetime', () => {
    expect(() => loadConfig({ DISPATCH_ATTEMPTS: '12', DISPATCH_BACKOFF_MS: '1000' })).toThrow(/retry window/);
    expect(loadConfig({ DISPATCH_ATTEMPTS: '6', DISPATCH_BACKOFF_MS: '1000' }).retry).toEqual({ attempts: 6, backoffMs: 1000 });
  });
});

describe('Redis topology settings', () => {
  it('is standalone by default', () => {
    expect(loadConfig({}).redis.topology).toEqual({ mode: 'standalone' });
  });

  it('parses sentinel nodes and the master name', () => {
    const c = loadConfig({ REDIS_MODE: 'sentinel', REDIS_SENTINELS: 's1:26379, s2:26380', REDIS_SENTINEL_NAME: 'tokens' });
    expect(c.redis.topology).toEqual({ mode: 'sentinel', name: 'tokens', sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }] });
  });

  it('requires cluster nodes and a hash-tag prefix in cluster mode', () => {
    expect(() => loadConfig({ REDIS_MODE: 'cluster' })).toThrow(/REDIS_CLUSTER_NODES: required[\s\S]*REDIS_KEY_PREFIX: must be a hash tag/);
    const c = loadConfig({ REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: 'c1:7000,c2:7001', REDIS_KEY_PREFIX: '{dts}' });
    expect(c.redis.topology).toEqual({ mode: 'cluster', nodes: [{ host: 'c1', port: 7000 }, { host: 'c2', port: 7001 }] });
  });

  it('rejects malformed node lists and half-set dashboard users', () => {
    expect(() => loadConfig({ REDIS_MODE: 'sentinel', REDIS_SENTINELS: 'nohost' })).toThrow(/REDIS_SENTINELS: expected/);
    expect(() => loadConfig({ BOARD_USERNAME: 'support' })).toThrow(/BOARD_USERNAME, BOARD_PASSWORD/);
  });
});
