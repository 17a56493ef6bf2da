/**
 * Every surface that is not the device API refuses a caller without the
 * right credentials, and gives nothing away when it does:
 *
 * - the internal admin API (`/internal/...`): 401 DTS000009 for every wrong or
 *   missing bearer token, a device client's valid signature included; nothing
 *   is registered or replaced;
 * - the queue dashboard (`/admin/queues`, Bull Board) when the tree has it:
 *   401 for its pages, API and assets without credentials, no job data; the
 *   read-only user cannot retry or clean; no mutating call that is not
 *   same-origin (a page elsewhere riding on the browser's cached Basic
 *   credentials) changes anything (403 DTS000015); every answer forbids
 *   framing;
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
import { HARDENED, expectCrossOriginRefused, hardeningOf } from '../support/board-checks';
import { Figures } from '../support/figures';
import { DISPATCH_QUEUES, QueueProbe } from '../support/queue-probe';
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
      headers: Object.fromEntries(
        Object.entries({ ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }).filter(([, v]) => v !== undefined),
      ) as Record<string, string>,
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
      ['GET', `/api/queues/${DISPATCH_QUEUES.sms}/${failedJobId}`],
      ['GET', `/api/queues/${DISPATCH_QUEUES.sms}/${failedJobId}/logs`],
      ['PUT', `/api/queues/${DISPATCH_QUEUES.sms}/${failedJobId}/retry`],
      ['PUT', `/api/queues/${DISPATCH_QUEUES.sms}/retry/failed`],
      ['PUT', `/api/queues/${DISPATCH_QUEUES.sms}/clean/failed`],
      ['PUT', `/api/queues/${DISPATCH_QUEUES.sms}/pause`],
      ['DELETE', `/api/queues/${DISPATCH_QUEUES.sms}/${failedJobId}`],
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

  describe('queue dashboard: cross-origin changes and framing (the browser attaches its cached Basic credentials by itself)', () => {
    const Q = DISPATCH_QUEUES.sms;
    /** Where a test caller (curl, tests) sends its requests; what a browser on the board's own page puts in Origin. */
    let self: string;
    let board: string;
    /** The board's mutating routes in @bull-board/api 9 (routes.js), plus one it does not have. */
    let mutating: [method: string, path: string, body?: unknown][];

    beforeAll(() => {
      self = new URL(stack.apiUrl).origin;
      board = `${stack.apiUrl}/admin/queues`;
      mutating = [
        ['POST', `/api/queues/${Q}/add`], // bodiless: what a cross-site fetch or form can send
        ['POST', `/api/queues/${Q}/add`, { name: 'send-token', data: { dispatchId: 'forged' } }],
        ['PATCH', `/api/queues/${Q}/${failedJobId}/update-data`, { jobData: { dispatchId: 'forged' } }],
        ['PUT', `/api/queues/${Q}/${failedJobId}/retry`],
        ['PUT', `/api/queues/${Q}/retry/failed`],
        ['PUT', `/api/queues/${Q}/${failedJobId}/clean`],
        ['PUT', `/api/queues/${Q}/clean/failed`],
        ['PUT', `/api/queues/${Q}/clean/completed`],
        ['PUT', `/api/queues/${Q}/${failedJobId}/promote`],
        ['PUT', `/api/queues/${Q}/promote`],
        ['PATCH', `/api/queues/${Q}/${failedJobId}/delay`, { delay: 60_000 }],
        ['PATCH', `/api/queues/${Q}/${failedJobId}/priority`, { priority: 1 }],
        ['PUT', `/api/queues/${Q}/pause`],
        ['PUT', '/api/queues/pause'],
        ['PUT', `/api/queues/${Q}/concurrency`, { concurrency: 1 }],
        ['PUT', `/api/queues/${Q}/rate-limit`, { max: 1, duration: 60_000 }],
        ['PUT', `/api/queues/${Q}/empty`],
        ['PUT', `/api/queues/${Q}/obliterate`],
        ['DELETE', `/api/queues/${Q}/${failedJobId}`],
        ['POST', '/no-such-route'],
      ];
    });

    /** What must not move: counts per state, the failed job's state and data, the queue's pause flag, the store. */
    async function queueState() {
      const job = await probe.job(failedJobId);
      return {
        counts: await probe.counts(),
        failedJob: job && { state: await job.getState(), data: job.data, opts: job.opts, attemptsMade: job.attemptsMade },
        paused: await probe.sms.isPaused(),
        store: await stateSnapshot(stack),
      };
    }

    it('every mutating call with valid Basic credentials that is not same-origin → 403 DTS000015, and nothing changes', async () => {
      const full = basic(BOARD_USER.name, BOARD_USER.password);
      const sameSite = `http://127.0.0.1:${Number(new URL(self).port) + 1}`;
      const ambient: [string, Record<string, string>][] = [
        ['a foreign Origin', { origin: 'http://evil.example' }],
        ['the same host on another port (same site, another origin)', { origin: sameSite }],
        ['Origin: null (sandboxed frame, data: URL)', { origin: 'null' }],
        ['a malformed Origin', { origin: 'not an origin' }],
        ['a foreign Origin and a same-origin Referer', { origin: 'http://evil.example', referer: `${self}/admin/queues/` }],
        ['the right Origin but Sec-Fetch-Site: cross-site', { origin: self, 'sec-fetch-site': 'cross-site' }],
        ['the right Origin but Sec-Fetch-Site: same-site', { origin: self, 'sec-fetch-site': 'same-site' }],
        ['no Origin and a foreign Referer', { referer: 'http://evil.example/attack.html' }],
        ['no Origin and a Referer from another port', { referer: `${sameSite}/attack.html` }],
        ['neither Origin nor Referer', {}],
      ];
      const attempts: [string, string, Record<string, string>][] = [
        ...ambient.map(([name, headers]): [string, string, Record<string, string>] => [`full user, ${name}`, full, headers]),
        // A bearer token is never attached by a browser, but one that says it comes from elsewhere is refused too.
        ['admin token, a foreign Origin', `Bearer ${ADMIN_TOKEN}`, { origin: 'http://evil.example' }],
        ['admin token, Sec-Fetch-Site: cross-site', `Bearer ${ADMIN_TOKEN}`, { 'sec-fetch-site': 'cross-site' }],
        ['admin token, a foreign Referer', `Bearer ${ADMIN_TOKEN}`, { referer: 'http://evil.example/attack.html' }],
        // Whoever the user: a cross-origin change is refused before anything else.
        ['read-only user, a foreign Origin', basic(BOARD_VIEWER.name, BOARD_VIEWER.password), { origin: 'http://evil.example' }],
      ];
      const before = await queueState();
      for (const [method, path, body] of mutating) {
        for (const [name, authorization, headers] of attempts) {
          const res = await raw(method, board + path, { authorization, ...headers }, body);
          expectCrossOriginRefused(res, { method, path, name });
          refused += 1;
        }
      }
      expect(await queueState()).toEqual(before);
      expect(before.failedJob?.state).toBe('failed');
      figures.set('dashboard_cross_origin_refused', mutating.length * attempts.length);
      figures.set(
        'dashboard_mutating_routes_covered',
        mutating.map(([m, p, body]) => `${m} ${p.replace(failedJobId, ':jobId')}${m === 'POST' && body === undefined ? ' (no body)' : ''}`),
      );
    });

    it('the same calls same-origin (browser) or with the admin token and no Origin (tools) are accepted', async () => {
      const full = basic(BOARD_USER.name, BOARD_USER.password);
      // A browser on the board's own page: Origin and Sec-Fetch-Site say so.
      const added = await raw(
        'POST',
        `${board}/api/queues/${Q}/add`,
        { authorization: full, origin: self, 'sec-fetch-site': 'same-origin' },
        {
          name: 'board-probe',
          data: { probe: true },
          options: { delay: 3_600_000 },
        },
      );
      expect(added.status).toBe(200);
      const probeJobId: string = added.body.job.id;
      expect(await (await probe.job(probeJobId))!.getState()).toBe('delayed');
      // TLS terminated in front: the browser's Origin is https, the api sees the same host.
      const httpsOrigin = `https://${new URL(self).host}`;
      expect(
        (await raw('PATCH', `${board}/api/queues/${Q}/${probeJobId}/update-data`, { authorization: full, origin: httpsOrigin }, { jobData: { probe: 2 } }))
          .status,
      ).toBe(200);
      expect((await probe.job(probeJobId))!.data).toEqual({ probe: 2 });
      // No Origin (an older browser), a same-origin Referer.
      expect((await raw('PUT', `${board}/api/queues/${Q}/pause`, { authorization: full, referer: `${self}/admin/queues/queue/${Q}` })).status).toBe(200);
      expect(await probe.sms.isPaused()).toBe(true);
      // Tools: the admin token, no Origin, no Referer.
      expect((await raw('PUT', `${board}/api/queues/${Q}/resume`, { authorization: `Bearer ${ADMIN_TOKEN}` })).status).toBe(200);
      expect(await probe.sms.isPaused()).toBe(false);
      expect((await raw('PUT', `${board}/api/queues/${Q}/${probeJobId}/clean`, { authorization: `Bearer ${ADMIN_TOKEN}`, origin: self })).status).toBe(204);
      expect(await probe.job(probeJobId)).toBeUndefined();
    });

    it('every board response forbids framing and sniffing and keeps referrers on the site: pages, assets, API, 303/401/403/404/405', async () => {
      const full = basic(BOARD_USER.name, BOARD_USER.password);
      const viewer = basic(BOARD_VIEWER.name, BOARD_VIEWER.password);
      const page = await raw('GET', `${board}/`, { authorization: full });
      const scripts = [...page.text.matchAll(/<script[^>]+src="([^"]+)"/g)].map((m) => m[1]);
      const styles = [...page.text.matchAll(/<link href="(static\/[^"]+)"/g)].map((m) => m[1]);
      expect(scripts.length).toBeGreaterThan(0);
      const answers: [string, string, string, Record<string, string | undefined>, number][] = [
        ['page', 'GET', '', { authorization: full }, 200],
        ['page (HEAD)', 'HEAD', '/', { authorization: full }, 200],
        ['queue page', 'GET', `/queue/${Q}?status=failed`, { authorization: full }, 200],
        ['script', 'GET', `/${scripts[0]}`, { authorization: full }, 200],
        ['stylesheet', 'GET', `/${styles[0]}`, { authorization: full }, 200],
        ['image', 'GET', '/static/favicon-32x32.png', { authorization: full }, 200],
        ['API', 'GET', '/api/queues', { authorization: `Bearer ${ADMIN_TOKEN}` }, 200],
        ['API, one job', 'GET', `/api/queues/${Q}/${failedJobId}`, { authorization: full }, 200],
        ['no credentials', 'GET', '', {}, 401],
        ['no credentials, an asset', 'GET', '/static/favicon-32x32.png', {}, 401],
        ['a cross-origin change', 'PUT', `/api/queues/${Q}/pause`, { authorization: full, origin: 'http://evil.example' }, 403],
        ['an unknown page', 'GET', '/no-such-page', { authorization: full }, 404],
        ['an unknown asset', 'GET', '/static/no-such-file.js', { authorization: full }, 404],
        ['read-only user sent to the read-only board', 'GET', '', { authorization: viewer }, 303],
        ['read-only board', 'GET', '/readonly', { authorization: viewer }, 200],
        ['read-only board refusing a change', 'PUT', `/readonly/api/queues/${Q}/pause`, { authorization: viewer }, 405],
      ];
      for (const [name, method, path, headers, status] of answers) {
        const sent = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>;
        const res = await http(board + path, { method, headers: sent, redirect: 'manual' });
        expect({ name, status: res.status, ...hardeningOf((n) => res.headers.get(n)) }).toEqual({ name, status, ...HARDENED });
      }
      figures.set('dashboard_header_checks', answers.length);
    });
  });

  it('/metrics on the api and on the worker: 401 and no metric without METRICS_TOKEN; 200 with it', async () => {
    const targets = [stack.apiUrl, stack.workerUrl].filter((u): u is string => !!u);
    expect(targets).toHaveLength(2);
    for (const base of targets) {
      for (const authorization of [
        undefined,
        '',
        'Bearer ',
        `Bearer ${METRICS_TOKEN}x`,
        `Bearer ${METRICS_TOKEN.slice(1)}`,
        METRICS_TOKEN,
        basic('metrics', METRICS_TOKEN),
        `Bearer ${ADMIN_TOKEN}`,
      ]) {
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
    const secrets = [
      ADMIN_TOKEN,
      TOKEN_HASH_SECRET,
      METRICS_TOKEN,
      BOARD_USER.password,
      BOARD_VIEWER.password,
      FAKE_TWILIO_AUTH_TOKEN,
      d.approver.phone_number,
      d.approver.email,
      stack.prefix,
    ];
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
    const plain =
      /\b(adminToken|metricsToken|tokenHashSecret|authToken|password|tokenHash|signature|expected)\b\s*[!=]==|[!=]==\s*[\w.]*\b(adminToken|metricsToken|tokenHashSecret|authToken|password|tokenHash|signature)\b/;
    const offenders = files.filter((f) => plain.test(readFileSync(f, 'utf8'))).map((f) => f.slice(ROOT.length + 1));
    expect(offenders).toEqual([]);

    // The comparators themselves: digests of equal length through timingSafeEqual.
    expect(text('libs/domain/src/secret-compare.ts')).toMatch(/timingSafeEqual\(expectedDigest, secretDigest\(candidate\)\)/);
    expect(text('apps/api/src/auth/admin-auth.guard.ts')).toMatch(/secretEquals\(/);
    expect(text('libs/observability/src/metrics-auth.ts')).toMatch(/secretEquals\(/);
    expect(text('libs/domain/src/token-crypto.ts')).toMatch(/timingSafeEqual\(digest\(this.codeFor\(dispatchId, nonce\)\), digest\(candidate\)\)/);
    const boardCredentials = join(ROOT, 'apps/api/src/board/board-credentials.ts');
    if (files.includes(boardCredentials)) expect(readFileSync(boardCredentials, 'utf8')).toMatch(/secretEquals\(user\.password, password\)/);
    // Twilio receipts: the SDK's validateRequest compares through safeCompare, crypto.timingSafeEqual (constant-time).
    const webhooks = readFileSync(join(ROOT, 'node_modules/twilio/lib/webhooks/webhooks.js'), 'utf8');
    expect(webhooks).toMatch(/return safeCompare\(Buffer\.from\(twilioHeader\), Buffer\.from\(signatureWithoutPort\)\)/);
    expect(webhooks).toMatch(/function safeCompare\(a, b\) \{\s+return a\.length === b\.length && crypto_1\.default\.timingSafeEqual\(a, b\);/);
    figures.set('files_audited', files.length);
  });
});
