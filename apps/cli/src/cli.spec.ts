import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseApprover } from './approver-input';
import { cliEnv, commandLine, requireAdminToken, shellQuote, UsageError } from './cli-support';
import { fakeApprover, isValidCpf, randomCpf } from './fake-approver';

describe('cli helpers', () => {
  it('parses an approver, keeping commas inside the name', () => {
    expect(parseApprover('52998224725, Silva, Maria ,+5511987654321,maria@example.com')).toEqual({
      document_number: '52998224725',
      name: 'Silva, Maria',
      phone_number: '+5511987654321',
      email: 'maria@example.com',
    });
    expect(() => parseApprover('52998224725,Maria,+5511987654321')).toThrow(UsageError);
  });

  it('generates CPFs with valid check digits and well-formed contacts', () => {
    expect(isValidCpf('52998224725')).toBe(true);
    expect(isValidCpf('52998224726')).toBe(false);
    expect(isValidCpf('11111111111')).toBe(false);
    for (let i = 0; i < 200; i++) expect(isValidCpf(randomCpf())).toBe(true);
    const approver = fakeApprover();
    expect(approver.phone_number).toMatch(/^\+55119\d{8}$/);
    expect(approver.email).toMatch(/@example\.com$/);
  });

  it('quotes arguments for a POSIX shell', () => {
    expect(shellQuote('/account/a-b/device')).toBe('/account/a-b/device');
    expect(shellQuote('{"token":"1"}')).toBe(`'{"token":"1"}'`);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(commandLine(['curl', '-H', 'API-CLIENT-KEY: x'])).toBe(`curl -H 'API-CLIENT-KEY: x'`);
  });
});

describe('the admin token the CLI sends', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'cli-env-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const writeDevSecrets = (token: string) => {
    mkdirSync(join(root, '.local'));
    writeFileSync(join(root, '.local', 'dev-secrets.env'), `# generated\nADMIN_TOKEN=${token}\nTOKEN_HASH_SECRET=x\n`, { mode: 0o600 });
  };

  it('is ADMIN_TOKEN when set, else the one npm start generated for this checkout', () => {
    const generated = `dev-generated-${randomBytes(32).toString('hex')}`;
    const own = randomBytes(24).toString('hex');
    writeDevSecrets(generated);
    expect(cliEnv({ ADMIN_TOKEN: own }, root)).toMatchObject({ adminToken: own, adminTokenSource: 'ADMIN_TOKEN' });
    const fromFile = cliEnv({ ADMIN_TOKEN: ' ' }, root);
    expect(fromFile).toMatchObject({ adminToken: generated, adminTokenSource: 'dev-secrets-file', devSecretsFile: join(root, '.local', 'dev-secrets.env') });
    expect(requireAdminToken(fromFile)).toBe(generated);
  });

  it('has no default: without either, admin commands stop with a message naming both', () => {
    const env = cliEnv({}, root);
    expect(env).toMatchObject({ adminToken: undefined, adminTokenSource: 'none' });
    expect(() => requireAdminToken(env)).toThrow(UsageError);
    expect(() => requireAdminToken(env)).toThrow(/ADMIN_TOKEN is not set and .*\.local\/dev-secrets\.env does not exist/);
  });
});
