/**
 * Provider faults end to end: the built api and worker processes, the real
 * Twilio and SES v2 SDKs, and the local fakes scripted to fail. Each case
 * follows one dispatch from the API's 202 to its BullMQ job's final state
 * (QueueEvents, no sleeps) and checks what the provider received, what the
 * job says and what GET /account/{a}/device/{d} reports as `token_dispatch`.
 *
 * Scripted faults apply to the next N requests a fake receives, whoever sends
 * them, so the cases run one after the other and each waits for its job to
 * finish before the next one starts.
 */
import type { Job } from 'bullmq';
import { sesError, twilioError, type RecordedRequest } from '../fakes';
import { QueueProbe as SendQueues } from '../support/queue-probe';
import { TEST_REDIS_URL } from '../support/redis';
import { Stack, codeIn } from '../support/stack';
import type { ServiceProcess } from '../support/processes';

const ATTEMPTS = 4;
const BACKOFF_MS = 100;
const PROVIDER_TIMEOUT_MS = 300;

/** Reads jobs of the stack's send queues and waits for them to finish. */
class QueueProbe {
  private readonly queues: SendQueues;

  constructor(stack: Stack) {
    this.queues = new SendQueues(TEST_REDIS_URL, stack.prefix);
  }

  async ready(): Promise<void> {
    await this.queues.ready();
  }

  /** Waits until the job is completed or failed for good; returns the reloaded job and how it ended. */
  async finish(jobId: string, timeoutMs = 15_000): Promise<{ job: Job; state: string; outcome: 'completed' | 'failed'; reason?: string }> {
    const outcome = await this.queues.finished(jobId, timeoutMs);
    const reloaded = (await this.queues.job(jobId))!;
    return { job: reloaded, state: await reloaded.getState(), outcome, reason: outcome === 'failed' ? reloaded.failedReason : undefined };
  }

  counts() {
    return this.queues.counts();
  }

  async close(): Promise<void> {
    await this.queues.close();
  }
}

const smsRequestsTo = (stack: Stack, phone: string): RecordedRequest[] =>
  stack.twilio.requests.filter((r) => (r.body as Record<string, unknown> | undefined)?.To === phone);
const smsBody = (r: RecordedRequest) => String((r.body as Record<string, unknown>).Body);

const mailRequestsTo = (stack: Stack, email: string): RecordedRequest[] =>
  stack.ses.requests.filter((r) => {
    const to = (r.body as { Destination?: { ToAddresses?: unknown } } | undefined)?.Destination?.ToAddresses;
    return Array.isArray(to) && to.includes(email);
  });
const mailBody = (r: RecordedRequest) => String((r.body as { Content: { Simple: { Body: { Text: { Data: string } } } } }).Content.Simple.Body.Text.Data);

const gaps = (requests: RecordedRequest[]) => requests.slice(1).map((r, i) => r.receivedAt.getTime() - requests[i].receivedAt.getTime());

