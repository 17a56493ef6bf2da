import { randomBytes } from 'node:crypto';
import { ConfigError, SETTINGS, describeMode, loadConfig, startupLine, type AppName } from './app-config';
import { PUBLISHED_SECRETS } from './published-secrets';
import { GENERATED_SECRET_MARKER } from './secret-rules';

/** A fresh random secret of `chars` characters: no literal a reader could copy. */
const secret = (chars = 48) => randomBytes(chars).toString('base64url').slice(0, chars);

/** What the test suite gives a process: NODE_ENV=test and the two secrets. */
const testEnv = (extra: Record<string, string> = {}) => ({ NODE_ENV: 'test', ADMIN_TOKEN: secret(), TOKEN_HASH_SECRET: secret(), ...extra });

/** A complete production environment (NODE_ENV unset): its own secrets, a dashboard user, both providers. */
const productionEnv = (extra: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  ADMIN_TOKEN: secret(),
  TOKEN_HASH_SECRET: secret(),
  BOARD_USERNAME: 'ops',
  BOARD_PASSWORD: secret(20),
  TWILIO_ACCOUNT_SID: 'AC1',
  TWILIO_AUTH_TOKEN: 'twilio-auth',
  TWILIO_FROM_NUMBER: '+15005550006',
  SES_FROM_ADDRESS: 'no-reply@example.com',
  ...extra,
});

