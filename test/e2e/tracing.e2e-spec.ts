/**
 * Traces end to end: the built api and worker export to a fake OTLP
 * collector (OTLP/HTTP, JSON) on loopback, and one signed resend is followed
 * from the api's request span through the job's enqueue and the worker's
 * processing to its request to the fake Twilio, all in one trace. Nothing the
 * run handled that is secret or personal (the code, the phone number, the
 * e-mail address, the document number, the client's JWT, the providers'
 * credentials) is in what was exported. Without an OTLP endpoint the
 * processes trace nothing: no trace context in the job, none sent to Twilio.
 *
 * The spans are read once both processes have stopped: a graceful stop
 * exports what is still buffered (the batch delay is set past the run, so
 * the stop is what exports them), and no test waits on the exporter's timing.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { FAKE_TWILIO_ACCOUNT_SID, FAKE_TWILIO_AUTH_TOKEN, FakeOtlpCollector, OTLP_SPAN_KIND, type ReceivedSpan, type RecordedRequest } from '../fakes';
import { http, type DeviceApiClient, type HttpResult } from '../support/api-client';
import { QueueProbe } from '../support/queue-probe';
import { TEST_REDIS_URL } from '../support/redis';
import { ADMIN_TOKEN, Stack, TOKEN_HASH_SECRET, codeIn, type Approver } from '../support/stack';

const RESEND_SPAN = 'PATCH /account/:account_key/device/:device_key/resend_token';

interface Run {
  approver: Approver;
  /** Every AUTHORIZATION JWT sent. */
  jwts: string[];
  /** The code the resend sent by SMS. */
  code: string;
  /** The resend's send job, as stored. */
  job: Job;
  /** What the fake Twilio received for that send. */
  twilioRequest: RecordedRequest;
}

/** Signs and sends a device API request, keeping its JWT. */
async function call(client: DeviceApiClient, jwts: string[], method: string, path: string, body: unknown): Promise<HttpResult> {
  const raw = JSON.stringify(body);
  const headers = await client.headersFor(method, path, raw);
  jwts.push(headers.AUTHORIZATION);
  return http(client.baseUrl + path, { method, headers, body: raw });
}

/**
 * A device created by e-mail, then a resend by SMS (a send of its own, on
 * the other channel) delivered by the fake Twilio; its job read back once
 * the worker finished it. Then both processes are stopped.
 */
async function resendBySms(stack: Stack): Promise<Run> {
  const probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
  try {
    const jwts: string[] = [];
    const client = await stack.newClient();
    const { accountKey, approver } = await stack.newAccount(client.clientKey);
    const deviceKey = randomUUID();
    const created = await call(client, jwts, 'POST', `/account/${accountKey}/device`, {
      device_key: deviceKey,
      session_id: randomUUID(),
      tfa_info: { approver_document_number: approver.document_number, contact_type: 'email' },
    });
    expect(created.status).toBe(202);
    await stack.ses.waitForMessages(1);

    const resent = await call(client, jwts, 'PATCH', `/account/${accountKey}/device/${deviceKey}/resend_token`, { contact_type: 'sms' });
    expect(resent.status).toBe(202);
    const [sms] = await stack.twilio.waitForMessages(1);
    expect(sms.to).toBe(approver.phone_number);
    const [job] = await probe.sms.getJobs(['active', 'completed'], 0, -1);
    expect(await probe.finished(job.id!)).toBe('completed');
    const twilioRequest = stack.twilio.requests.find((r) => r.method === 'POST')!;
    return { approver, jwts, code: codeIn(sms.body), job: (await probe.job(job.id!))!, twilioRequest };
  } finally {
    await probe.close();
  }
}

