/**
 * Every surface that is not the device API refuses a caller without the
 * right credentials, and gives nothing away when it does:
 *
 * - the internal admin API (`/internal/...`): 401 DTS000009 for every wrong or
 *   missing bearer token, a device client's valid signature included; nothing
 *   is registered or replaced;
 * - the queue dashboard (`/admin/queues`, Bull Board) when the tree has it:
 *   401 for its pages, API and assets without credentials, no job data; the
 *   read-only user cannot retry or clean;
 * - `/metrics` on the api and on the worker when METRICS_TOKEN is set: 401
 *   and no metric without the token;
 * - the public ones (health, API docs) expose no secret.
 *
 * And every secret comparison in the code is constant-time (a source audit:
 * a timing measurement over loopback HTTP would prove little either way).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_TWILIO_AUTH_TOKEN } from '../fakes';
import { http } from '../support/api-client';
import { expectError, pendingDevice, stateSnapshot, unchanged, type PendingDevice } from '../support/e2e-checks';
import { Figures } from '../support/figures';
import { QueueProbe } from '../support/queue-probe';
import { TEST_REDIS_URL } from '../support/redis';
import { ADMIN_TOKEN, Stack, TOKEN_HASH_SECRET, newApprover } from '../support/stack';
import { generateClientKeyPair } from '@lib/request-signing';

const ROOT = join(__dirname, '..', '..');
const METRICS_TOKEN = 'sec-metrics-token-0123456789abcdef';
const BOARD_USER = { name: 'ops', password: 'sec-board-password-0123456789' };
const BOARD_VIEWER = { name: 'viewer', password: 'sec-viewer-password-0123456789' };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Authorization values that must never open an admin surface. */
const WRONG_ADMIN_CREDENTIALS: [string, string | undefined][] = [
  ['no header', undefined],
  ['empty', ''],
  ['scheme only', 'Bearer'],
  ['empty bearer', 'Bearer '],
  ['wrong token', 'Bearer not-the-admin-token-0123456789abcdef'],
  ['token minus its last character', `Bearer ${ADMIN_TOKEN.slice(0, -1)}`],
  ['token plus a character', `Bearer ${ADMIN_TOKEN}x`],
  ['token in upper case', `Bearer ${ADMIN_TOKEN.toUpperCase()}`],
  ['token without a scheme', ADMIN_TOKEN],
  ['token as basic password', basic('admin', ADMIN_TOKEN)],
  ['another scheme', `Token ${ADMIN_TOKEN}`],
  ['the token hash secret', `Bearer ${TOKEN_HASH_SECRET}`],
  ['the metrics token', `Bearer ${METRICS_TOKEN}`],
];