/** The problems a ConfigError lists (fails the test if loading succeeds). */
function problemsOf(env: Record<string, string | undefined>, app: AppName = 'api'): string[] {
  try {
    loadConfig(env, app);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('the configuration was accepted');
}

/** The whole message a process would print, for checks that no value is echoed. */
function messageOf(env: Record<string, string | undefined>, app: AppName = 'api'): string {
  try {
    loadConfig(env, app);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
}

const problemAbout = (problems: string[], name: string) => problems.filter((p) => p.startsWith(`${name}:`) || p.startsWith(`${name},`));

describe('loadConfig', () => {
  it('takes every lifetime and limit window from its setting', () => {
    const c = loadConfig(
      testEnv({
        SEND_LIMIT_WINDOW_SECONDS: '60',
        GUESS_LIMIT_WINDOW_SECONDS: '120',
        DEVICE_LIMIT_WINDOW_SECONDS: '180',
        PENDING_DEVICE_TTL_SECONDS: '400',
        DISPATCH_TTL_SECONDS: '500',
        COMPLETED_JOB_TTL_SECONDS: '2',
        FAILED_JOB_TTL_SECONDS: '3',
      }),
      'api',
    );
    expect([c.sendLimits.windowSeconds, c.guessLimits.windowSeconds, c.guessLimits.deviceCreationWindowSeconds]).toEqual([60, 120, 180]);
    expect(c.lifetimes).toEqual({ pendingDeviceSeconds: 400, dispatchSeconds: 500, completedJobSeconds: 2, failedJobSeconds: 3 });
    expect(loadConfig(testEnv({ PROVIDER_MESSAGE_TTL_SECONDS: '9' }), 'worker').lifetimes.providerMessageSeconds).toBe(9);
  });

  it('refuses a device or send record that would not outlive the codes sent to it', () => {
    // TOKEN_TTL_SECONDS 300 and retries 1+2+4+8+16 s: 331 s.
    const problems = problemsOf(testEnv({ PENDING_DEVICE_TTL_SECONDS: '331', DISPATCH_TTL_SECONDS: '300' }));
    expect(problemAbout(problems, 'PENDING_DEVICE_TTL_SECONDS')).toEqual([expect.stringContaining('(331 s)')]);
    expect(problemAbout(problems, 'DISPATCH_TTL_SECONDS')).toHaveLength(1);
    expect(loadConfig(testEnv({ PENDING_DEVICE_TTL_SECONDS: '332', DISPATCH_TTL_SECONDS: '332' }), 'api').lifetimes.pendingDeviceSeconds).toBe(332);
  });

  it('refuses a limit setting under the name that carried its window, naming the setting to use', () => {
    const problems = problemsOf(testEnv({ SEND_LIMIT_PER_DEVICE_PER_HOUR: '3', GUESS_LIMIT_PER_ACCOUNT_PER_DAY: '50' }));
    expect(problemAbout(problems, 'SEND_LIMIT_PER_DEVICE_PER_HOUR')).toEqual([expect.stringContaining('set SEND_LIMIT_PER_DEVICE')]);
    expect(problemAbout(problems, 'GUESS_LIMIT_PER_ACCOUNT_PER_DAY')).toEqual([expect.stringContaining('set GUESS_LIMIT_PER_ACCOUNT')]);
  });

  it('outside production needs only its secrets: defaults and the development outbox', () => {
    const c = loadConfig(testEnv(), 'api');
    expect(c.mode).toBe('test');
    expect(c.http.port).toBe(3000);
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.tokenPolicy).toEqual({ alphabet: '0123456789', length: 6, ttlSeconds: 300, maxFailedAttempts: 5 });
    expect(c.sendLimits).toEqual({ coalesceWindowSeconds: 30, perDevice: 5, perDestination: 10, windowSeconds: 3600 });
    expect(c.guessLimits).toEqual({
      perApprover: 20,
      perAccount: 100,
      windowSeconds: 86_400,
      deviceCreationsPerAccount: 20,
      deviceCreationWindowSeconds: 86_400,
    });
    expect(c.lifetimes).toEqual({ pendingDeviceSeconds: 604_800, dispatchSeconds: 2_592_000, completedJobSeconds: 86_400, failedJobSeconds: 604_800 });
    const w = loadConfig(testEnv(), 'worker');
    expect(w.lifetimes).toEqual({ providerMessageSeconds: 604_800, completedJobSeconds: 86_400, failedJobSeconds: 604_800 });
    expect(w.sms).toEqual({ kind: 'outbox', path: '.outbox/messages.log' });
    expect(w.email.kind).toBe('outbox');
  });

  it('uses Twilio and SES when they are configured', () => {
    const c = loadConfig(
      {
        ...testEnv(),
        TWILIO_ACCOUNT_SID: 'AC1',
        TWILIO_AUTH_TOKEN: 'secret',
        TWILIO_FROM_NUMBER: '+15005550006',
        TWILIO_API_URL: 'http://127.0.0.1:4010',
        SES_FROM_ADDRESS: 'no-reply@example.com',
        SES_ENDPOINT: 'http://127.0.0.1:4020',
        AWS_REGION: 'sa-east-1',
      },
      'worker',
    );
    expect(c.sms).toEqual({
      kind: 'twilio',
      accountSid: 'AC1',
      authToken: 'secret',
      fromNumber: '+15005550006',
      apiUrl: 'http://127.0.0.1:4010',
      caBundlePath: undefined,
      httpProxy: undefined,
    });
    expect(c.email).toEqual({ kind: 'ses', fromAddress: 'no-reply@example.com', region: 'sa-east-1', endpoint: 'http://127.0.0.1:4020' });
  });

  it('in production, names every missing setting and refuses to start', () => {
    const api = messageOf({ NODE_ENV: 'production' }, 'api');
    for (const name of ['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'BOARD_USERNAME', 'BOARD_PASSWORD']) expect(api).toContain(name);
    const worker = messageOf({ NODE_ENV: 'production' }, 'worker');
    for (const name of ['TOKEN_HASH_SECRET', 'TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM_NUMBER', 'SES_FROM_ADDRESS'])
      expect(worker).toContain(name);
  });

  it('validates only the settings each app reads: the api needs no provider, the worker no api setting', () => {
    const production = { NODE_ENV: 'production', TOKEN_HASH_SECRET: secret() };
    // The api sends nothing itself: no Twilio or SES settings.
    expect(loadConfig({ ...production, ADMIN_TOKEN: secret(), BOARD_USERNAME: 'ops', BOARD_PASSWORD: secret() }, 'api').mode).toBe('production');
    // A bad value of the other app's setting is not looked at.
    expect(loadConfig({ ...testEnv(), WORKER_LOCK_DURATION_MS: '10', SES_ENDPOINT: 'not a url' }, 'api').mode).toBe('test');
    expect(loadConfig({ ...testEnv(), PORT: 'eighty', AUTH_MAX_CLOCK_SKEW_SECONDS: '1' }, 'worker').mode).toBe('test');
    expect(() => loadConfig({ ...testEnv(), PORT: 'eighty' }, 'api')).toThrow(/PORT/);
    expect(() => loadConfig({ ...testEnv(), WORKER_LOCK_DURATION_MS: '10' }, 'worker')).toThrow(/WORKER_LOCK_DURATION_MS/);
    expect(SETTINGS.api).not.toContain('SES_FROM_ADDRESS');
    expect(SETTINGS.worker).not.toContain('ADMIN_TOKEN');
  });

  it('takes delivery receipts on the api only with the auth token that checks their signatures', () => {
    expect(problemsOf({ ...testEnv(), TWILIO_STATUS_CALLBACK_URL: 'https://tokens.example.com/webhooks/twilio/status' }, 'api')).toEqual([
      expect.stringMatching(/^TWILIO_AUTH_TOKEN: required when TWILIO_STATUS_CALLBACK_URL is set/),
    ]);
    const c = loadConfig({ ...testEnv(), TWILIO_STATUS_CALLBACK_URL: 'https://tokens.example.com/webhooks/twilio/status', TWILIO_AUTH_TOKEN: 't0k' }, 'api');
    expect(c.receipts).toEqual({ callbackUrl: 'https://tokens.example.com/webhooks/twilio/status', authToken: 't0k' });
    expect(loadConfig(testEnv(), 'api').receipts).toBeUndefined();
  });

  it('passes Twilio a CA bundle and a proxy when given', () => {
    const twilio = {
      TWILIO_ACCOUNT_SID: 'AC1',
      TWILIO_AUTH_TOKEN: 't',
      TWILIO_FROM_NUMBER: '+15005550006',
      TWILIO_CA_BUNDLE: '/etc/ssl/corp.pem',
      HTTP_PROXY: 'http://proxy:3128',
    };
    expect(loadConfig({ ...testEnv(), ...twilio }, 'worker').sms).toMatchObject({
      kind: 'twilio',
      caBundlePath: '/etc/ssl/corp.pem',
      httpProxy: 'http://proxy:3128',
    });
  });

  it('rejects malformed values with the variable named', () => {
    expect(() => loadConfig(testEnv({ PORT: 'eighty' }), 'api')).toThrow(/PORT/);
    expect(() =>
      loadConfig(testEnv({ TWILIO_API_URL: 'not a url', TWILIO_ACCOUNT_SID: 'a', TWILIO_AUTH_TOKEN: 'b', TWILIO_FROM_NUMBER: 'c' }), 'worker'),
    ).toThrow(/TWILIO_API_URL/);
    expect(() => loadConfig(testEnv({ TOKEN_HASH_SECRET: 'short' }), 'api')).toThrow(/TOKEN_HASH_SECRET/);
    expect(() => loadConfig(testEnv({ TWILIO_ACCOUNT_SID: 'AC1' }), 'worker')).toThrow(/TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER/);
    expect(() => loadConfig(testEnv({ TOKEN_ALPHABET: 'aab' }), 'api')).toThrow(/TOKEN_ALPHABET/);
  });

  it("reads the worker's job lock and stalled-job check (5 s and 2 s unless set: a killed worker's sends are taken over within seconds)", () => {
    expect(loadConfig(testEnv(), 'worker').worker).toMatchObject({ lockDurationMs: 5_000, stalledIntervalMs: 2_000 });
    expect(loadConfig(testEnv({ WORKER_LOCK_DURATION_MS: '4000', WORKER_STALLED_INTERVAL_MS: '1000' }), 'worker').worker).toMatchObject({
      lockDurationMs: 4000,
      stalledIntervalMs: 1000,
    });
    expect(() => loadConfig(testEnv({ WORKER_LOCK_DURATION_MS: '10' }), 'worker')).toThrow(/WORKER_LOCK_DURATION_MS/);
  });

  it('logs JSON unless LOG_FORMAT asks for pretty, in every mode (npm start asks for it)', () => {
    for (const env of [testEnv(), testEnv({ NODE_ENV: 'development' }), productionEnv()]) {
      expect(loadConfig(env, 'api').logFormat).toBe('json');
      expect(loadConfig(env, 'worker').logFormat).toBe('json');
    }
    expect(loadConfig(testEnv({ NODE_ENV: 'development', LOG_FORMAT: 'pretty' }), 'worker').logFormat).toBe('pretty');
    expect(() => loadConfig(testEnv({ LOG_FORMAT: 'text' }), 'api')).toThrow(/LOG_FORMAT/);
  });

  it('reads the margin for clock skew between api instances (60 s unless set, 0 or more)', () => {
    expect(loadConfig(testEnv(), 'api')).toMatchObject({ authMaxClockSkewSeconds: 300, authClockSkewMarginSeconds: 60 });
    expect(loadConfig(testEnv({ AUTH_CLOCK_SKEW_MARGIN_SECONDS: '0' }), 'api').authClockSkewMarginSeconds).toBe(0);
    expect(() => loadConfig(testEnv({ AUTH_CLOCK_SKEW_MARGIN_SECONDS: '-1' }), 'api')).toThrow(/AUTH_CLOCK_SKEW_MARGIN_SECONDS/);
  });

  it('keeps the retry window shorter than the token lifetime', () => {
    expect(() => loadConfig(testEnv({ DISPATCH_ATTEMPTS: '12', DISPATCH_BACKOFF_MS: '1000' }), 'worker')).toThrow(/retry window/);
    expect(loadConfig(testEnv({ DISPATCH_ATTEMPTS: '6', DISPATCH_BACKOFF_MS: '1000' }), 'worker').retry).toEqual({ attempts: 6, backoffMs: 1000 });
  });
});

describe('Redis topology settings', () => {
  it('is standalone by default', () => {
    expect(loadConfig(testEnv(), 'api').redis.topology).toEqual({ mode: 'standalone' });
  });

  it('parses sentinel nodes and the master name', () => {
    const c = loadConfig(testEnv({ REDIS_MODE: 'sentinel', REDIS_SENTINELS: 's1:26379, s2:26380', REDIS_SENTINEL_NAME: 'tokens' }), 'api');
    expect(c.redis.topology).toEqual({
      mode: 'sentinel',
      name: 'tokens',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
    });
  });

  it('requires cluster nodes and a hash-tag prefix in cluster mode', () => {
    expect(() => loadConfig(testEnv({ REDIS_MODE: 'cluster' }), 'api')).toThrow(/REDIS_CLUSTER_NODES: required[\s\S]*REDIS_KEY_PREFIX: must be a hash tag/);
    const c = loadConfig(testEnv({ REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: 'c1:7000,c2:7001', REDIS_KEY_PREFIX: '{dts}' }), 'api');
    expect(c.redis.topology).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'c1', port: 7000 },
        { host: 'c2', port: 7001 },
      ],
    });
  });

  it('rejects malformed node lists and half-set dashboard users', () => {
    expect(() => loadConfig(testEnv({ REDIS_MODE: 'sentinel', REDIS_SENTINELS: 'nohost' }), 'api')).toThrow(/REDIS_SENTINELS: expected/);
    expect(() => loadConfig(testEnv({ BOARD_USERNAME: 'support' }), 'api')).toThrow(/BOARD_USERNAME, BOARD_PASSWORD/);
  });
});