describe('delivery faults (retries, permanent errors, timeouts)', () => {
  let stack: Stack;
  let probe: QueueProbe;

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'faults',
      env: {
        DISPATCH_ATTEMPTS: String(ATTEMPTS),
        DISPATCH_BACKOFF_MS: String(BACKOFF_MS),
        PROVIDER_TIMEOUT_MS: String(PROVIDER_TIMEOUT_MS),
        // Every case creates its own device; nothing here may be coalesced or capped.
        RESEND_COALESCE_SECONDS: '0',
      },
    });
    probe = new QueueProbe(stack);
    await probe.ready();
  });

  afterAll(async () => {
    await probe?.close();
    await stack?.stop();
  });

  afterEach(() => {
    // A case that failed half-way must not leave scripted faults to the next one.
    stack.twilio.reset();
    stack.ses.reset();
  });

  /** Creates a device and returns its first dispatch id as the query endpoint shows it. */
  async function deviceWithDispatch(channel: 'sms' | 'email') {
    const device = await stack.newDevice(channel);
    const query = await device.client.query(device.accountKey, device.deviceKey);
    expect(query.status).toBe(200);
    const dispatchId: string = query.body.token_dispatch.dispatch_id;
    expect(dispatchId).toMatch(/^[0-9a-f-]{36}$/);
    return { ...device, dispatchId };
  }

  async function dispatchOf(device: Pick<Awaited<ReturnType<Stack['newDevice']>>, 'client' | 'accountKey' | 'deviceKey'>) {
    const query = await device.client.query(device.accountKey, device.deviceKey);
    expect(query.status).toBe(200);
    return query.body.token_dispatch;
  }

  describe('transient 5xx', () => {
    it('Twilio fails twice with 500, then succeeds: one SMS, job completed, state sent after 3 attempts, the same code every time', async () => {
      stack.twilio.failNext(2, twilioError(500, 20500, 'Internal Server Error'));
      const device = await deviceWithDispatch('sms');
      const { job, state, outcome } = await probe.finish(device.dispatchId);

      expect(outcome).toBe('completed');
      expect(state).toBe('completed');
      expect(job.attemptsMade).toBe(3);
      expect(job.returnvalue).toMatchObject({ outcome: 'sent', provider: 'twilio' });

      const requests = smsRequestsTo(stack, device.approver.phone_number);
      expect(requests).toHaveLength(3);
      const codes = requests.map((r) => codeIn(smsBody(r)));
      expect(new Set(codes).size).toBe(1);
      const delivered = stack.twilio.messages.filter((m) => m.to === device.approver.phone_number);
      expect(delivered).toHaveLength(1);
      expect(codeIn(delivered[0].body)).toBe(codes[0]);

      // Exponential backoff with equal jitter: each wait is at least half its ceiling (100 ms, then 200 ms).
      const [g1, g2] = gaps(requests);
      expect(g1).toBeGreaterThanOrEqual(BACKOFF_MS / 2 - 5);
      expect(g2).toBeGreaterThanOrEqual(BACKOFF_MS - 5);

      expect(await dispatchOf(device)).toMatchObject({
        dispatch_id: device.dispatchId,
        state: 'sent',
        channel: 'sms',
        attempts: 3,
        provider: 'twilio',
        provider_message_id: delivered[0].sid,
        last_error_code: 'http_500',
      });

      // The code that finally went out is the armed one.
      const ok = await device.client.validate(device.accountKey, device.deviceKey, codes[0]);
      expect(ok.status).toBe(201);
    });

    it('SES fails twice with 500 InternalFailure, then succeeds: one e-mail with the same code each time', async () => {
      stack.ses.failNext(2, sesError(500, 'InternalFailure', 'Internal failure'));
      const device = await deviceWithDispatch('email');
      const { job, state } = await probe.finish(device.dispatchId);

      expect(state).toBe('completed');
      expect(job.attemptsMade).toBe(3);
      const requests = mailRequestsTo(stack, device.approver.email);
      expect(requests).toHaveLength(3);
      expect(new Set(requests.map((r) => codeIn(mailBody(r)))).size).toBe(1);
      const delivered = stack.ses.messages.filter((m) => m.to.includes(device.approver.email));
      expect(delivered).toHaveLength(1);
      expect(await dispatchOf(device)).toMatchObject({
        state: 'sent',
        channel: 'email',
        attempts: 3,
        provider: 'ses',
        provider_message_id: delivered[0].messageId,
        last_error_code: 'ses_InternalFailure',
      });
    });
  });

  describe('permanent errors', () => {
    it('Twilio 21211 (invalid number): one request, no retry, job failed, state failed with twilio_21211', async () => {
      stack.twilio.permanentError(1);
      const device = await deviceWithDispatch('sms');
      const { job, state, outcome, reason } = await probe.finish(device.dispatchId);

      expect(outcome).toBe('failed');
      expect(state).toBe('failed');
      expect(reason).toBe('twilio_21211');
      expect(job.failedReason).toBe('twilio_21211');
      expect(job.attemptsMade).toBe(1);
      expect(smsRequestsTo(stack, device.approver.phone_number)).toHaveLength(1);
      expect(stack.twilio.messages.filter((m) => m.to === device.approver.phone_number)).toHaveLength(0);
      expect(await dispatchOf(device)).toMatchObject({
        state: 'failed',
        channel: 'sms',
        attempts: 1,
        provider_message_id: null,
        sent_at: null,
        last_error_code: 'twilio_21211',
      });
    });

    it('SES MessageRejected: one request, no retry, job failed, state failed with ses_MessageRejected', async () => {
      stack.ses.permanentError(1);
      const device = await deviceWithDispatch('email');
      const { job, state, reason } = await probe.finish(device.dispatchId);

      expect(state).toBe('failed');
      expect(reason).toBe('ses_MessageRejected');
      expect(job.attemptsMade).toBe(1);
      expect(mailRequestsTo(stack, device.approver.email)).toHaveLength(1);
      expect(stack.ses.messages.filter((m) => m.to.includes(device.approver.email))).toHaveLength(0);
      expect(await dispatchOf(device)).toMatchObject({
        state: 'failed',
        channel: 'email',
        attempts: 1,
        provider_message_id: null,
        last_error_code: 'ses_MessageRejected',
      });
    });
  });

  describe('rate limiting', () => {
    it("Twilio 429 with Retry-After: 1 → Twilio's sends pause about a second, then one SMS, no attempt spent", async () => {
      stack.twilio.rateLimitNext(1, 1);
      const device = await deviceWithDispatch('sms');
      const { job, state } = await probe.finish(device.dispatchId);

      expect(state).toBe('completed');
      expect(job.attemptsMade).toBe(1);
      const requests = smsRequestsTo(stack, device.approver.phone_number);
      expect(requests).toHaveLength(2);
      // The provider's Retry-After, not the 50-100 ms backoff.
      expect(gaps(requests)[0]).toBeGreaterThanOrEqual(1_000 - 5);
      expect(stack.twilio.messages.filter((m) => m.to === device.approver.phone_number)).toHaveLength(1);
      expect(await dispatchOf(device)).toMatchObject({ state: 'sent', attempts: 1, last_error_code: 'twilio_20429' });
    });

    it("SES 429 TooManyRequestsException → SES's sends pause, then one e-mail, no attempt spent", async () => {
      stack.ses.rateLimitNext(1);
      const device = await deviceWithDispatch('email');
      const { state } = await probe.finish(device.dispatchId);

      expect(state).toBe('completed');
      expect(mailRequestsTo(stack, device.approver.email)).toHaveLength(2);
      expect(stack.ses.messages.filter((m) => m.to.includes(device.approver.email))).toHaveLength(1);
      expect(await dispatchOf(device)).toMatchObject({ state: 'sent', attempts: 1, last_error_code: 'ses_TooManyRequestsException' });
    });
  });

  describe('network faults', () => {
    it.each([
      ['sms', 'network_ECONNRESET'],
      ['email', 'network_ECONNRESET'],
    ] as const)('%s: connection reset → retried, one delivery, last error %s', async (channel, code) => {
      (channel === 'sms' ? stack.twilio : stack.ses).resetNext(1);
      const device = await deviceWithDispatch(channel);
      const { state } = await probe.finish(device.dispatchId);

      expect(state).toBe('completed');
      if (channel === 'sms') {
        expect(smsRequestsTo(stack, device.approver.phone_number)).toHaveLength(2);
        expect(stack.twilio.messages.filter((m) => m.to === device.approver.phone_number)).toHaveLength(1);
      } else {
        expect(mailRequestsTo(stack, device.approver.email)).toHaveLength(2);
        expect(stack.ses.messages.filter((m) => m.to.includes(device.approver.email))).toHaveLength(1);
      }
      expect(await dispatchOf(device)).toMatchObject({ state: 'sent', attempts: 2, last_error_code: code });
    });

    it.each(['sms', 'email'] as const)('%s: provider hangs beyond PROVIDER_TIMEOUT_MS → timed out, retried, one delivery', async (channel) => {
      (channel === 'sms' ? stack.twilio : stack.ses).hangNext(1);
      const device = await deviceWithDispatch(channel);
      const { state } = await probe.finish(device.dispatchId);

      expect(state).toBe('completed');
      const requests = channel === 'sms' ? smsRequestsTo(stack, device.approver.phone_number) : mailRequestsTo(stack, device.approver.email);
      expect(requests).toHaveLength(2);
      // The worker gave up after the configured timeout (300 ms), well before the stack's default (2 s).
      const [gap] = gaps(requests);
      expect(gap).toBeGreaterThanOrEqual(PROVIDER_TIMEOUT_MS - 20);
      expect(gap).toBeLessThan(1_500);
      const delivered =
        channel === 'sms'
          ? stack.twilio.messages.filter((m) => m.to === device.approver.phone_number)
          : stack.ses.messages.filter((m) => m.to.includes(device.approver.email));
      expect(delivered).toHaveLength(1);
      expect(await dispatchOf(device)).toMatchObject({ state: 'sent', attempts: 2, last_error_code: 'timeout' });
    });
  });

  describe('a provider that stays down', () => {
    it(`Twilio answers 503 to every attempt → job failed after DISPATCH_ATTEMPTS (${ATTEMPTS}), state failed`, async () => {
      stack.twilio.failNext(ATTEMPTS, twilioError(503, 20503, 'Service Unavailable'));
      const device = await deviceWithDispatch('sms');
      const { job, state, reason } = await probe.finish(device.dispatchId);

      expect(state).toBe('failed');
      // A transient error keeps its (data-free) message as the failed reason.
      expect(reason).toBe('Twilio is unavailable: Twilio answered HTTP 503 with error 20503');
      expect(job.attemptsMade).toBe(ATTEMPTS);
      await stack.worker!.waitFor(new RegExp(`dispatch ${device.dispatchId} failed for good`));

      const requests = smsRequestsTo(stack, device.approver.phone_number);
      expect(requests).toHaveLength(ATTEMPTS);
      // Had the worker tried once more, the fake (now healthy) would have delivered it.
      expect(stack.twilio.messages.filter((m) => m.to === device.approver.phone_number)).toHaveLength(0);
      // Waits grow: at least half of 100, 200, 400 ms.
      gaps(requests).forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual((BACKOFF_MS * 2 ** i) / 2 - 5));
      expect(await dispatchOf(device)).toMatchObject({
        state: 'failed',
        attempts: ATTEMPTS,
        provider_message_id: null,
        last_error_code: 'http_503',
      });
    });

    it(`SES answers 503 to every attempt → job failed after ${ATTEMPTS} attempts, state failed`, async () => {
      stack.ses.failNext(ATTEMPTS, sesError(503, 'ServiceUnavailable', 'Service unavailable'));
      const device = await deviceWithDispatch('email');
      const { job, state } = await probe.finish(device.dispatchId);

      expect(state).toBe('failed');
      expect(job.attemptsMade).toBe(ATTEMPTS);
      expect(mailRequestsTo(stack, device.approver.email)).toHaveLength(ATTEMPTS);
      expect(stack.ses.messages.filter((m) => m.to.includes(device.approver.email))).toHaveLength(0);
      expect(await dispatchOf(device)).toMatchObject({ state: 'failed', attempts: ATTEMPTS, last_error_code: 'ses_ServiceUnavailable' });
    });
  });
});

