/**
 * Operating the service: health endpoints, Prometheus metrics and structured
 * logs of the built api and worker processes.
 *
 * One scripted run (SMS and e-mail creates, a coalesced resend, a resend by
 * e-mail, a send refused by the per-device cap, a wrong then a right
 * validation, a Twilio failure that is retried and one that is permanent)
 * is then read back from /metrics and from everything both processes printed:
 * every line is JSON, a caller's request id follows its request into the
 * worker's lines, and nothing secret or personal is printed or used as a
 * metric label. Separate stacks check the metrics token and readiness while
 * Redis is down.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { DISPATCH_QUEUES } from '@lib/dispatch-contract';
import { FAKE_TWILIO_AUTH_TOKEN, twilioError, type RecordedRequest } from '../fakes';
import { http, type DeviceApiClient, type HttpResult } from '../support/api-client';
import { DedicatedRedis } from '../support/dedicated-redis';
import { dispatchDone } from '../support/e2e-checks';
import { parseLogLine, parseLogLines } from '../support/logs';
import { ADMIN_TOKEN, Stack, TOKEN_HASH_SECRET, codeIn, type Approver } from '../support/stack';

const AWS_SECRET = 'e2e-observability-aws-secret-Qw3Er4Ty5Ui6';
const RESEND_ROUTE = '/account/:account_key/device/:device_key/resend_token';
const CREATE_ROUTE = '/account/:account_key/device';
const VALIDATE_ROUTE = '/account/:account_key/device/:device_key/validate';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format → samples (enough of the format for prom-client's output). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels` (0 if none). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

async function scrape(baseUrl: string, token?: string): Promise<Sample[]> {
  const res = await http(`${baseUrl}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(res.text);
}

const requestText = (r: RecordedRequest): string => {
  const body = r.body as Record<string, any> | undefined;
  return String(body?.Body ?? body?.Content?.Simple?.Body?.Text?.Data ?? '');
};

describe('observability', () => {
  describe('one scripted run, read back from health, metrics and logs', () => {
    let stack: Stack;
    /** Every AUTHORIZATION JWT this spec sent. */
    const jwts: string[] = [];
    const approvers: Approver[] = [];
    const keys: string[] = [];
    let codes: string[] = [];
    const createSmsId = `obs-create-sms-${randomBytes(6).toString('hex')}`;
    const createEmailId = `obs-create-email-${randomBytes(6).toString('hex')}`;
    let smsDispatchId: string;
    let emailDispatchId: string;
    let permanentDispatchId: string;
    let exhaustedDispatchId: string;

    /** Signs and sends a device API request, keeping its JWT; with our own request id if given. */
    async function call(client: DeviceApiClient, method: string, path: string, body?: unknown, requestId?: string): Promise<HttpResult> {
      const raw = body === undefined ? undefined : JSON.stringify(body);
      const headers = await client.headersFor(method, path, raw, { headers: requestId ? { 'x-request-id': requestId } : {} });
      jwts.push(headers.AUTHORIZATION);
      return http(client.baseUrl + path, { method, headers, body: raw });
    }

    async function newPending(channel: 'sms' | 'email', requestId?: string) {
      const client = await stack.newClient();
      const { accountKey, approver } = await stack.newAccount(client.clientKey);
      const deviceKey = randomUUID();
      approvers.push(approver);
      keys.push(client.clientKey, accountKey, deviceKey);
      const res = await call(
        client,
        'POST',
        `/account/${accountKey}/device`,
        { device_key: deviceKey, session_id: randomUUID(), tfa_info: { approver_document_number: approver.document_number, contact_type: channel } },
        requestId,
      );
      expect(res.status).toBe(202);
      const dispatchId = await latestDispatch(client, accountKey, deviceKey);
      return { client, accountKey, deviceKey, approver, dispatchId };
    }

    async function latestDispatch(client: DeviceApiClient, accountKey: string, deviceKey: string): Promise<string> {
      const q = await call(client, 'GET', `/account/${accountKey}/device/${deviceKey}`);
      expect(q.status).toBe(200);
      return q.body.token_dispatch.dispatch_id;
    }

    beforeAll(async () => {
      stack = await Stack.start({
        label: 'observability',
        env: { AWS_SECRET_ACCESS_KEY: AWS_SECRET, SEND_LIMIT_PER_DEVICE: '2', DISPATCH_ATTEMPTS: '3' },
      });

      // SMS create (our request id); a same-channel resend inside the window is coalesced.
      const a = await newPending('sms', createSmsId);
      smsDispatchId = a.dispatchId;
      expect(await dispatchDone(stack, smsDispatchId)).toBe('sent');
      const resendPath = `/account/${a.accountKey}/device/${a.deviceKey}/resend_token`;
      expect((await call(a.client, 'PATCH', resendPath, {})).status).toBe(202);
      expect(await latestDispatch(a.client, a.accountKey, a.deviceKey)).toBe(smsDispatchId);
      // A resend by e-mail is a second send; a third (by SMS) hits the per-device cap of 2.
      expect((await call(a.client, 'PATCH', resendPath, { contact_type: 'email' })).status).toBe(202);
      const resent = await latestDispatch(a.client, a.accountKey, a.deviceKey);
      expect(await dispatchDone(stack, resent)).toBe('sent');
      expect((await call(a.client, 'PATCH', resendPath, { contact_type: 'sms' })).status).toBe(429);
      // Wrong, then right code (the e-mailed one).
      const code = codeIn(stack.ses.messages.find((m) => m.to.includes(a.approver.email))!.body);
      const validatePath = `/account/${a.accountKey}/device/${a.deviceKey}/validate`;
      expect((await call(a.client, 'PUT', validatePath, { token: code === '000000' ? '111111' : '000000' })).status).toBe(400);
      expect((await call(a.client, 'PUT', validatePath, { token: code })).status).toBe(201);

      // E-mail create (our request id).
      const b = await newPending('email', createEmailId);
      emailDispatchId = b.dispatchId;
      expect(await dispatchDone(stack, emailDispatchId)).toBe('sent');

      // Twilio fails once (5xx, quoting the number): retried, then sent.
      stack.twilio.failNext(1, twilioError(500, 20500, 'Internal error'));
      const c = await newPending('sms');
      expect(await dispatchDone(stack, c.dispatchId)).toBe('sent');

      // Twilio refuses the number for good: no retry.
      stack.twilio.failNext(1, twilioError(400, 21211, "The 'To' number is not a valid phone number."));
      const d = await newPending('sms');
      permanentDispatchId = d.dispatchId;
      await stack.worker!.waitFor(new RegExp(`\\[dispatch ${permanentDispatchId}\\] .*twilio_21211, giving up`));

      // Twilio stays down for all 3 attempts.
      stack.twilio.failNext(3, twilioError(503, 20503, 'Service Unavailable'));
      const e = await newPending('sms');
      exhaustedDispatchId = e.dispatchId;
      await stack.worker!.waitFor(new RegExp(`dispatch ${exhaustedDispatchId} failed for good`));

      codes = [...new Set([...stack.twilio.requests, ...stack.ses.requests].map((r) => codeIn(requestText(r))))];
    }, 60_000);

    afterAll(async () => {
      await stack?.stop();
    });

    describe('health', () => {
      it('the api is live and ready with Redis up, without any credentials', async () => {
        const live = await http(`${stack.apiUrl}/health/live`, {});
        expect({ status: live.status, body: live.body }).toEqual({ status: 200, body: expect.objectContaining({ status: 'ok' }) });
        const ready = await http(`${stack.apiUrl}/health/ready`, {});
        expect(ready.status).toBe(200);
        expect(ready.body).toMatchObject({ status: 'ok', details: { redis: { status: 'up' }, queue: { status: 'up' } } });
      });

      it('the worker serves its own health endpoints on its HTTP port', async () => {
        expect(stack.workerUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(stack.workerUrl).not.toBe(stack.apiUrl);
        const live = await http(`${stack.workerUrl}/health/live`, {});
        expect(live.status).toBe(200);
        const ready = await http(`${stack.workerUrl}/health/ready`, {});
        expect(ready.status).toBe(200);
        expect(ready.body).toMatchObject({ status: 'ok', details: { redis: { status: 'up' }, worker: { status: 'up' } } });
      });
    });

    describe('metrics', () => {
      it('the api counts requests by route pattern and status, and its own events', async () => {
        const m = await scrape(stack.apiUrl);
        // Requests are counted by the duration histogram's _count: no counter of their own.
        const requests = (method: string, route: string, status: string) =>
          valueOf(m, 'device2fa_http_request_duration_seconds_count', { method, route, status_code: status });
        expect(requests('PATCH', RESEND_ROUTE, '202')).toBe(2);
        expect(requests('PATCH', RESEND_ROUTE, '429')).toBe(1);
        expect(requests('POST', CREATE_ROUTE, '202')).toBe(5);
        expect(requests('PUT', VALIDATE_ROUTE, '201')).toBe(1);
        expect(valueOf(m, 'device2fa_http_request_duration_seconds_bucket', { method: 'PATCH', route: RESEND_ROUTE, status_code: '202', le: '+Inf' })).toBe(2);
        expect(valueOf(m, 'device2fa_send_requests_coalesced_total')).toBe(1);
        expect(valueOf(m, 'device2fa_send_limit_rejections_total', { limit: 'per_device' })).toBe(1);
        expect(valueOf(m, 'device2fa_send_limit_rejections_total', { limit: 'per_destination' })).toBe(0);
        expect(valueOf(m, 'device2fa_token_validation_failures_total', { outcome: 'incorrect' })).toBe(1);
        expect(valueOf(m, 'device2fa_token_validation_failures_total', { outcome: 'locked' })).toBe(0);
        // The queues' depth is the worker's to export.
        expect(m.some((s) => s.name === 'device2fa_queue_jobs')).toBe(false);
        // Node's default process metrics, under their standard names.
        expect(m.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
        expect(m.some((s) => s.name === 'nodejs_heap_size_used_bytes')).toBe(true);
      });

      it('an unknown path is counted as route "unmatched", not by its path', async () => {
        const path = `/account/${randomUUID()}/nowhere`;
        expect((await http(stack.apiUrl + path, {})).status).toBe(404);
        const m = await scrape(stack.apiUrl);
        expect(valueOf(m, 'device2fa_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' })).toBeGreaterThanOrEqual(
          1,
        );
        expect(m.some((s) => Object.values(s.labels).some((v) => v.includes('nowhere')))).toBe(false);
      });

      it("the worker counts dispatches by channel and outcome, hand-off and provider times, and the queues' depth", async () => {
        const m = await scrape(stack.workerUrl!);
        expect(valueOf(m, 'device2fa_dispatches_total', { channel: 'sms', outcome: 'sent' })).toBe(2);
        expect(valueOf(m, 'device2fa_dispatches_total', { channel: 'email', outcome: 'sent' })).toBe(2);
        // Retried: once for the 500, twice for the provider that stayed down (its third attempt failed for good).
        expect(valueOf(m, 'device2fa_dispatches_total', { channel: 'sms', outcome: 'retried' })).toBe(3);
        expect(valueOf(m, 'device2fa_dispatches_total', { channel: 'sms', outcome: 'failed' })).toBe(2);
        expect(valueOf(m, 'device2fa_dispatches_total', { channel: 'sms', outcome: 'skipped' })).toBe(0);
        // Request → hand-off, once per message the provider accepted.
        expect(valueOf(m, 'device2fa_dispatch_handoff_seconds_count', { channel: 'sms' })).toBe(2);
        expect(valueOf(m, 'device2fa_dispatch_handoff_seconds_count', { channel: 'email' })).toBe(2);
        expect(valueOf(m, 'device2fa_dispatch_handoff_seconds_sum', { channel: 'sms' })).toBeGreaterThan(0);
        const provider = (channel: string, p: string, outcome: string) =>
          valueOf(m, 'device2fa_provider_request_duration_seconds_count', { provider: p, channel, outcome });
        expect(provider('sms', 'twilio', 'accepted')).toBe(2);
        expect(provider('sms', 'twilio', 'transient_error')).toBe(4);
        expect(provider('sms', 'twilio', 'permanent_error')).toBe(1);
        expect(provider('email', 'ses', 'accepted')).toBe(2);
        // Queue depth per send queue, read at scrape time: every job of this run is done (2 SMS and 2 e-mails sent, 2 SMS failed).
        const depth = (channel: 'sms' | 'email', state: string) => valueOf(m, 'device2fa_queue_jobs', { queue: DISPATCH_QUEUES[channel], state });
        expect([depth('sms', 'completed'), depth('sms', 'failed'), depth('email', 'completed'), depth('email', 'failed')]).toEqual([2, 2, 2, 0]);
        for (const state of ['waiting', 'active', 'delayed']) expect([depth('sms', state), depth('email', state)]).toEqual([0, 0]);
        expect(m.some((s) => s.name === 'process_resident_memory_bytes')).toBe(true);
      });

      it('no metric of the service is exported by both apps (a sum over every instance means what it says)', async () => {
        const names = async (url: string) =>
          new Set((await scrape(url)).map((s) => s.name.replace(/_(bucket|sum|count)$/, '')).filter((n) => n.startsWith('device2fa_')));
        const api = await names(stack.apiUrl);
        const worker = await names(stack.workerUrl!);
        expect(api.size).toBeGreaterThan(3);
        expect(worker.size).toBeGreaterThan(3);
        expect([...api].filter((n) => worker.has(n))).toEqual([]);
      });

      it('no label value carries a key, a request id, a phone number or an e-mail address', async () => {
        const samples = [...(await scrape(stack.apiUrl)), ...(await scrape(stack.workerUrl!))];
        const values = [...new Set(samples.flatMap((s) => Object.values(s.labels)))];
        const personal = [
          ...keys,
          createSmsId,
          createEmailId,
          ...approvers.flatMap((a) => [a.phone_number, a.phone_number.slice(1), a.email, a.document_number]),
        ];
        expect(values.filter((v) => UUID.test(v) || personal.some((p) => v.includes(p)) || /@|\+\d{6,}/.test(v))).toEqual([]);
        // Routes are patterns.
        const routes = [...new Set(samples.filter((s) => s.labels.route !== undefined).map((s) => s.labels.route))];
        expect(routes).toContain(RESEND_ROUTE);
        expect(routes.filter((r) => r !== 'unmatched' && !r.startsWith('/'))).toEqual([]);
      });
    });

    describe('logs', () => {
      const logsOf = (lines: string[]) => parseLogLines(lines);

      it('every line either process printed is one JSON object with a level, a time, a service and a message', () => {
        expect(stack.output.length).toBeGreaterThan(30);
        const bad = stack.output.filter((line) => {
          const log = parseLogLine(line);
          return !log || typeof log.level !== 'string' || typeof log.time !== 'string' || typeof log.msg !== 'string' || typeof log.service !== 'string';
        });
        expect(bad).toEqual([]);
        expect(new Set(logsOf(stack.api.output).map((l) => l.service))).toEqual(new Set(['device-2fa-api']));
        expect(new Set(logsOf(stack.worker!.output).map((l) => l.service))).toEqual(new Set(['device-2fa-worker']));
      });

      it.each([
        ['sms', () => createSmsId, () => smsDispatchId, 'twilio'],
        ['email', () => createEmailId, () => emailDispatchId, 'ses'],
      ])('the request id of a %s create is on the api access line and on every worker line of its dispatch', (_channel, requestId, dispatchId, provider) => {
        const api = logsOf(stack.api.output).filter((l) => l.requestId === requestId());
        expect(api.some((l) => (l.req as { method?: string })?.method === 'POST' && (l.res as { statusCode?: number })?.statusCode === 202)).toBe(true);

        const worker = logsOf(stack.worker!.output).filter((l) => l.requestId === requestId());
        expect(worker.length).toBeGreaterThan(0);
        expect(worker.every((l) => l.dispatchId === dispatchId())).toBe(true);
        expect(worker.some((l) => l.msg.includes(`handed to ${provider}`))).toBe(true);
        // …and no line about that dispatch lacks the fields.
        const aboutIt = logsOf(stack.worker!.output).filter((l) => l.msg.includes(dispatchId()));
        expect(aboutIt.length).toBeGreaterThan(0);
        expect(aboutIt.filter((l) => l.requestId !== requestId() || l.dispatchId !== dispatchId())).toEqual([]);
      });

      it.each([
        ['refused', () => permanentDispatchId, 'failed for good'],
        ['exhausted', () => exhaustedDispatchId, 'failed for good'],
      ])("a %s dispatch's lines, the last one included, carry its ids", (_how, dispatchId, last) => {
        const lines = logsOf(stack.worker!.output).filter((l) => l.msg.includes(dispatchId()));
        expect(lines.some((l) => l.msg.includes(last))).toBe(true);
        expect(lines.filter((l) => l.dispatchId !== dispatchId() || typeof l.requestId !== 'string')).toEqual([]);
      });

      it('the authorization header is left out of the access line (only its name is listed), and no request body is logged', () => {
        const access = logsOf(stack.api.output).filter((l) => l.req !== undefined);
        const headers = access.map((l) => (l.req as { headers?: Record<string, unknown> }).headers ?? {});
        const omitted = access.map((l) => (l.req as { omittedHeaders?: string[] }).omittedHeaders ?? []);
        expect(omitted.filter((names) => names.includes('authorization')).length).toBeGreaterThan(5);
        expect(headers.filter((h) => h.authorization !== undefined)).toEqual([]);
        // The client key is not a secret: kept, to tell clients apart.
        expect(headers.some((h) => typeof h['api-client-key'] === 'string' && UUID.test(h['api-client-key'] as string))).toBe(true);
        expect(access.filter((l) => (l.req as Record<string, unknown>).body !== undefined || l.body !== undefined)).toEqual([]);
      });

      it('no line holds a code sent, a phone number, an e-mail address, a secret or a JWT', () => {
        const text = stack.output.join('\n');
        expect(codes.length).toBeGreaterThanOrEqual(5);
        expect(jwts.length).toBeGreaterThan(10);
        const contains = (value: string) => new RegExp(`(?<![0-9A-Za-z])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![0-9A-Za-z])`).test(text);
        expect(codes.filter(contains)).toEqual([]);
        expect(approvers.flatMap((a) => [a.phone_number, a.phone_number.slice(1), a.email]).filter((c) => text.includes(c))).toEqual([]);
        const secrets = [ADMIN_TOKEN, TOKEN_HASH_SECRET, FAKE_TWILIO_AUTH_TOKEN, AWS_SECRET];
        expect(secrets.filter((s) => text.includes(s)).map((s) => s.slice(0, 6))).toEqual([]);
        // A JWT, or any of its three parts (the signature on its own is the secret part).
        expect(jwts.flatMap((jwt) => jwt.split('.')).filter((part) => text.includes(part)).length).toBe(0);
        // The worker's lines do tell the story, masked.
        expect(text).toMatch(/sms to \S+ handed to twilio/);
        expect(text).toMatch(/twilio_21211, giving up/);
      });
    });
  });

  describe('metrics token', () => {
    const TOKEN = `metrics-${randomBytes(12).toString('hex')}`;
    let stack: Stack;

    beforeAll(async () => {
      stack = await Stack.start({ label: 'obs-token', env: { METRICS_TOKEN: TOKEN } });
    });

    afterAll(async () => {
      await stack?.stop();
    });

    it.each([
      ['api', () => stack.apiUrl],
      ['worker', () => stack.workerUrl!],
    ])('the %s answers /metrics only with the bearer token; health stays open', async (_app, url) => {
      const status = async (headers: Record<string, string>) => (await http(`${url()}/metrics`, { headers })).status;
      expect(await status({})).toBe(401);
      expect(await status({ authorization: `Bearer ${TOKEN}x` })).toBe(401);
      expect(await status({ authorization: `Bearer ${TOKEN.slice(0, -1)}` })).toBe(401);
      expect(await status({ authorization: TOKEN })).toBe(401);
      expect(await status({ authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` })).toBe(401);
      const denied = await http(`${url()}/metrics`, {});
      expect(denied.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(denied.text).not.toContain('device2fa_');
      const samples = await scrape(url(), TOKEN);
      expect(samples.some((s) => s.name.startsWith('device2fa_'))).toBe(true);
      expect((await http(`${url()}/health/ready`, {})).status).toBe(200);
    });

    it('the token is never printed', () => {
      expect(stack.output.filter((line) => line.includes(TOKEN))).toEqual([]);
    });
  });

  describe('readiness while Redis is down', () => {
    let redis: DedicatedRedis;
    let stack: Stack;

    /** Readiness has no event to wait on from outside the process: poll it, bounded. */
    async function readyStatus(url: string, expected: number, timeoutMs = 10_000): Promise<HttpResult> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await http(`${url}/health/ready`, {});
        if (res.status === expected || Date.now() > deadline) return res;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }

    beforeAll(async () => {
      redis = await DedicatedRedis.create();
      await redis.start();
      stack = await Stack.start({ label: 'obs-redis-down', redisUrl: redis.url });
    });

    afterAll(async () => {
      await stack?.stop();
      await redis?.destroy();
    });

    it('both apps are ready, then not ready (503) while Redis is down though still live, then ready again', async () => {
      const api = stack.apiUrl;
      const worker = stack.workerUrl!;
      expect((await readyStatus(api, 200)).status).toBe(200);
      expect((await readyStatus(worker, 200)).status).toBe(200);

      await redis.stop();
      const apiDown = await readyStatus(api, 503);
      expect(apiDown.status).toBe(503);
      expect(apiDown.body).toMatchObject({ status: 'error', error: { redis: { status: 'down' } } });
      const workerDown = await readyStatus(worker, 503);
      expect(workerDown.status).toBe(503);
      expect(workerDown.body).toMatchObject({ status: 'error', error: { redis: { status: 'down' } } });
      // The api answers readiness at once, within the Redis command timeout.
      const started = Date.now();
      expect((await http(`${api}/health/ready`, {})).status).toBe(503);
      expect(Date.now() - started).toBeLessThan(1_500);
      expect((await http(`${api}/health/live`, {})).status).toBe(200);
      expect((await http(`${worker}/health/live`, {})).status).toBe(200);
      // A scrape still answers, without the queue depth it cannot read.
      const m = await scrape(worker);
      expect(m.some((s) => s.name === 'device2fa_queue_jobs')).toBe(false);
      expect(m.some((s) => s.name === 'device2fa_dispatches_total')).toBe(true);

      await redis.start();
      expect((await readyStatus(api, 200, 15_000)).status).toBe(200);
      expect((await readyStatus(worker, 200, 15_000)).status).toBe(200);
    });
  });
});
