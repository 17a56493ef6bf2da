import { randomBytes } from 'node:crypto';
import { appUrls, cliCommand, readyBanner } from './dev-banner';

const root = '/checkout';
const generated = { fromFile: ['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'BOARD_USERNAME', 'BOARD_PASSWORD'] as const, file: '/checkout/.local/dev-secrets.env' };
const devEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  NODE_ENV: 'development',
  BOARD_USERNAME: 'dev-abc123',
  BOARD_PASSWORD: 'dev-generated-0123',
  ...extra,
});

describe("npm start's ready banner", () => {
  it('names the api, its docs, the dashboard with its generated user and password, the outbox and the one command to run', () => {
    const lines = readyBanner({ env: devEnv(), local: { ...generated, fromFile: [...generated.fromFile] }, ready: true, root, cwd: root });
    expect(lines).toEqual([
      'Ready (local development mode):',
      '  api        http://127.0.0.1:3000   (API docs: http://127.0.0.1:3000/docs)',
      '  dashboard  http://127.0.0.1:3000/admin/queues',
      '             user dev-abc123   password dev-generated-0123   (generated, in .local/dev-secrets.env)',
      '  outbox     .outbox/messages.log   (messages with their codes, when no Twilio/SES settings are set)',
      'Try the whole flow, in another terminal:',
      '  npm run cli -- demo --validate',
    ]);
  });

  it('prints nothing outside the development mode, whatever the secrets', () => {
    for (const NODE_ENV of ['production', 'test', undefined]) {
      expect(readyBanner({ env: devEnv({ NODE_ENV }), local: { ...generated, fromFile: [...generated.fromFile] }, ready: true, root })).toEqual([]);
    }
  });

  it('never echoes a dashboard password the environment gave', () => {
    const own = randomBytes(16).toString('hex');
    const lines = readyBanner({
      env: devEnv({ BOARD_PASSWORD: own }),
      local: { fromFile: ['ADMIN_TOKEN', 'TOKEN_HASH_SECRET'] },
      ready: true,
      root,
    });
    expect(lines.join('\n')).not.toContain(own);
    expect(lines.join('\n')).toContain('password (your BOARD_PASSWORD)');
  });

  it('points the command at a non-default api, outbox and token shape, and says when the admin token is your own', () => {
    const env = devEnv({ HOST: '0.0.0.0', PORT: '3140', OUTBOX_PATH: '/tmp/my outbox.log', TOKEN_LENGTH: '8', DOCS_ENABLED: 'false' });
    const lines = readyBanner({ env, local: { fromFile: ['TOKEN_HASH_SECRET', 'BOARD_PASSWORD'] }, ready: false, root });
    expect(lines[0]).toBe('Not ready yet (see the lines above); once it is:');
    expect(lines).toContain('  api        http://127.0.0.1:3140');
    expect(lines).toContain('  outbox     /tmp/my outbox.log   (messages with their codes, when no Twilio/SES settings are set)');
    expect(lines).toContain("  API_URL=http://127.0.0.1:3140 OUTBOX_PATH='/tmp/my outbox.log' TOKEN_LENGTH=8 npm run cli -- demo --validate");
    expect(lines[lines.length - 1]).toMatch(/ADMIN_TOKEN set there/);
  });

  it('knows where the apps answer: loopback for every-interface addresses, nothing for a port chosen at start', () => {
    expect(appUrls({})).toEqual({ api: 'http://127.0.0.1:3000', worker: 'http://127.0.0.1:3001' });
    expect(appUrls({ HOST: '::', PORT: '0', WORKER_HTTP_HOST: '::1', WORKER_HTTP_PORT: '4001' })).toEqual({ api: undefined, worker: 'http://[::1]:4001' });
    expect(cliCommand({ HOST: '127.0.0.2' }, ['outbox'])).toBe('API_URL=http://127.0.0.2:3000 npm run cli -- outbox');
  });
});
