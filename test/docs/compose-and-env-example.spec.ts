/**
 * docker-compose.yml and .env.example must not run on, or hand out, a
 * secret: compose requires the four secrets (no fallback value) and publishes
 * on loopback only; .env.example lists every setting and leaves the secrets empty.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS } from '@lib/config';

const ROOT = join(__dirname, '..', '..');
const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
const envExample = readFileSync(join(ROOT, '.env.example'), 'utf8');
const SECRETS = ['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'METRICS_TOKEN', 'BOARD_PASSWORD', 'BOARD_READONLY_PASSWORD'];

/** The variables the configuration reads, for either app. */
const schemaVariables = (): string[] => [...new Set([...SETTINGS.api, ...SETTINGS.worker])];

describe('docker-compose.yml', () => {
  it('requires the secrets and the dashboard user, with no fallback value', () => {
    for (const name of ['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'BOARD_USERNAME', 'BOARD_PASSWORD']) {
      expect(compose).toMatch(new RegExp(`^\\s+${name}: \\$\\{${name}:\\?[^}]+\\}$`, 'm'));
    }
    for (const name of SECRETS) expect(compose).not.toMatch(new RegExp(`\\$\\{${name}:?-`));
  });

  it('publishes ports on 127.0.0.1 only', () => {
    const published = [...compose.matchAll(/^\s+ports:\n((?:\s+- .+\n)+)/gm)].flatMap((m) =>
      m[1]
        .trim()
        .split('\n')
        .map((l) => l.trim()),
    );
    expect(published.length).toBeGreaterThan(0);
    for (const entry of published) expect(entry).toMatch(/^- "127\.0\.0\.1:\d+:\d+"$/);
  });

  it('passes every setting to the app that reads it', () => {
    const block = (from: string, to: string) => compose.slice(compose.indexOf(from), compose.indexOf(to));
    const shared = block('x-shared-environment:', '\nservices:');
    const passed = (service: string) => (name: string) => new RegExp(`^\\s+${name}:`, 'm').test(shared + service);
    const api = passed(block('\n  api:', '\n  worker:'));
    const worker = passed(block('\n  worker:', '\n  ses:'));
    expect(SETTINGS.api.filter((name) => !api(name))).toEqual([]);
    expect(SETTINGS.worker.filter((name) => !worker(name))).toEqual([]);
  });

  it('gives the worker no admin token and no dashboard user', () => {
    const worker = compose.slice(compose.indexOf('\n  worker:'), compose.indexOf('\n  ses:'));
    const shared = compose.slice(compose.indexOf('x-shared-environment:'), compose.indexOf('\nservices:'));
    expect(worker.match(/\*[\w-]+/g)).toEqual(['*shared-environment']);
    expect(`${shared}${worker}`).not.toMatch(/^\s+(ADMIN_TOKEN|BOARD_\w+):/m);
  });
});

describe('.env.example', () => {
  it('lists every setting of the config schema', () => {
    const names = schemaVariables();
    expect(names).toEqual(expect.arrayContaining(['GUESS_LIMIT_PER_APPROVER', 'AUTH_CLOCK_SKEW_MARGIN_SECONDS']));
    const listed = new Set([...envExample.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect(names.filter((n) => !listed.has(n))).toEqual([]);
  });

  it('holds no secret value and no NODE_ENV that would leave production rules', () => {
    for (const name of [...SECRETS, 'BOARD_USERNAME', 'BOARD_READONLY_USERNAME', 'NODE_ENV']) expect(envExample).toMatch(new RegExp(`^${name}=$`, 'm'));
  });
});
