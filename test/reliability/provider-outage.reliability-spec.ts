/**
 * A provider that stays down for the whole retry window, then comes back.
 * Its jobs fail (after DISPATCH_ATTEMPTS, each attempt with the same code) and
 * stay in the queue; an operator retries them from the dashboard: Bull
 * Board's retry button calls BullMQ's `Job.retry()`, which is what this file
 * calls. The retried send carries the very code of the failed attempts (no
 * second code is created: no new dispatch, nothing else changes on the
 * device), it is delivered exactly once, and it registers the device. A
 * failed job whose device has since asked for a newer token is not sent at
 * all when retried: its code would no longer work.
 *
 * (Transient faults that recover inside the window, permanent errors, 429,
 * resets and timeouts: test/e2e/delivery-faults.e2e-spec.ts.)
 */
import { randomUUID } from 'node:crypto';
import type { RecordedRequest } from '../fakes';
import { sesError, twilioError } from '../fakes';
import { Figures } from '../support/figures';
import { QueueProbe } from '../support/queue-probe';
import { TEST_REDIS_URL, scanMatching } from '../support/redis';
import { Stack, codeIn, newApprover } from '../support/stack';

const ATTEMPTS = 3;
const PER_CHANNEL = 4;

const smsText = (r: RecordedRequest) => String((r.body as Record<string, unknown>).Body);
const mailText = (r: RecordedRequest) => String((r.body as { Content: { Simple: { Body: { Text: { Data: string } } } } }).Content.Simple.Body.Text.Data);
const mailTo = (r: RecordedRequest) => (r.body as { Destination?: { ToAddresses?: string[] } }).Destination?.ToAddresses?.[0];

