/**
 * The queue dashboard (Bull Board at /admin/queues) end to end: the built api
 * and worker with dashboard users configured, one delivered token (a
 * completed job) and one refused by Twilio as an invalid number (a failed
 * job), then
 * - over HTTP: nothing under /admin/queues without valid credentials (401 and
 *   a Basic challenge), full access with the full user or the admin bearer
 *   token, a read-only board for the read-only user that refuses every
 *   mutating call, and job data, return values and failure reasons that hold
 *   ids and codes only;
 * - in a real Chromium (Debian's, driven by playwright-core): refused without
 *   credentials, then the queue, its Completed and Failed tabs with one job
 *   each, and a full-page screenshot in test/artifacts/bull-board.png; a page
 *   of another origin (a second local server), opened by a browser logged into
 *   the board, neither changes the queue with the browser's credentials nor
 *   shows the board in a frame; and the board's own Retry all button (a PUT
 *   from its own page) still works.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { DISPATCH_QUEUES } from '@lib/dispatch-contract';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { FAKE_TWILIO_AUTH_TOKEN } from '../fakes';
import { http, type HttpResult } from '../support/api-client';
import { HARDENED, hardeningOf } from '../support/board-checks';
import { expectError } from '../support/e2e-checks';
import { parseLogLines } from '../support/logs';
import { TEST_REDIS_URL } from '../support/redis';
import { ADMIN_TOKEN, Stack, TOKEN_HASH_SECRET, codeIn } from '../support/stack';

/** The SMS send queue: this file's devices get their codes by SMS. */
const QUEUE = DISPATCH_QUEUES.sms;
const FULL_USER = { username: 'ops-e2e', password: 'board-full-password-7Qm2' };
const READ_ONLY_USER = { username: 'viewer-e2e', password: 'board-readonly-password-4Kx9' };
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = join(__dirname, '..', 'artifacts', 'bull-board.png');
const JOB_DATA_KEYS = ['dispatchId', 'requestId'];