/** The run's trace: the resend's request span, and down from it the enqueue, the processing and the provider call. */
function traceOf(spans: ReceivedSpan[], twilioUrl: string) {
  const request = spans.filter((s) => s.name === RESEND_SPAN);
  const server = request[0];
  const childOf = (parent: ReceivedSpan | undefined, kind: number) =>
    parent ? spans.filter((s) => s.kind === kind && s.parentSpanId === parent.spanId && s.traceId === parent.traceId) : [];
  const [enqueue] = childOf(server, OTLP_SPAN_KIND.producer);
  const [processing] = childOf(enqueue, OTLP_SPAN_KIND.consumer);
  const providerCalls = childOf(processing, OTLP_SPAN_KIND.client).filter((s) => String(s.attributes['url.full']).startsWith(twilioUrl));
  return { request, server, enqueue, processing, providerCalls };
}

describe('tracing', () => {
  describe('with an OTLP endpoint (http/json)', () => {
    const collector = new FakeOtlpCollector();
    const awsSecret = `e2e-tracing-aws-${randomBytes(16).toString('hex')}`;
    /** Sent in a query string, which no span may keep. */
    const querySecret = randomBytes(12).toString('hex');
    const queriedPath = `/account/${randomUUID()}/device/${randomUUID()}`;
    let stack: Stack | undefined;
    let twilioUrl: string;
    let run: Run;
    let trace: ReturnType<typeof traceOf>;

    beforeAll(async () => {
      await collector.start();
      stack = await Stack.start({
        label: 'tracing',
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          // No batch is due during the run: what the collector gets is what a graceful stop exports.
          OTEL_BSP_SCHEDULE_DELAY: '600000',
          AWS_SECRET_ACCESS_KEY: awsSecret,
        },
      });
      twilioUrl = stack.twilio.url;
      run = await resendBySms(stack);
      // Unsigned, so refused; its span is recorded all the same.
      expect((await http(`${stack.apiUrl}${queriedPath}?token=${querySecret}`, { method: 'GET' })).status).toBe(400);
      const stopping = stack;
      stack = undefined;
      await stopping.stop(); // exports what is still buffered
      trace = traceOf(collector.spans, twilioUrl);
    }, 60_000);

    afterAll(async () => {
      await stack?.stop();
      await collector.stop();
    });

    it('exports both services, by OTLP/HTTP JSON on /v1/traces', () => {
      expect(collector.requests.length).toBeGreaterThan(0);
      expect(collector.requests.every((r) => r.method === 'POST' && r.path === '/v1/traces')).toBe(true);
      expect(collector.requests.every((r) => String(r.headers['content-type']).startsWith('application/json'))).toBe(true);
      expect([...new Set(collector.spans.map((s) => s.service))].sort()).toEqual(['device-2fa-api', 'device-2fa-worker']);
    });

    it("names the resend's server span after its route, in the api", () => {
      expect(trace.request).toHaveLength(1);
      expect(trace.server).toMatchObject({ service: 'device-2fa-api', kind: OTLP_SPAN_KIND.server, parentSpanId: '' });
      expect(trace.server.attributes).toMatchObject({
        'http.request.method': 'PATCH',
        'http.route': '/account/:account_key/device/:device_key/resend_token',
        'http.response.status_code': 202,
      });
    });

    it('request → enqueue → processing → the call to Twilio: one trace, each span the parent of the next', () => {
      expect(trace.enqueue).toMatchObject({ service: 'device-2fa-api', name: 'add token-dispatch-sms.send-token' });
      expect(trace.enqueue.attributes['bullmq.job.id']).toBe(run.job.id);
      expect(trace.processing).toMatchObject({ service: 'device-2fa-worker', name: 'process token-dispatch-sms' });
      expect(trace.processing.attributes['bullmq.job.id']).toBe(run.job.id);
      expect(trace.providerCalls).toHaveLength(1);
      const [call] = trace.providerCalls;
      expect(call).toMatchObject({ service: 'device-2fa-worker', traceId: trace.server.traceId });
      expect(call.attributes).toMatchObject({
        'http.request.method': 'POST',
        'url.full': `${twilioUrl}/2010-04-01/Accounts/${FAKE_TWILIO_ACCOUNT_SID}/Messages.json`,
        'http.response.status_code': 201,
      });
      // Twilio is handed the same trace (W3C traceparent), from that call's span.
      expect(run.twilioRequest.headers.traceparent).toBe(`00-${call.traceId}-${call.spanId}-01`);
    });

    it("carries the trace context in the job's options, never in its data", () => {
      expect(Object.keys(run.job.data).sort()).toEqual(['dispatchId', 'requestId']);
      expect(JSON.stringify(run.job.data)).not.toContain(trace.server.traceId);
      const metadata = JSON.parse(String(run.job.opts.telemetry?.metadata)) as Record<string, string>;
      expect(metadata.traceparent).toBe(`00-${trace.enqueue.traceId}-${trace.enqueue.spanId}-01`);
    });

    it('the housekeeping of queues and workers (polls, lock renewals, stalled checks) makes no trace of its own', () => {
      const roots = collector.spans.filter((s) => s.parentSpanId === '');
      expect(roots.filter((s) => s.kind === OTLP_SPAN_KIND.internal)).toEqual([]);
      // Probes and scrapes are not traced either.
      expect(collector.spans.filter((s) => /health|metrics/.test(String(s.attributes['url.path'])))).toEqual([]);
    });

    it('exports no code, contact, document number, JWT, credential, header or query string', () => {
      const exported = collector.requests.map((r) => r.rawBody).join('\n');
      const has = (value: string) => new RegExp(`(?<![0-9A-Za-z])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![0-9A-Za-z])`).test(exported);
      const { approver } = run;
      const personal = [run.code, approver.phone_number, approver.phone_number.slice(1), approver.email, approver.document_number];
      expect(personal.filter(has)).toEqual([]);
      expect(run.jwts).toHaveLength(2);
      expect(run.jwts.flatMap((jwt) => jwt.split('.')).filter((part) => exported.includes(part)).length).toBe(0);
      const basic = Buffer.from(`${FAKE_TWILIO_ACCOUNT_SID}:${FAKE_TWILIO_AUTH_TOKEN}`).toString('base64');
      const secrets = [FAKE_TWILIO_AUTH_TOKEN, basic, awsSecret, ADMIN_TOKEN, TOKEN_HASH_SECRET, querySecret];
      expect(secrets.filter((s) => exported.includes(s)).map((s) => s.slice(0, 6))).toEqual([]);
      const queried = collector.spans.filter((s) => s.attributes['url.path'] === queriedPath);
      expect(queried.map((s) => s.name)).toEqual(['GET /account/:account_key/device/:device_key']);
      const keys = collector.spans.flatMap((s) => Object.keys(s.attributes));
      expect(keys.filter((k) => /header|body|query/.test(k))).toEqual([]);
    });
  });

  describe('with an OTLP endpoint and no protocol named', () => {
    const collector = new FakeOtlpCollector();
    let stack: Stack | undefined;

    beforeAll(async () => {
      await collector.start();
      stack = await Stack.start({ label: 'tracing-proto', startWorker: false, env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url } });
      await stack.newClient(); // one request the api traces
      const stopping = stack;
      stack = undefined;
      await stopping.stop();
    }, 60_000);

    afterAll(async () => {
      await stack?.stop();
      await collector.stop();
    });

    it('exports OTLP/HTTP protobuf, the standard default', () => {
      expect(collector.requests.length).toBeGreaterThan(0);
      expect(collector.requests.map((r) => `${r.method} ${r.path} ${r.headers['content-type']}`)).toEqual(
        collector.requests.map(() => 'POST /v1/traces application/x-protobuf'),
      );
    });
  });

  describe('without an OTLP endpoint', () => {
    let stack: Stack | undefined;
    let run: Run;

    beforeAll(async () => {
      // The other OTEL_* settings alone do not turn tracing on.
      stack = await Stack.start({ label: 'tracing-off', env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'device-2fa-off' } });
      run = await resendBySms(stack);
    }, 60_000);

    afterAll(async () => {
      await stack?.stop();
    });

    it('puts no trace context in the job and sends none to Twilio', () => {
      expect(run.job.opts.telemetry).toBeUndefined();
      expect(Object.keys(run.twilioRequest.headers).filter((h) => h === 'traceparent' || h === 'tracestate')).toEqual([]);
    });
  });
});
