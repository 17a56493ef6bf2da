/**
 * Provider rate limits, end to end with the fake providers: a configured
 * send rate holds across every worker (BullMQ's limiter on the channel's
 * queue) without holding up the other provider; a provider's 429 pauses its
 * sends for its Retry-After (BullMQ's manual rate limit) while the other
 * provider's go on, and costs the job no attempt; a provider that never lets
 * up still ends the job once the retry window is past.
 */
import type { RecordedRequest } from '../fakes';
import { http } from '../support/api-client';
import { dispatchIdsOf } from '../support/e2e-checks';
import { Figures } from '../support/figures';
import { QueueProbe } from '../support/queue-probe';
import { TEST_REDIS_URL } from '../support/redis';
import { Stack } from '../support/stack';

jest.setTimeout(60_000);

const figures = new Figures('e2e', __filename);
afterAll(() => figures.write());

const at = (r: RecordedRequest) => r.receivedAt.getTime();
const sendsOf = (stack: Stack) => stack.twilio.requests.filter((r) => r.method === 'POST');

/** A counter of the worker's /metrics (0 when absent). */
async function counter(stack: Stack, name: string, labels: string): Promise<number> {
  const res = await http(`${stack.workerUrl}/metrics`, {});
  const line = res.text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Creates `count` devices of a channel at once, each on its own client, account and approver. */
async function createMany(stack: Stack, channel: 'sms' | 'email', count: number) {
  return Promise.all(Array.from({ length: count }, () => stack.newDevice(channel)));
}

describe('a configured send rate (TWILIO_SENDS_PER_SECOND=2) across two workers', () => {
  let stack: Stack;
  let probe: QueueProbe;
  beforeAll(async () => {
    stack = await Stack.start({ label: 'rate-configured', env: { TWILIO_SENDS_PER_SECOND: '2', SES_SENDS_PER_SECOND: '0', RESEND_COALESCE_SECONDS: '0' } });
    probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
    await stack.startWorker();
  });
  afterAll(async () => {
    await probe?.close();
    await stack?.stop();
  });

  it('hands Twilio at most 2 sends per second, all of them once, while e-mails go out at once', async () => {
    const SMS = 10;
    const [sms, email] = await Promise.all([createMany(stack, 'sms', SMS), createMany(stack, 'email', 4)]);
    await stack.twilio.waitForMessages(SMS, 20_000);
    await stack.ses.waitForMessages(4, 5_000);
    const sends = sendsOf(stack)
      .map(at)
      .sort((a, b) => a - b);
    const start = sends[0];
    const offsets = sends.map((t) => t - start);
    figures.set('configured_rate', { sms: SMS, per_second: 2, sms_offsets_ms: offsets, last_sms_after_s: Math.round(offsets[SMS - 1] / 100) / 10 });
    expect(sends).toHaveLength(SMS);
    expect(new Set(stack.twilio.messages.map((m) => m.to)).size).toBe(SMS);
    expect(stack.twilio.messages.map((m) => m.to).sort()).toEqual(sms.map((d) => d.approver.phone_number).sort());
    // The limiter's windows are one second long and let 2 through each: the worker takes the k-th job no earlier than window k/2
    // (BullMQ's processedOn, stamped where the limiter lets a job through; the first request to Twilio also opens its connection).
    const taken = (await Promise.all(sms.map(async (d) => (await probe.job((await dispatchIdsOf(stack, d.deviceKey))[0]))!.processedOn!))).sort(
      (a, b) => a - b,
    );
    const takenOffsets = taken.map((t) => t - taken[0]);
    figures.set('configured_rate_taken', { taken_offsets_ms: takenOffsets });
    for (let k = 0; k < SMS; k += 1) expect({ k, early: takenOffsets[k] < Math.floor(k / 2) * 1000 - 50 }).toEqual({ k, early: false });
    // And Twilio saw them spread the same way: four windows from the second window's first send to the last.
    expect(offsets[SMS - 1] - offsets[2]).toBeGreaterThanOrEqual((SMS / 2 - 2) * 1000 - 250);
    // SES has no limit of ours: every e-mail reached it before the SMS were done.
    const lastSms = sends[SMS - 1];
    for (const r of stack.ses.requests) expect(at(r)).toBeLessThan(lastSms);
    expect(email).toHaveLength(4);
  });
});

describe("a provider's 429", () => {
  let stack: Stack;
  let probe: QueueProbe;
  beforeAll(async () => {
    stack = await Stack.start({ label: 'rate-429', env: { RESEND_COALESCE_SECONDS: '0', DISPATCH_ATTEMPTS: '3', DISPATCH_BACKOFF_MS: '1000' } });
    probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
  });
  afterAll(async () => {
    await probe?.close();
    await stack?.stop();
  });

  it("pauses Twilio's sends for its Retry-After, not SES's, and the refused send costs no attempt", async () => {
    const PAUSE_MS = 2_000;
    stack.twilio.rateLimitNext(1, PAUSE_MS / 1000);
    const first = await stack.newDevice('sms');
    const [firstDispatch] = await dispatchIdsOf(stack, first.deviceKey);
    await stack.worker!.waitFor(new RegExp(`\\[dispatch ${firstDispatch}\\] .*refused by twilio for its rate \\(twilio_20429\\)`));
    const refusedAt = at(sendsOf(stack)[0]);
    // During the pause: more SMS wait, e-mails go out.
    const [sms, email] = await Promise.all([createMany(stack, 'sms', 3), createMany(stack, 'email', 2)]);
    await stack.ses.waitForMessages(2, 5_000);
    await stack.twilio.waitForMessages(4, 15_000);

    const sends = sendsOf(stack)
      .map(at)
      .sort((a, b) => a - b);
    const quiet = sends[1] - refusedAt;
    const emailsDuringPause = stack.ses.requests.filter((r) => at(r) < refusedAt + PAUSE_MS).length;
    figures.set('twilio_429', { pause_ms: PAUSE_MS, twilio_quiet_after_429_ms: quiet, emails_during_pause: emailsDuringPause, twilio_requests: sends.length });
    expect(sends).toHaveLength(5); // the refused one and four accepted
    expect(quiet).toBeGreaterThanOrEqual(PAUSE_MS - 100);
    expect(emailsDuringPause).toBe(2);
    expect(stack.twilio.messages.map((m) => m.to).sort()).toEqual([first, ...sms].map((d) => d.approver.phone_number).sort());
    expect(email).toHaveLength(2);

    // The refused send went out on its first attempt: the pause is not a failure.
    expect(await probe.finished(firstDispatch)).toBe('completed');
    expect((await probe.job(firstDispatch))!.attemptsMade).toBe(1);
    expect((await first.client.query(first.accountKey, first.deviceKey)).body.token_dispatch).toMatchObject({ state: 'sent', attempts: 1 });
    expect(await counter(stack, 'device2fa_dispatches_total', 'channel="sms",outcome="rate_limited"')).toBe(1);
    expect(await counter(stack, 'device2fa_dispatches_total', 'channel="sms",outcome="retried"')).toBe(0);
  });
});

describe('a provider that never lets up', () => {
  let stack: Stack;
  let probe: QueueProbe;
  beforeAll(async () => {
    // A retry window of 1 s, as long as the pause a refusal without Retry-After asks for: the first refusal pauses, and the
    // job comes back past the window, so the next refusals are failed attempts.
    stack = await Stack.start({ label: 'rate-endless', env: { DISPATCH_ATTEMPTS: '2', DISPATCH_BACKOFF_MS: '1000' } });
    probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
  });
  afterAll(async () => {
    await probe?.close();
    await stack?.stop();
  });

  it('still ends the job once the retry window is past: failed for good after its attempts, no message', async () => {
    stack.twilio.rateLimitNext(10);
    const device = await stack.newDevice('sms');
    const [dispatchId] = await dispatchIdsOf(stack, device.deviceKey);
    expect(await probe.finished(dispatchId, 20_000)).toBe('failed');
    const job = (await probe.job(dispatchId))!;
    figures.set('endless_429', { twilio_requests: sendsOf(stack).length, attempts_made: job.attemptsMade });
    expect(job.attemptsMade).toBe(2);
    // One paused refusal, then one per attempt.
    expect(sendsOf(stack)).toHaveLength(3);
    expect(stack.twilio.messages).toHaveLength(0);
    expect((await device.client.query(device.accountKey, device.deviceKey)).body.token_dispatch).toMatchObject({
      state: 'failed',
      last_error_code: 'twilio_20429',
    });
  });
});