describe('a provider down for the whole retry window, then retried from the dashboard', () => {
  const figures = new Figures('reliability', __filename);
  let stack: Stack;
  let probe: QueueProbe;

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'provider-down',
      env: { DISPATCH_ATTEMPTS: String(ATTEMPTS), DISPATCH_BACKOFF_MS: '50', RESEND_COALESCE_SECONDS: '0' },
    });
    probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
  });

  afterAll(async () => {
    figures.write();
    await probe?.close();
    await stack?.stop();
  });

  it('failed jobs, retried with Job.retry(), send the same code once; a superseded one sends nothing', async () => {
    // Every attempt of every send fails while the providers are "down".
    const devicesDown = PER_CHANNEL * 2 + 1;
    stack.twilio.failNext((PER_CHANNEL + 1) * ATTEMPTS, twilioError(503, 20503, 'Service Unavailable'));
    stack.ses.failNext(PER_CHANNEL * ATTEMPTS, sesError(503, 'ServiceUnavailable', 'Service unavailable'));

    const client = await stack.newClient('p256');
    const approvers = Array.from({ length: devicesDown }, () => newApprover());
    const { accountKey } = await stack.newAccount(client.clientKey, { approvers });
    const devices = approvers.map((approver, i) => ({
      approver,
      deviceKey: randomUUID(),
      channel: (i < PER_CHANNEL + 1 ? 'sms' : 'email') as 'sms' | 'email',
      dispatchId: '',
    }));
    for (const d of devices) {
      const res = await client.createDevice(accountKey, {
        device_key: d.deviceKey,
        session_id: randomUUID(),
        tfa_info: { approver_document_number: d.approver.document_number, contact_type: d.channel },
      });
      expect(res.status).toBe(202);
      d.dispatchId = (await client.query(accountKey, d.deviceKey)).body.token_dispatch.dispatch_id;
    }
    const outcomes = await Promise.all(devices.map((d) => probe.finished(d.dispatchId)));
    expect(outcomes).toEqual(Array(devicesDown).fill('failed'));
    expect(stack.twilio.messages.length + stack.ses.messages.length).toBe(0);

    const requestsTo = (d: (typeof devices)[number]) =>
      d.channel === 'sms'
        ? stack.twilio.requests.filter((r) => (r.body as Record<string, unknown>).To === d.approver.phone_number).map(smsText)
        : stack.ses.requests.filter((r) => mailTo(r) === d.approver.email).map(mailText);
    const failedCode = new Map<string, string>();
    for (const d of devices) {
      const job = (await probe.job(d.dispatchId))!;
      expect({ state: await job.getState(), attemptsMade: job.attemptsMade }).toEqual({ state: 'failed', attemptsMade: ATTEMPTS });
      const view = (await client.query(accountKey, d.deviceKey)).body.token_dispatch;
      expect(view).toMatchObject({
        dispatch_id: d.dispatchId,
        state: 'failed',
        attempts: ATTEMPTS,
        last_error_code: d.channel === 'sms' ? 'http_503' : 'ses_ServiceUnavailable',
      });
      const codes = requestsTo(d).map(codeIn);
      expect(codes).toHaveLength(ATTEMPTS);
      expect(new Set(codes).size).toBe(1);
      failedCode.set(d.deviceKey, codes[0]);
    }

    // The providers are back. One approver did not wait: their client asked
    // for a new token, which is delivered (a new dispatch, a new code).
    const impatient = devices[0];
    expect((await client.resend(accountKey, impatient.deviceKey)).status).toBe(202);
    const newer = (await client.query(accountKey, impatient.deviceKey)).body.token_dispatch.dispatch_id as string;
    expect(newer).not.toBe(impatient.dispatchId);
    expect(await probe.finished(newer)).toBe('completed');
    const newerCode = codeIn(stack.twilio.messages.find((m) => m.to === impatient.approver.phone_number)!.body);

    const dispatchKeysBefore = (await scanMatching(stack.redis, stack.keys.dispatch('*'))).sort();

    // The operator retries every failed job, as Bull Board's "Retry" does.
    const failedJobs = await probe.jobs(['failed']);
    expect(failedJobs.map((j) => j.id).sort()).toEqual(devices.map((d) => d.dispatchId).sort());
    for (const job of failedJobs) await job.retry('failed');
    const retried = await Promise.all(devices.map((d) => probe.finished(d.dispatchId)));
    expect(retried).toEqual(Array(devicesDown).fill('completed'));

    // No second code: no dispatch was added, each retried send carries the failed attempts' code.
    expect((await scanMatching(stack.redis, stack.keys.dispatch('*'))).sort()).toEqual(dispatchKeysBefore);
    let secondCodes = 0;
    for (const d of devices.slice(1)) {
      const codes = requestsTo(d).map(codeIn);
      expect(codes).toHaveLength(ATTEMPTS + 1);
      secondCodes += new Set(codes).size - 1;
      const delivered =
        d.channel === 'sms'
          ? stack.twilio.messages.filter((m) => m.to === d.approver.phone_number)
          : stack.ses.messages.filter((m) => m.to.includes(d.approver.email));
      expect(delivered.map((m) => codeIn(m.body))).toEqual([failedCode.get(d.deviceKey)]);
      expect((await client.query(accountKey, d.deviceKey)).body.token_dispatch).toMatchObject({ dispatch_id: d.dispatchId, state: 'sent' });
      const ok = await client.validate(accountKey, d.deviceKey, failedCode.get(d.deviceKey)!);
      expect([ok.status, ok.body.device_status]).toEqual([201, 'created']);
    }
    expect(secondCodes).toBe(0);

    // The superseded job was not sent again: its approver only has the newer code, which still works.
    const oldJob = (await probe.job(impatient.dispatchId))!;
    expect(oldJob.returnvalue).toEqual({ outcome: 'skipped', reason: 'superseded' });
    expect(stack.twilio.messages.filter((m) => m.to === impatient.approver.phone_number).map((m) => codeIn(m.body))).toEqual([newerCode]);
    expect(requestsTo(impatient).filter((text) => codeIn(text) === failedCode.get(impatient.deviceKey))).toHaveLength(ATTEMPTS);
    const ok = await client.validate(accountKey, impatient.deviceKey, newerCode);
    expect(ok.status).toBe(201);

    figures.set('jobs_failed_provider_down', devicesDown);
    figures.set('attempts_per_failed_job', ATTEMPTS);
    figures.set('retried_from_dashboard', failedJobs.length);
    figures.set('delivered_after_retry', devicesDown - 1);
    figures.set('superseded_retry_not_sent', 1);
    figures.set('second_codes_created', secondCodes);
    figures.set('new_dispatches_by_retry', 0);
  }, 60_000);
});