const basic = (user: { username: string; password: string }) => `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;

/** `value` as a whole token: not part of a longer run of letters or digits (timestamps, hex ids). */
function containsToken(haystack: string, value: string): boolean {
  return new RegExp(`(?<![0-9A-Za-z])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![0-9A-Za-z])`).test(haystack);
}

describe('queue dashboard (Bull Board)', () => {
  let stack: Stack;
  let queue: Queue;
  let events: QueueEvents;
  let completedId: string;
  let failedId: string;
  /** What must never show on the dashboard: contact data, the code sent, secrets. */
  const forbidden: string[] = [];

  const board = (path: string, authorization?: string, init: RequestInit = {}): Promise<HttpResult> =>
    http(`${stack.apiUrl}${path}`, {
      redirect: 'manual',
      ...init,
      headers: { ...(authorization ? { authorization } : {}), ...(init.headers as Record<string, string> | undefined) },
    });

  /** Creates an SMS device and waits for its send-token job to end; returns the job id and how it ended. */
  async function deviceJob(): Promise<{ jobId: string; state: string; approver: { phone_number: string; email: string } }> {
    const device = await stack.newDevice('sms');
    const query = await device.client.query(device.accountKey, device.deviceKey);
    const jobId: string = query.body.token_dispatch.dispatch_id;
    const job = await queue.getJob(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    await job.waitUntilFinished(events, 15_000).catch(() => undefined); // a failure is what the second device is for
    return { jobId, state: await queue.getJobState(jobId), approver: device.approver };
  }

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'dashboard',
      env: {
        BOARD_USERNAME: FULL_USER.username,
        BOARD_PASSWORD: FULL_USER.password,
        BOARD_READONLY_USERNAME: READ_ONLY_USER.username,
        BOARD_READONLY_PASSWORD: READ_ONLY_USER.password,
      },
    });
    const u = new URL(TEST_REDIS_URL);
    const opts = { connection: { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null }, prefix: stack.keys.queuePrefix };
    queue = new Queue(QUEUE, opts);
    events = new QueueEvents(QUEUE, opts);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);

    const delivered = await deviceJob();
    expect(delivered.state).toBe('completed');
    completedId = delivered.jobId;

    stack.twilio.permanentError(1);
    const refused = await deviceJob();
    expect(refused.state).toBe('failed');
    failedId = refused.jobId;

    const [sms] = stack.twilio.messages;
    forbidden.push(
      codeIn(sms.body),
      ...[delivered.approver, refused.approver].flatMap((a) => [a.phone_number, a.phone_number.slice(1), a.email]),
      ADMIN_TOKEN,
      TOKEN_HASH_SECRET,
      FAKE_TWILIO_AUTH_TOKEN,
      FULL_USER.password,
      READ_ONLY_USER.password,
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all([events?.close(), queue?.close()]);
    await stack?.stop();
  });

  describe('over HTTP', () => {
    const PROTECTED = [
      '/admin/queues',
      '/admin/queues/',
      `/admin/queues/queue/${QUEUE}?status=failed`,
      '/admin/queues/static/favicon-32x32.png',
      '/admin/queues/api/queues',
      `/admin/queues/api/queues/${QUEUE}/any-job`,
      '/admin/queues/no-such-page',
      '/admin/queues/readonly',
      '/admin/queues/readonly/api/queues',
    ];

    it.each([
      ['no credentials', undefined],
      ['a wrong password', basic({ ...FULL_USER, password: 'wrong' })],
      ["the read-only user's name with the full user's password", basic({ ...READ_ONLY_USER, password: FULL_USER.password })],
      ['a malformed basic value', 'Basic not-base64-at-all'],
      ['a wrong bearer token', 'Bearer not-the-admin-token'],
      ['the admin token as a basic password', basic({ username: 'admin', password: ADMIN_TOKEN })],
    ])('refuses %s everywhere under /admin/queues with 401 and a Basic challenge', async (_case, authorization) => {
      for (const path of PROTECTED) {
        const res = await board(path, authorization);
        expect({ path, status: res.status, challenge: res.headers.get('www-authenticate') }).toEqual({
          path,
          status: 401,
          challenge: expect.stringMatching(/^Basic realm="[^"]+"/),
        });
        expectError(res, 'DTS000009');
        for (const name of Object.values(DISPATCH_QUEUES)) expect(res.text).not.toContain(name);
      }
    });

    it('serves the board to the full user and to the admin bearer token', async () => {
      for (const authorization of [basic(FULL_USER), `Bearer ${ADMIN_TOKEN}`]) {
        const page = await board('/admin/queues', authorization);
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        expect(page.text).toContain('<base href="/admin/queues/"');

        const asset = await board('/admin/queues/static/favicon-32x32.png', authorization);
        expect(asset.status).toBe(200);

        const api = await board('/admin/queues/api/queues', authorization);
        expect(api.status).toBe(200);
        expect(api.body.queues.map((q: { name: string; readOnlyMode: boolean }) => [q.name, q.readOnlyMode])).toEqual([
          [DISPATCH_QUEUES.sms, false],
          [DISPATCH_QUEUES.email, false],
        ]);
      }
    });

    it('sends the read-only user to the read-only board, which lists the queue read-only', async () => {
      const redirected = await board(`/admin/queues/queue/${QUEUE}?status=failed`, basic(READ_ONLY_USER));
      expect(redirected.status).toBe(303);
      expect(redirected.headers.get('location')).toBe(`/admin/queues/readonly/queue/${QUEUE}?status=failed`);

      const page = await board('/admin/queues/readonly', basic(READ_ONLY_USER));
      expect(page.status).toBe(200);
      expect(page.text).toContain('<base href="/admin/queues/readonly/"');

      const api = await board('/admin/queues/readonly/api/queues', basic(READ_ONLY_USER));
      expect(api.status).toBe(200);
      expect(api.body.queues.map((q: { name: string; readOnlyMode: boolean }) => [q.name, q.readOnlyMode])).toEqual([
        [DISPATCH_QUEUES.sms, true],
        [DISPATCH_QUEUES.email, true],
      ]);
    });

    it('lets no read-only caller retry, clean, promote or otherwise change jobs', async () => {
      const countsBefore = await queue.getJobCounts();
      const attempts: [string, string, string][] = [];
      for (const base of ['/admin/queues', '/admin/queues/readonly']) {
        attempts.push(
          ['PUT', `${base}/api/queues/${QUEUE}/${failedId}/retry`, basic(READ_ONLY_USER)],
          ['PUT', `${base}/api/queues/${QUEUE}/${failedId}/clean`, basic(READ_ONLY_USER)],
          ['PUT', `${base}/api/queues/${QUEUE}/${completedId}/promote`, basic(READ_ONLY_USER)],
          ['PUT', `${base}/api/queues/${QUEUE}/retry/failed`, basic(READ_ONLY_USER)],
          ['PUT', `${base}/api/queues/${QUEUE}/clean/completed`, basic(READ_ONLY_USER)],
          ['PUT', `${base}/api/queues/${QUEUE}/pause`, basic(READ_ONLY_USER)],
          ['PUT', `${base}/api/queues/pause`, basic(READ_ONLY_USER)],
          ['PUT', `${base}/api/queues/${QUEUE}/empty`, basic(READ_ONLY_USER)],
          ['POST', `${base}/api/queues/${QUEUE}/add`, basic(READ_ONLY_USER)],
        );
      }
      // The read-only board is read-only whoever opens it.
      attempts.push(['PUT', `/admin/queues/readonly/api/queues/${QUEUE}/${failedId}/retry`, basic(FULL_USER)]);
      attempts.push(['PUT', `/admin/queues/readonly/api/queues/${QUEUE}/${failedId}/retry`, `Bearer ${ADMIN_TOKEN}`]);

      for (const [method, path, authorization] of attempts) {
        const res = await board(path, authorization, {
          method,
          headers: { 'content-type': 'application/json' },
          body: method === 'POST' ? JSON.stringify({ name: 'send-token', data: {} }) : undefined,
        });
        expect({ method, path, status: res.status }).toEqual({ method, path, status: path.startsWith('/admin/queues/readonly') ? 405 : 403 });
      }

      expect(await queue.getJobState(failedId)).toBe('failed');
      expect(await queue.getJobState(completedId)).toBe('completed');
      expect(await queue.isPaused()).toBe(false);
      expect(await queue.getJobCounts()).toEqual(countsBefore);
    });

    it('shows ids and codes only: job data, return values and failure reasons', async () => {
      const texts: string[] = [];
      const jobs: Record<string, any> = {};
      for (const status of ['completed', 'failed', 'latest']) {
        const res = await board(`/admin/queues/api/queues?activeQueue=${QUEUE}&status=${status}`, `Bearer ${ADMIN_TOKEN}`);
        expect(res.status).toBe(200);
        texts.push(res.text);
      }
      for (const id of [completedId, failedId]) {
        const res = await board(`/admin/queues/api/queues/${QUEUE}/${id}`, `Bearer ${ADMIN_TOKEN}`);
        expect(res.status).toBe(200);
        texts.push(res.text);
        jobs[id] = res.body.job;
      }

      for (const job of Object.values(jobs)) {
        expect(Object.keys(job.data).sort()).toEqual(JOB_DATA_KEYS);
        expect(job.data).toEqual(expect.objectContaining({ dispatchId: job.id }));
      }
      expect(jobs[completedId].returnValue).toEqual({ outcome: 'sent', provider: 'twilio', provider_message_id: expect.stringMatching(/^SM[0-9a-f]{32}$/) });
      expect(jobs[failedId].failedReason).toBe('twilio_21211');

      const all = texts.join('\n');
      for (const value of forbidden) expect({ value, shown: containsToken(all, value) }).toEqual({ value, shown: false });
    });

    it('keeps dashboard credentials out of the logs', () => {
      const output = stack.output.join('\n');
      for (const secret of [FULL_USER.password, READ_ONLY_USER.password, basic(FULL_USER).slice(6), basic(READ_ONLY_USER).slice(6)]) {
        expect(output).not.toContain(secret);
      }
    });
  });

  describe('in a browser', () => {
    let profileDir: string;
    let anonymous: BrowserContext;
    let browser: Browser;

    /** Keeps the page on the api: the board's stylesheet asks for web fonts the test does not need. */
    async function offline(context: BrowserContext): Promise<BrowserContext> {
      await context.route('**/*', (route) => (route.request().url().startsWith(stack.apiUrl) ? route.continue() : route.abort()));
      return context;
    }

    /** What a page elsewhere must not be able to change: counts per state, the failed job, the pause flag. */
    async function queueState() {
      const job = await queue.getJob(failedId);
      return {
        counts: await queue.getJobCounts(),
        failedJob: job && { state: await job.getState(), data: job.data, attemptsMade: job.attemptsMade },
        paused: await queue.isPaused(),
      };
    }

    async function openTab(page: Page, base: string, tab: 'COMPLETED' | 'FAILED', jobId: string): Promise<void> {
      await page.getByRole('link', { name: tab }).click();
      await page.waitForURL(`${stack.apiUrl}${base}/queue/${QUEUE}?status=${tab.toLowerCase()}`);
      const cards = page.locator(`main a[href^="${base}/queue/${QUEUE}/"]`);
      await cards.first().waitFor();
      await expect(cards.allInnerTexts()).resolves.toEqual([jobId]);
    }

    beforeAll(async () => {
      profileDir = mkdtempSync(join(tmpdir(), 'dashboard-e2e-chromium-'));
      anonymous = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
      browser = anonymous.browser()!;
      await offline(anonymous);
    }, 30_000);

    afterAll(async () => {
      await anonymous?.close();
      if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    });

    it('refuses the board without credentials', async () => {
      const page = await anonymous.newPage();
      const answered = page.waitForResponse(`${stack.apiUrl}/admin/queues`);
      // With nothing to answer the challenge, Chromium abandons the navigation.
      await expect(page.goto(`${stack.apiUrl}/admin/queues`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
      const res = await answered;
      expect(res.status()).toBe(401);
      expect(await res.headerValue('www-authenticate')).toMatch(/^Basic realm=/);
      expect(await page.locator('#root').count()).toBe(0);
      expect(await page.content()).not.toContain(QUEUE);
      await page.close();
    });

    it('shows the queue with one completed and one failed job to the full user', async () => {
      const context = await offline(await browser.newContext({ httpCredentials: FULL_USER, viewport: { width: 1280, height: 800 } }));
      try {
        const page = await context.newPage();
        // What the board's Content-Security-Policy blocks, as Chromium reports it.
        const refusedByPolicy: string[] = [];
        page.on('console', (message) => {
          if (/Content Security Policy/.test(message.text())) refusedByPolicy.push(message.text());
        });
        const res = await page.goto(`${stack.apiUrl}/admin/queues`);
        expect(res?.status()).toBe(200);
        expect(hardeningOf((name) => res!.headers()[name])).toEqual(HARDENED);
        await page.getByRole('link', { name: QUEUE }).first().click();
        await page.waitForURL(`${stack.apiUrl}/admin/queues/queue/${QUEUE}`);

        await openTab(page, '/admin/queues', 'COMPLETED', completedId);
        await openTab(page, '/admin/queues', 'FAILED', failedId);
        await page.getByText('twilio_21211').first().waitFor();
        await page.getByRole('button', { name: 'Retry all' }).waitFor();

        mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        // The job's data, highlighted by the board's web worker.
        await page.getByRole('tab', { name: 'Data' }).first().click();
        await page.getByText(failedId).nth(1).waitFor();
        const html = await page.content();
        for (const value of forbidden) expect({ value, shown: containsToken(html, value) }).toEqual({ value, shown: false });
        // The policy keeps out the Google Fonts stylesheet the page names, and nothing the board needs.
        expect(refusedByPolicy.filter((text) => !text.includes('https://fonts.googleapis.com/'))).toEqual([]);
      } finally {
        await context.close();
      }
    }, 30_000);

    it('shows the read-only user the same jobs without any action', async () => {
      const context = await offline(await browser.newContext({ httpCredentials: READ_ONLY_USER }));
      try {
        const page = await context.newPage();
        await page.goto(`${stack.apiUrl}/admin/queues`);
        await page.waitForURL(/\/admin\/queues\/readonly\/?$/);
        await page.getByRole('link', { name: QUEUE }).first().click();
        await openTab(page, '/admin/queues/readonly', 'COMPLETED', completedId);
        await openTab(page, '/admin/queues/readonly', 'FAILED', failedId);
        await page.getByText('twilio_21211').first().waitFor();
        expect(await page.getByRole('button', { name: /retry|clean/i }).count()).toBe(0);
      } finally {
        await context.close();
      }
    }, 30_000);

    describe('attacked from a page of another origin', () => {
      let foreign: Server;
      let foreignUrl: string;

      /**
       * The attacker's page, on another port of the same host (another origin,
       * the same site: Chromium shares its credentials with it): it frames the
       * board and fires what a page can send the board without a CORS grant, a
       * bodiless no-cors POST to Bull Board's add route (once more with a
       * text body), a PUT to the retry route (needs a preflight), and a form
       * POST to the add route, then marks itself done.
       */
      const attackPage = (boardUrl: string) => `<!doctype html>