describe('modes: only development and test leave production rules', () => {
  it.each([
    ['unset', undefined],
    ['empty', ''],
    ['production', 'production'],
    ['staging', 'staging'],
    ['a near miss of development', 'Development'],
    ['dev', 'dev'],
  ])('NODE_ENV %s runs under production rules', (_label, nodeEnv) => {
    const c = loadConfig(productionEnv({ NODE_ENV: nodeEnv }), 'api');
    expect(c.mode).toBe('production');
    expect(c.nodeEnv).toBe(nodeEnv === '' ? undefined : nodeEnv);
    // Production rules, not development ones: no outbox, a dashboard user required.
    expect(problemsOf({ NODE_ENV: nodeEnv, ADMIN_TOKEN: secret(), TOKEN_HASH_SECRET: secret() }, 'api')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^BOARD_USERNAME: required/)]),
    );
    expect(problemsOf({ NODE_ENV: nodeEnv, TOKEN_HASH_SECRET: secret() }, 'worker')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^SES_FROM_ADDRESS: required/)]),
    );
  });

  it.each(['development', 'test'] as const)('NODE_ENV=%s is its own mode: the outbox, no dashboard user required', (mode) => {
    const c = loadConfig({ NODE_ENV: mode, ADMIN_TOKEN: secret(), TOKEN_HASH_SECRET: secret() }, 'api');
    expect(c.mode).toBe(mode);
    expect(c.nodeEnv).toBe(mode);
    expect(loadConfig({ NODE_ENV: mode, TOKEN_HASH_SECRET: secret() }, 'worker').sms.kind).toBe('outbox');
    expect(c.board).toEqual({ full: undefined, readOnly: undefined });
  });

  it('says which NODE_ENV chose the mode', () => {
    expect(describeMode({ mode: 'production', nodeEnv: undefined })).toBe('mode production (NODE_ENV unset)');
    expect(describeMode({ mode: 'production', nodeEnv: 'staging' })).toBe('mode production (NODE_ENV=staging)');
    expect(describeMode({ mode: 'development', nodeEnv: 'development' })).toBe('mode development (NODE_ENV=development)');
    expect(describeMode({ mode: 'production', nodeEnv: 'a b' })).toBe('mode production (NODE_ENV="a b")');
    expect(messageOf({}, 'api')).toMatch(
      /^Invalid configuration for the api \(mode production \(NODE_ENV unset\); only development and test are not production\)/,
    );
  });
});

