import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, DEV_SECRETS_FILE, GENERATED_SECRET_MARKER, loadConfig } from '@lib/config';
import { DEFAULT_FILE, GENERATED_SECRET_MARKER as SCRIPT_MARKER, GENERATED_VARIABLES, loadOrCreateDevSecrets, localEnvironment } from './dev-secrets';

describe("npm start's development secrets", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dev-secrets-'));
    file = join(dir, '.local', 'dev-secrets.env');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const secretNames = ['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'BOARD_PASSWORD'] as const;

  it('creates the file once, private (0600 in a 0700 directory), with random marked secrets of 32 bytes', () => {
    const first = loadOrCreateDevSecrets(file);
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, '.local')).mode & 0o777).toBe(0o700);
    for (const name of secretNames) expect(first.values[name]).toMatch(new RegExp(`^${GENERATED_SECRET_MARKER}[0-9a-f]{64}$`));
    expect(first.values.BOARD_USERNAME).toMatch(/^dev-[0-9a-f]{6}$/);
    expect(new Set(secretNames.map((n) => first.values[n])).size).toBe(3);

    const elsewhere = loadOrCreateDevSecrets(join(dir, 'other', 'dev-secrets.env'));
    for (const name of GENERATED_VARIABLES) expect(elsewhere.values[name]).not.toBe(first.values[name]);
  });

  it('reuses the file on the next run, so restarts keep the same secrets', () => {
    const first = loadOrCreateDevSecrets(file);
    const text = readFileSync(file, 'utf8');
    const second = loadOrCreateDevSecrets(file);
    expect(second).toEqual({ ...first, created: false });
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('adds what the file lacks, keeps what it has, and tightens loose permissions', () => {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, '# edited by hand\nADMIN_TOKEN=dev-generated-kept\n');
    chmodSync(file, 0o644);
    const { values, created } = loadOrCreateDevSecrets(file);
    expect(created).toBe(false);
    expect(values.ADMIN_TOKEN).toBe('dev-generated-kept');
    expect(values.TOKEN_HASH_SECRET.startsWith(GENERATED_SECRET_MARKER)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadOrCreateDevSecrets(file).values).toEqual(values);
  });

  it('sets NODE_ENV=development when unset, and the environment wins over the file', () => {
    const mine = randomBytes(24).toString('hex');
    const { env, fromFile, file: used, created } = localEnvironment({ PATH: '/bin', ADMIN_TOKEN: mine, BOARD_USERNAME: '  ' }, file);
    expect(env.NODE_ENV).toBe('development');
    expect(env.ADMIN_TOKEN).toBe(mine);
    expect(fromFile).toEqual(['TOKEN_HASH_SECRET', 'BOARD_USERNAME', 'BOARD_PASSWORD']);
    expect([used, created]).toEqual([file, true]);
    const kept = loadOrCreateDevSecrets(file).values;
    expect(env.TOKEN_HASH_SECRET).toBe(kept.TOKEN_HASH_SECRET);
    expect(env.BOARD_USERNAME).toBe(kept.BOARD_USERNAME);
    expect(kept.ADMIN_TOKEN).not.toBe(mine); // an environment value is never written to the file
  });

  it('generates nothing outside development: another NODE_ENV passes through and the apps require their own secrets', () => {
    for (const nodeEnv of ['production', 'staging', 'test']) {
      const { env, fromFile } = localEnvironment({ NODE_ENV: nodeEnv }, file);
      expect(env).toEqual({ NODE_ENV: nodeEnv });
      expect(fromFile).toEqual([]);
    }
    expect(() => statSync(file)).toThrow(/ENOENT/);
  });

  it('gives the api and the worker what they need in development, and production refuses it', () => {
    const { env } = localEnvironment({}, file);
    expect(loadConfig(env, 'api').generatedSecrets).toEqual(['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'BOARD_PASSWORD']);
    expect(loadConfig(env, 'worker').generatedSecrets).toEqual(['TOKEN_HASH_SECRET']);
    let refused: ConfigError | undefined;
    try {
      loadConfig(
        {
          ...env,
          NODE_ENV: 'production',
          TWILIO_ACCOUNT_SID: 'AC1',
          TWILIO_AUTH_TOKEN: 't',
          TWILIO_FROM_NUMBER: '+15005550006',
          SES_FROM_ADDRESS: 'a@example.com',
        },
        'api',
      );
    } catch (err) {
      refused = err as ConfigError;
    }
    expect(refused?.problems.map((p) => p.slice(0, p.indexOf(':')))).toEqual(['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'BOARD_PASSWORD']);
  });

  it('shares the marker and the file with libs/config', () => {
    expect(SCRIPT_MARKER).toBe(GENERATED_SECRET_MARKER);
    expect(DEFAULT_FILE).toBe(join(__dirname, '..', DEV_SECRETS_FILE));
    expect(readFileSync(join(__dirname, '..', '.gitignore'), 'utf8').split('\n')).toContain(`${DEV_SECRETS_FILE.split('/')[0]}/`);
  });
});