describe('two worker processes sharing the queue', () => {
  const DEVICES = 30;
  let stack: Stack;
  let probe: QueueProbe;
  let workers: ServiceProcess[] = [];

  beforeAll(async () => {
    stack = await Stack.start({ label: 'workers', startWorker: false, env: { WORKER_CONCURRENCY: '2' } });
    // Each send takes a little while, so no single worker can keep up alone.
    stack.twilio.delay(50);
    workers = [await stack.startWorker(), await stack.startWorker()];
    probe = new QueueProbe(stack);
    await probe.ready();
  });

  afterAll(async () => {
    await probe?.close();
    // stack.stop() stops the latest worker only.
    await Promise.all(workers.slice(0, -1).map((w) => w.stop()));
    await stack?.stop();
  });

  it(`${DEVICES} devices → exactly ${DEVICES} SMS, one per approver, none duplicated, both workers took part`, async () => {
    const devices = await Promise.all(Array.from({ length: DEVICES }, () => stack.newDevice('sms')));
    await stack.twilio.waitForMessages(DEVICES, 20_000);

    const dispatchIds = await Promise.all(
      devices.map(async (d) => (await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch.dispatch_id as string),
    );
    expect(new Set(dispatchIds).size).toBe(DEVICES);
    const finished = await Promise.all(dispatchIds.map((id) => probe.finish(id)));
    expect(finished.map((f) => f.state)).toEqual(Array(DEVICES).fill('completed'));
    expect(finished.map((f) => f.job.attemptsMade)).toEqual(Array(DEVICES).fill(1));
    expect(await probe.counts()).toMatchObject({
      completed: DEVICES,
      failed: 0,
      active: 0,
      wait: 0,
      delayed: 0,
    });

    // Every job is finished, so nothing more can be sent: count now.
    expect(stack.twilio.requests).toHaveLength(DEVICES);
    expect(stack.twilio.messages).toHaveLength(DEVICES);
    const phones = devices.map((d) => d.approver.phone_number).sort();
    expect(stack.twilio.messages.map((m) => m.to).sort()).toEqual(phones);

    // Each dispatch was handed over by exactly one of the two processes. (Log
    // lines are written in blocks, at least every 100 ms: wait for each one.)
    await Promise.all(
      dispatchIds.map((id) => Promise.any(workers.map((w) => w.waitFor(new RegExp(`\\[dispatch ${id}\\] sms to .* handed to twilio`), 5_000)))),
    );
    const handedBy = workers.map(
      (w) => new Set(w.output.map((line) => /\[dispatch ([0-9a-f-]{36})\] sms to .* handed to twilio/.exec(line)?.[1]).filter((id): id is string => !!id)),
    );
    expect(handedBy[0].size).toBeGreaterThan(0);
    expect(handedBy[1].size).toBeGreaterThan(0);
    expect(handedBy[0].size + handedBy[1].size).toBe(DEVICES);
    expect(new Set([...handedBy[0], ...handedBy[1]])).toEqual(new Set(dispatchIds));

    // And each approver can use the code they got.
    const byPhone = new Map(stack.twilio.messages.map((m) => [m.to, codeIn(m.body)]));
    const validations = await Promise.all(devices.map((d) => d.client.validate(d.accountKey, d.deviceKey, byPhone.get(d.approver.phone_number)!)));
    expect(validations.map((v) => v.status)).toEqual(Array(DEVICES).fill(201));
  });
});