describe('admin surfaces refuse callers without credentials', () => {
  const figures = new Figures('security', __filename);
  let stack: Stack;
  let probe: QueueProbe;
  let d: PendingDevice;
  let failedJobId: string;
  let refused = 0;

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'admin',
      env: {
        METRICS_TOKEN,
        BOARD_USERNAME: BOARD_USER.name,
        BOARD_PASSWORD: BOARD_USER.password,
        BOARD_READONLY_USERNAME: BOARD_VIEWER.name,
        BOARD_READONLY_PASSWORD: BOARD_VIEWER.password,
        DISPATCH_ATTEMPTS: '1',
      },
    });
    probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
    d = await pendingDevice(stack, 'sms');
    // A failed job, for the dashboard's mutating routes to aim at.
    stack.twilio.permanentError(1);
    const other = await stack.newDevice('sms');
    failedJobId = (await other.client.query(other.accountKey, other.deviceKey)).body.token_dispatch.dispatch_id;
    expect(await probe.finished(failedJobId)).toBe('failed');
  });

  afterAll(async () => {
    figures.set('refused_attempts', refused);
    figures.write();
    await probe?.close();
    await stack?.stop();
  });

  const raw = (method: string, url: string, headers: Record<string, string | undefined>, body?: unknown) =>
    http(url, {
      method,
      headers: Object.fromEntries(Object.entries({ ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }).filter(([, v]) => v !== undefined)) as Record<string, string>,
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it('internal API: every wrong or missing credential → 401 DTS000009, and nothing is registered or replaced', async () => {
    const keys = generateClientKeyPair('p256');
    const approver = newApprover();
    const targets: [string, unknown][] = [
      // Replacing the real client's key or the real account's approvers would be a takeover.
      [`/internal/clients/${d.client.clientKey}`, { name: 'takeover', public_key: keys.publicKeyPem }],
      [`/internal/accounts/${d.accountKey}`, { client_key: d.client.clientKey, status: 'active', kind: 'regular', approvers: [approver] }],
      [`/internal/clients/${randomUUID()}`, { name: 'new', public_key: keys.publicKeyPem }],
      [`/internal/accounts/${randomUUID()}`, { client_key: d.client.clientKey, status: 'active', kind: 'regular', approvers: [approver] }],
    ];
    const signedByClient = await d.client.headersFor('PUT', targets[0][0], JSON.stringify(targets[0][1]));
    await unchanged(stack, [d], async () => {
      for (const [path, body] of targets) {
        for (const [name, authorization] of WRONG_ADMIN_CREDENTIALS) {
          const res = await raw('PUT', stack.apiUrl + path, { authorization }, body);
          expect({ name, path, status: res.status }).toEqual({ name, path, status: 401 });
          expectError(res, 'DTS000009');
          refused += 1;
        }
        // A device client's own valid signature is not an admin credential.
        expectError(await raw('PUT', stack.apiUrl + path, { ...signedByClient, 'content-type': undefined }, body), 'DTS000009');
        refused += 1;
      }
    });
    // The right token does work (so the refusals above are about the credential).
    const ok = await raw('PUT', stack.apiUrl + targets[2][0], { authorization: `Bearer ${ADMIN_TOKEN}` }, targets[2][1]);
    expect(ok.status).toBe(200);
    figures.set('internal_api_refused', targets.length * (WRONG_ADMIN_CREDENTIALS.length + 1));
  });

  it('queue dashboard: pages, API and assets → 401 without credentials; no job data; read-only cannot change jobs', async () => {
    const board = `${stack.apiUrl}/admin/queues`;
    const present = (await raw('GET', `${board}/api/queues`, { authorization: `Bearer ${ADMIN_TOKEN}` })).status === 200;
    figures.set('dashboard_in_tree', present);
    const paths: [string, string][] = [
      ['GET', ''],
      ['GET', '/'],
      ['GET', '/api/queues'],
      ['GET', `/api/queues/token-dispatch/${failedJobId}`],
      ['GET', `/api/queues/token-dispatch/${failedJobId}/logs`],
      ['PUT', `/api/queues/token-dispatch/${failedJobId}/retry`],
      ['PUT', '/api/queues/token-dispatch/retry/failed'],
      ['PUT', '/api/queues/token-dispatch/clean/failed'],
      ['PUT', '/api/queues/token-dispatch/pause'],
      ['DELETE', `/api/queues/token-dispatch/${failedJobId}`],
      ['GET', '/static/js/main.js'],
      ['GET', '/readonly'],
      ['GET', '/readonly/api/queues'],
    ];
    const wrong: [string, string | undefined][] = [
      ['none', undefined],
      ['wrong password', basic(BOARD_USER.name, 'nope')],
      ["viewer's name, ops password", basic(BOARD_VIEWER.name, BOARD_USER.password)],
      ['unknown user', basic('root', BOARD_USER.password)],
      ['wrong bearer', 'Bearer not-the-admin-token'],
      ['metrics token', `Bearer ${METRICS_TOKEN}`],
    ];
    const before = await stateSnapshot(stack);
    for (const [method, path] of paths) {
      for (const [name, authorization] of wrong) {
        const res = await raw(method, board + path, { authorization }, method === 'GET' ? undefined : {});
        // Without the board in the tree there is nothing there: 404 in the envelope.
        const expected = present ? 401 : 404;
        expect({ method, path, name, status: res.status }).toEqual({ method, path, name, status: expected });
        expect(res.text).not.toContain(failedJobId);
        expect(res.text).not.toContain('send-token');
        refused += 1;
      }
    }
    if (present) {
      // The read-only user sees the board but cannot change a job.
      for (const [method, path] of paths.filter(([m]) => m !== 'GET')) {
        const res = await raw(method, board + path, { authorization: basic(BOARD_VIEWER.name, BOARD_VIEWER.password) }, {});
        expect({ method, path, status: res.status >= 400 }).toEqual({ method, path, status: true });
        refused += 1;
      }
      const viewer = await raw('GET', `${board}/readonly/api/queues`, { authorization: basic(BOARD_VIEWER.name, BOARD_VIEWER.password) });
      expect(viewer.status).toBe(200);
    }
    expect(await (await probe.job(failedJobId))!.getState()).toBe('failed');
    expect(await stateSnapshot(stack)).toEqual(before);
    figures.set('dashboard_refused', paths.length * wrong.length);
  });

  it('/metrics on the api and on the worker: 401 and no metric without METRICS_TOKEN; 200 with it', async () => {
    const targets = [stack.apiUrl, stack.workerUrl].filter((u): u is string => !!u);
    expect(targets).toHaveLength(2);
    for (const base of targets) {
      for (const authorization of [undefined, '', 'Bearer ', `Bearer ${METRICS_TOKEN}x`, `Bearer ${METRICS_TOKEN.slice(1)}`, METRICS_TOKEN, basic('metrics', METRICS_TOKEN), `Bearer ${ADMIN_TOKEN}`]) {
        const res = await raw('GET', `${base}/metrics`, { authorization });
        expect({ base, authorization, status: res.status }).toEqual({ base, authorization, status: 401 });
        expect(res.text).not.toMatch(/^# (HELP|TYPE) /m);
        refused += 1;
      }
      const ok = await raw('GET', `${base}/metrics`, { authorization: `Bearer ${METRICS_TOKEN}` });
      expect(ok.status).toBe(200);
      expect(ok.text).toMatch(/^# TYPE /m);
    }
    figures.set('metrics_refused', targets.length * 8);
  });

  it('public surfaces (health, API docs) give away no secret, key prefix or contact data', async () => {
    const secrets = [ADMIN_TOKEN, TOKEN_HASH_SECRET, METRICS_TOKEN, BOARD_USER.password, BOARD_VIEWER.password, FAKE_TWILIO_AUTH_TOKEN, d.approver.phone_number, d.approver.email, stack.prefix];
    const urls: [string, string][] = [
      ['api', '/health/live'],
      ['api', '/health/ready'],
      ['api', '/docs'],
      ['api', '/docs/openapi.json'],
      ['worker', '/health/live'],
      ['worker', '/health/ready'],
    ];
    const seen: Record<string, number> = {};
    for (const [app, path] of urls) {
      const url = `${app === 'api' ? stack.apiUrl : stack.workerUrl}${path}`;
      const res = await raw('GET', url, {});
      seen[`${app} ${path}`] = res.status;
      expect(res.status).toBeLessThan(500);
      for (const s of secrets) expect({ url, leaks: res.text.includes(s) }).toEqual({ url, leaks: false });
    }
    figures.set('public_surfaces', seen);
  });

  it('every secret comparison is constant-time (source audit)', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && !path.endsWith('.spec.ts')) files.push(path);
      }
    };
    walk(join(ROOT, 'apps'));
    walk(join(ROOT, 'libs'));
    const text = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');

    // No secret is compared with === / !== anywhere.
    const plain = /\b(adminToken|metricsToken|tokenHashSecret|authToken|password|tokenHash|signature|expected)\b\s*[!=]==|[!=]==\s*[\w.]*\b(adminToken|metricsToken|tokenHashSecret|authToken|password|tokenHash|signature)\b/;
    const offenders = files.filter((f) => plain.test(readFileSync(f, 'utf8'))).map((f) => f.slice(ROOT.length + 1));
    expect(offenders).toEqual([]);

    // The comparators themselves: digests of equal length through timingSafeEqual.
    expect(text('libs/domain/src/secret-compare.ts')).toMatch(/timingSafeEqual\(expectedDigest, secretDigest\(candidate\)\)/);
    expect(text('apps/api/src/auth/admin-auth.guard.ts')).toMatch(/secretEquals\(/);
    expect(text('libs/observability/src/metrics-auth.ts')).toMatch(/secretEquals\(/);
    expect(text('libs/domain/src/token-crypto.ts')).toMatch(/timingSafeEqual\(digest\(this.codeFor\(dispatchId, nonce\)\), digest\(candidate\)\)/);
    const boardCredentials = join(ROOT, 'apps/api/src/board/board-credentials.ts');
    if (files.includes(boardCredentials)) expect(readFileSync(boardCredentials, 'utf8')).toMatch(/secretEquals\(user\.password, password\)/);
    // Twilio receipts: the SDK's validateRequest compares with scmp (constant-time).
    expect(readFileSync(join(ROOT, 'node_modules/twilio/lib/webhooks/webhooks.js'), 'utf8')).toMatch(/return scmp\(/);
    figures.set('files_audited', files.length);
  });
});