<html><head><title>cat pictures</title></head><body>
<iframe id="framed" src="${boardUrl}/" width="900" height="500"></iframe>
<iframe id="sink" name="sink"></iframe>
<form id="form" method="POST" action="${boardUrl}/api/queues/${QUEUE}/add" target="sink"><input type="hidden" name="name" value="send-token"></form>
<script>
(async () => {
  const api = ${JSON.stringify(`${boardUrl}/api/queues/${QUEUE}`)};
  const outcome = {};
  const attempt = async (name, url, init) => {
    try { const res = await fetch(url, { credentials: 'include', ...init }); outcome[name] = res.type === 'opaque' ? 'opaque' : res.status; }
    catch (err) { outcome[name] = 'blocked'; }
  };
  await attempt('add', api + '/add', { method: 'POST', mode: 'no-cors' });
  await attempt('add with a text body', api + '/add', { method: 'POST', mode: 'no-cors', body: JSON.stringify({ name: 'send-token', data: {} }) });
  await attempt('retry', api + '/${failedId}/retry', { method: 'PUT' });
  const sink = document.getElementById('sink');
  await new Promise((resolve) => { sink.addEventListener('load', resolve, { once: true }); document.getElementById('form').submit(); });
  outcome.form = 'submitted';
  window.outcome = outcome;
  document.body.dataset.done = 'yes';
})();
</script></body></html>`;

      beforeAll(async () => {
        foreign = createServer((req, res) => {
          if (req.url !== '/attack.html') return void res.writeHead(404).end();
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(attackPage(`${stack.apiUrl}/admin/queues`));
        });
        await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
        foreignUrl = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}`;
      });

      afterAll(async () => {
        await new Promise((resolve) => foreign?.close(resolve));
      });

      it('changes nothing with the logged-in browser, and cannot show the board in a frame', async () => {
        // The user logged into the board earlier: the browser holds the board's Basic credentials (for its origin only).
        // No request routing here: with a route set, Playwright answers CORS preflights itself, granting what the board never grants.
        const context = await browser.newContext({ httpCredentials: { ...FULL_USER, origin: stack.apiUrl } });
        try {
          const page = await context.newPage();
          const login = await page.goto(`${stack.apiUrl}/admin/queues`);
          expect(login?.status()).toBe(200);
          await page.getByRole('link', { name: QUEUE }).first().waitFor();

          const before = await queueState();
          const printed = stack.api.output.length;
          const framed = page.waitForResponse((res) => res.url() === `${stack.apiUrl}/admin/queues/` && res.request().frame() !== page.mainFrame());
          await page.goto(`${foreignUrl}/attack.html`);
          await page.locator('body[data-done="yes"]').waitFor();
          const framedAnswer = await framed;

          // Nothing changed…
          expect(await queueState()).toEqual(before);
          // …though the requests did reach the board with the browser's credentials: the api's access lines (in
          // order, so all of them are out once a later request's is) show each POST refused with 403, not
          // 401 (no or wrong credentials), before Bull Board saw it.
          const marker = `dashboard-attack-${Date.now()}`;
          await http(`${stack.apiUrl}/no-such-page`, { headers: { 'x-request-id': marker } });
          await stack.api.waitFor(new RegExp(`"requestId":"${marker}"`));
          const answered = parseLogLines(stack.api.output.slice(printed))
            .map((l) => ({ req: l.req as { method: string; url: string } | undefined, res: l.res as { statusCode: number } | undefined }))
            .map(({ req, res }) => ({ method: req?.method, url: req?.url, status: res?.statusCode }))
            .filter((a) => a.url?.startsWith('/admin/queues/api/'));
          expect(answered.filter((a) => a.method === 'POST')).toEqual([
            { method: 'POST', url: `/admin/queues/api/queues/${QUEUE}/add`, status: 403 },
            { method: 'POST', url: `/admin/queues/api/queues/${QUEUE}/add`, status: 403 },
            { method: 'POST', url: `/admin/queues/api/queues/${QUEUE}/add`, status: 403 },
          ]);
          // (The board page's own polling, before it was left, is the only thing that got through: GETs.)
          expect(answered.filter((a) => a.method !== 'GET' && (a.status ?? 0) < 400)).toEqual([]);
          // The page could not even read the refusals (Cross-Origin-Resource-Policy: same-origin), and the
          // PUT never got past its CORS preflight.
          const outcome = await page.evaluate(() => (globalThis as unknown as { outcome: Record<string, unknown> }).outcome);
          expect(outcome).toEqual({ add: 'blocked', 'add with a text body': 'blocked', retry: 'blocked', form: 'submitted' });

          // The framed board was answered, with headers that forbid showing it there…
          expect(hardeningOf((name) => framedAnswer.headers()[name])).toEqual(HARDENED);
          // …so the frame holds no board.
          const frame = await page
            .locator('#framed')
            .elementHandle()
            .then((el) => el!.contentFrame());
          expect(frame).not.toBeNull();
          expect(await frame!.locator('#root').count()).toBe(0);
        } finally {
          await context.close();
        }
      }, 30_000);
    });

    describe('with full access', () => {
      // Run last: it changes the queue the other cases look at. It also shows
      // that the calls refused above reach a real route of the board, and that
      // the board's own page may still change the queue.
      it("retries the failed job with the board page's own Retry all button", async () => {
        const context = await offline(await browser.newContext({ httpCredentials: FULL_USER }));
        try {
          const page = await context.newPage();
          await page.goto(`${stack.apiUrl}/admin/queues/queue/${QUEUE}?status=failed`);
          await page.getByText('twilio_21211').first().waitFor();
          await page.getByRole('button', { name: 'Retry all' }).click();
          const retried = page.waitForResponse((res) => res.url() === `${stack.apiUrl}/admin/queues/api/queues/${QUEUE}/retry/failed`);
          await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
          const res = await retried;
          expect({ method: res.request().method(), status: res.status() }).toEqual({ method: 'PUT', status: 200 });
          await (await queue.getJob(failedId))!.waitUntilFinished(events, 15_000);
          expect(await queue.getJobState(failedId)).toBe('completed');
        } finally {
          await context.close();
        }
      }, 30_000);
    });
  });
});