describe('each app requires the secrets it uses, in every mode', () => {
  it.each(['development', 'test'])('the api has no default secret in %s mode: ADMIN_TOKEN and TOKEN_HASH_SECRET are named', (mode) => {
    const problems = problemsOf({ NODE_ENV: mode }, 'api');
    expect(problemAbout(problems, 'ADMIN_TOKEN')).toEqual([expect.stringMatching(/^ADMIN_TOKEN: required/)]);
    expect(problemAbout(problems, 'TOKEN_HASH_SECRET')).toEqual([expect.stringMatching(/^TOKEN_HASH_SECRET: required/)]);
    expect(problems).toHaveLength(2);
  });

  it('the api in production names every missing secret and the dashboard user at once', () => {
    const problems = problemsOf({}, 'api');
    for (const name of ['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'BOARD_USERNAME', 'BOARD_PASSWORD']) {
      expect(problemAbout(problems, name)).toEqual([expect.stringMatching(new RegExp(`^${name}: required`))]);
    }
    // Half a dashboard user: the missing half is named.
    expect(problemAbout(problemsOf(productionEnv({ BOARD_PASSWORD: undefined }), 'api'), 'BOARD_PASSWORD')).toEqual([
      expect.stringMatching(/required in production/),
    ]);
    expect(problemAbout(problemsOf(productionEnv({ BOARD_USERNAME: undefined }), 'api'), 'BOARD_USERNAME')).toEqual([
      expect.stringMatching(/required in production/),
    ]);
  });

  it('the worker needs TOKEN_HASH_SECRET only: no admin token, no dashboard user', () => {
    const problems = problemsOf({}, 'worker');
    expect(problemAbout(problems, 'TOKEN_HASH_SECRET')).toEqual([expect.stringMatching(/^TOKEN_HASH_SECRET: required/)]);
    expect(problems.join('\n')).not.toMatch(/ADMIN_TOKEN|BOARD_/);

    const worker = loadConfig(productionEnv({ ADMIN_TOKEN: undefined, BOARD_USERNAME: undefined, BOARD_PASSWORD: undefined }), 'worker');
    expect(worker.mode).toBe('production');
    expect(worker).not.toHaveProperty('adminToken');
    expect(worker).not.toHaveProperty('board');
    // Settings it does not read are not its business, even half-set or weak.
    expect(() => loadConfig({ NODE_ENV: 'test', TOKEN_HASH_SECRET: secret(), BOARD_USERNAME: 'ops', ADMIN_TOKEN: 'x' }, 'worker')).not.toThrow();
  });

  it('a complete production environment starts both apps', () => {
    const env = productionEnv({ BOARD_READONLY_USERNAME: 'viewer', BOARD_READONLY_PASSWORD: secret(12), METRICS_TOKEN: secret(24) });
    const api = loadConfig(env, 'api');
    expect(api.adminToken).toBe(env.ADMIN_TOKEN);
    expect(api.board.full).toEqual({ username: 'ops', password: env.BOARD_PASSWORD });
    expect(api.generatedSecrets).toEqual([]);
    expect(loadConfig(env, 'worker').tokenHashSecret).toBe(env.TOKEN_HASH_SECRET);
  });
});

describe('production refuses known and weak secrets, naming the variable and never the value', () => {
  const secretVars = ['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'METRICS_TOKEN', 'BOARD_PASSWORD', 'BOARD_READONLY_PASSWORD'] as const;
  const withSecret = (name: (typeof secretVars)[number], value: string) =>
    productionEnv({ [name]: value, ...(name === 'BOARD_READONLY_PASSWORD' ? { BOARD_READONLY_USERNAME: 'viewer' } : {}) });

  it.each(PUBLISHED_SECRETS.map((v) => [v]))('refuses the published value %s in every secret', (value) => {
    for (const name of secretVars) {
      const env = withSecret(name, value);
      expect(problemAbout(problemsOf(env, 'api'), name)).toEqual(expect.arrayContaining([expect.stringMatching(/published in this repository/)]));
      expect(messageOf(env, 'api')).not.toContain(value);
    }
  });

  it('refuses the old development defaults and the e2e harness constants by name', () => {
    expect(PUBLISHED_SECRETS).toEqual(
      expect.arrayContaining([
        'local-admin-token-change-me',
        'local-token-hash-secret-change-me-0123456789',
        'e2e-admin-token-0123456789abcdef',
        'e2e-token-hash-secret-0123456789abcdef',
      ]),
    );
    expect(problemsOf(productionEnv({ ADMIN_TOKEN: 'LOCAL-ADMIN-TOKEN-CHANGE-ME' }), 'api')).toEqual([
      expect.stringMatching(/^ADMIN_TOKEN: is a value published/),
    ]);
  });

  it('refuses any value containing change-me', () => {
    for (const name of secretVars) {
      const value = `${secret(40)}-Change-Me`;
      const env = withSecret(name, value);
      expect(problemAbout(problemsOf(env, 'api'), name)).toEqual([expect.stringMatching(/"change-me": a placeholder/)]);
      expect(messageOf(env, 'api')).not.toContain(value);
    }
  });

  it("refuses npm start's generated development secrets (the marker), in the api and in the worker", () => {
    for (const name of secretVars) {
      const value = `${GENERATED_SECRET_MARKER}${secret(64)}`;
      const env = withSecret(name, value);
      expect(problemAbout(problemsOf(env, 'api'), name)).toEqual([expect.stringMatching(/generated by `npm start`/)]);
      expect(messageOf(env, 'api')).not.toContain(value);
    }
    expect(problemsOf(productionEnv({ TOKEN_HASH_SECRET: `${GENERATED_SECRET_MARKER}${secret(64)}` }), 'worker')).toEqual([
      expect.stringMatching(/^TOKEN_HASH_SECRET: is a development secret generated/),
    ]);
  });

  it.each([
    ['ADMIN_TOKEN', 24],
    ['TOKEN_HASH_SECRET', 32],
    ['METRICS_TOKEN', 24],
    ['BOARD_PASSWORD', 12],
    ['BOARD_READONLY_PASSWORD', 12],
  ] as const)('%s needs at least %i characters', (name, min) => {
    const short = secret(min - 1);
    expect(problemAbout(problemsOf(withSecret(name, short), 'api'), name)).toEqual([
      `${name}: must be at least ${min} characters${name === 'TOKEN_HASH_SECRET' ? '' : ' in production'}`,
    ]);
    expect(messageOf(withSecret(name, short), 'api')).not.toContain(short);
    expect(() => loadConfig(withSecret(name, secret(min)), 'api')).not.toThrow();
  });

  it('keeps TOKEN_HASH_SECRET at 32 characters in every mode; the other minimums are production rules', () => {
    expect(problemsOf(testEnv({ TOKEN_HASH_SECRET: secret(31) }), 'worker')).toEqual(['TOKEN_HASH_SECRET: must be at least 32 characters']);
    expect(problemsOf({ NODE_ENV: 'development', ADMIN_TOKEN: secret(), TOKEN_HASH_SECRET: secret(31) }, 'api')).toEqual([
      'TOKEN_HASH_SECRET: must be at least 32 characters',
    ]);
    expect(() => loadConfig(testEnv({ ADMIN_TOKEN: 'short', METRICS_TOKEN: 'short', BOARD_USERNAME: 'ops', BOARD_PASSWORD: 'pw' }), 'api')).not.toThrow();
  });

  it('lists every refusal at once', () => {
    const problems = problemsOf(
      productionEnv({
        ADMIN_TOKEN: 'e2e-admin-token-0123456789abcdef',
        TOKEN_HASH_SECRET: secret(10),
        BOARD_PASSWORD: 'short',
        METRICS_TOKEN: `${GENERATED_SECRET_MARKER}${secret()}`,
      }),
      'api',
    );
    expect(problems.map((p) => p.slice(0, p.indexOf(':')))).toEqual(['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'METRICS_TOKEN', 'BOARD_PASSWORD']);
  });
});

describe('outside production, published and generated secrets are accepted and generated ones are reported', () => {
  it('the test suite runs on its published constants', () => {
    expect(
      loadConfig({ NODE_ENV: 'test', ADMIN_TOKEN: 'e2e-admin-token-0123456789abcdef', TOKEN_HASH_SECRET: 'e2e-token-hash-secret-0123456789abcdef' }, 'api')
        .generatedSecrets,
    ).toEqual([]);
  });

  it("names (never shows) the generated secrets in use, for each app's own secrets", () => {
    const generated = () => `${GENERATED_SECRET_MARKER}${secret(64)}`;
    const env = { NODE_ENV: 'development', ADMIN_TOKEN: generated(), TOKEN_HASH_SECRET: generated(), BOARD_USERNAME: 'dev', BOARD_PASSWORD: generated() };
    const api = loadConfig(env, 'api');
    expect(api.generatedSecrets).toEqual(['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'BOARD_PASSWORD']);
    expect(startupLine(api)).toBe(
      'mode development (NODE_ENV=development); generated development secrets in use: ADMIN_TOKEN, TOKEN_HASH_SECRET, BOARD_PASSWORD (from npm start)',
    );
    expect(loadConfig(env, 'worker').generatedSecrets).toEqual(['TOKEN_HASH_SECRET']);
    expect(startupLine(loadConfig(productionEnv(), 'api'))).toBe('mode production (NODE_ENV unset); no generated secret in use');
  });
});
