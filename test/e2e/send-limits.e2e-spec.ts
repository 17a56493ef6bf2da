/**
 * Send limits and the attempt limit under real concurrency, against the
 * running api and worker: resend coalescing (many requests, one message),
 * the per-device and per-destination hourly caps (429 DTS000004 with
 * Retry-After; a refused request queues nothing), and 50 concurrent wrong
 * guesses counting as exactly TOKEN_MAX_FAILED_ATTEMPTS.
 *
 * Parallel requests are signed with distinct timestamps: two requests with
 * identical claims would be one signature used twice (a replay, by design).
 */
import { randomUUID } from 'node:crypto';
import { http, type HttpResult } from '../support/api-client';
import { Stack, codeIn, newApprover } from '../support/stack';
import {
  coalesceKey,
  deviceSettled,
  dispatchDone,
  dispatchIdsOf,
  expectError,
  jobCount,
  keyExpired,
  pendingDevice,
  unchanged,
  wrongCode,
  type PendingDevice,
} from '../support/e2e-checks';
import { errorLines } from '../support/logs';

const COALESCE_SECONDS = 1;
const DEVICE_CAP = 3;
const DESTINATION_CAP = 4;
const MAX_FAILED = 5;
const HOUR_S = 3600;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('send limits', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'limits',
      env: {
        RESEND_COALESCE_SECONDS: String(COALESCE_SECONDS),
        SEND_LIMIT_PER_DEVICE: String(DEVICE_CAP),
        SEND_LIMIT_PER_DESTINATION: String(DESTINATION_CAP),
        TOKEN_MAX_FAILED_ATTEMPTS: String(MAX_FAILED),
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const smsTo = (phone: string) => stack.twilio.messages.filter((m) => m.to === phone);
  const mailsTo = (email: string) => stack.ses.messages.filter((m) => m.to.includes(email));
  const resendPath = (d: PendingDevice) => `/account/${d.accountKey}/device/${d.deviceKey}/resend_token`;

  /** Signs every request first (distinct timestamps), then fires them all at once. */
  async function burst(d: PendingDevice, requests: { method: string; path: string; body?: string }[]): Promise<HttpResult[]> {
    const base = Date.now();
    const signed = await Promise.all(requests.map((r, i) => d.client.headersFor(r.method, r.path, r.body, { timestamp: new Date(base + i) })));
    return Promise.all(requests.map((r, i) => http(stack.apiUrl + r.path, { method: r.method, headers: signed[i], body: r.body })));
  }

  function expectTooMany(res: HttpResult, limit: 'per_device' | 'per_destination', oldestSendAtMs: number): void {
    expectError(res, 'DTS000004', { limit, window_seconds: HOUR_S, retry_after_seconds: expect.any(Number) });
    const retryAfter = res.body.extra_fields.retry_after_seconds as number;
    // The oldest send of the rolling hour leaves the window at oldest + 1 h.
    const expected = Math.ceil((oldestSendAtMs + HOUR_S * 1000 - Date.now()) / 1000);
    expect(retryAfter).toBeGreaterThanOrEqual(expected - 2);
    expect(retryAfter).toBeLessThanOrEqual(expected + 2);
    expect(res.headers.get('retry-after')).toBe(String(retryAfter));
  }

  it(`coalescing: 20 parallel resends inside the ${COALESCE_SECONDS} s window → all 202, exactly one more message`, async () => {
    const d = await pendingDevice(stack, 'sms');
    // Out of the creation's window, so the burst starts a new send of its own.
    await keyExpired(stack, coalesceKey(stack, d));
    const [createDispatch] = await dispatchIdsOf(stack, d.deviceKey);
    const jobsBefore = await jobCount(stack);
    expect(smsTo(d.approver.phone_number)).toHaveLength(1);

    // Half without a body (the device's channel, sms), half asking for sms explicitly.
    const answers = await burst(
      d,
      range(20).map((i) => ({ method: 'PATCH', path: resendPath(d), body: i % 2 === 0 ? undefined : JSON.stringify({ contact_type: 'sms' }) })),
    );
    const created = (await d.client.query(d.accountKey, d.deviceKey)).body.created_at;
    expect(answers.map((a) => [a.status, a.body])).toEqual(
      range(20).map(() => [202, { device_key: d.deviceKey, device_status: 'pending_2fa_approval', created_at: created }]),
    );

    const ids = await dispatchIdsOf(stack, d.deviceKey);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(createDispatch);
    expect(await jobCount(stack)).toBe(jobsBefore + 1);
    expect(await dispatchDone(stack, ids[1])).toBe('sent');

    // The one job has completed: exactly one more SMS, and the device shows that send.
    const sms = smsTo(d.approver.phone_number);
    expect(sms).toHaveLength(2);
    const view = await d.client.query(d.accountKey, d.deviceKey);
    expect(view.body.token_dispatch).toMatchObject({ dispatch_id: ids[1], state: 'sent', channel: 'sms', attempts: 1, provider_message_id: sms[1].sid });
    expect(await jobCount(stack)).toBe(jobsBefore + 1);
    expect(smsTo(d.approver.phone_number)).toHaveLength(2);
  });

  it(`per-device cap (${DEVICE_CAP}/h, creation included) → 429 DTS000004 with Retry-After, on any channel; nothing queued`, async () => {
    const createdAt = Date.now();
    const d = await pendingDevice(stack, 'sms');
    // Alternating channels: none coalesced, each one a send.
    expect((await d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'email' })).status).toBe(202);
    expect((await d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'sms' })).status).toBe(202);
    await deviceSettled(stack, d.deviceKey);
    await keyExpired(stack, coalesceKey(stack, d));
    const delivered = smsTo(d.approver.phone_number).length + mailsTo(d.approver.email).length;
    expect(delivered).toBeGreaterThanOrEqual(2); // the creation's SMS may have been superseded before it was sent

    await unchanged(stack, [d], async () => {
      expectTooMany(await d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'email' }), 'per_device', createdAt);
      expectTooMany(await d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'sms' }), 'per_device', createdAt);
      expectTooMany(await d.client.resend(d.accountKey, d.deviceKey), 'per_device', createdAt);
      const answers = await burst(
        d,
        range(10).map((i) => ({ method: 'PATCH', path: resendPath(d), body: JSON.stringify({ contact_type: i % 2 ? 'sms' : 'email' }) })),
      );
      for (const a of answers) expectTooMany(a, 'per_device', createdAt);
    });
    expect(smsTo(d.approver.phone_number).length + mailsTo(d.approver.email).length).toBe(delivered);
    // The latest token sent still works.
    const latest = (await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch;
    expect(latest).toMatchObject({ state: 'sent', channel: 'sms' });
    const sms = smsTo(d.approver.phone_number).find((m) => m.sid === latest.provider_message_id)!;
    expect((await d.client.validate(d.accountKey, d.deviceKey, codeIn(sms.body))).status).toBe(201);
  });

  it(`per-destination cap (${DESTINATION_CAP}/h) across two devices of the same approver phone → 429; nothing queued`, async () => {
    const client = await stack.newClient('p256');
    const approver = newApprover();
    const { accountKey } = await stack.newAccount(client.clientKey, { approvers: [approver] });
    const create = (deviceKey: string, contact_type = 'sms') =>
      client.createDevice(accountKey, {
        device_key: deviceKey,
        session_id: randomUUID(),
        tfa_info: { approver_document_number: approver.document_number, contact_type },
      });
    const dev = (deviceKey: string): PendingDevice => ({ client, accountKey, deviceKey, approver, code: '' });
    const a = dev(randomUUID());
    const b = dev(randomUUID());

    const firstSendAt = Date.now();
    expect((await create(a.deviceKey)).status).toBe(202); // phone: 1 (a: 1)
    expect((await create(b.deviceKey)).status).toBe(202); // phone: 2 (b: 1)
    await Promise.all([keyExpired(stack, coalesceKey(stack, a)), keyExpired(stack, coalesceKey(stack, b))]);
    expect((await client.resend(accountKey, a.deviceKey)).status).toBe(202); // phone: 3 (a: 2)
    expect((await client.resend(accountKey, b.deviceKey)).status).toBe(202); // phone: 4 (b: 2)
    await Promise.all([deviceSettled(stack, a.deviceKey), deviceSettled(stack, b.deviceKey)]);
    await keyExpired(stack, coalesceKey(stack, a));
    await keyExpired(stack, coalesceKey(stack, b));
    expect(smsTo(approver.phone_number)).toHaveLength(4);

    const c = dev(randomUUID());
    await unchanged(stack, [a, b], async () => {
      // Both devices are under their own cap (2 of 3): it is the phone that is at its limit.
      expectTooMany(await client.resend(accountKey, a.deviceKey), 'per_destination', firstSendAt);
      expectTooMany(await client.resend(accountKey, b.deviceKey, { contact_type: 'sms' }), 'per_destination', firstSendAt);
      // A third device for the same phone is not even created.
      expectTooMany(await create(c.deviceKey), 'per_destination', firstSendAt);
      expectError(await client.query(accountKey, c.deviceKey), 'OBD000100');
    });
    expect(smsTo(approver.phone_number)).toHaveLength(4);

    // The cap is per destination: the same approver's e-mail is still reachable.
    expect((await client.resend(accountKey, a.deviceKey, { contact_type: 'email' })).status).toBe(202);
    await deviceSettled(stack, a.deviceKey);
    expect(mailsTo(approver.email)).toHaveLength(1);
    expect(smsTo(approver.phone_number)).toHaveLength(4);
  });

  it(`per-destination cap under concurrency: 10 parallel creates for one phone → exactly ${DESTINATION_CAP} accepted and sent`, async () => {
    const client = await stack.newClient('p256');
    const approver = newApprover();
    const { accountKey } = await stack.newAccount(client.clientKey, { approvers: [approver] });
    const keys = range(10).map(() => randomUUID());
    const sender: PendingDevice = { client, accountKey, deviceKey: keys[0], approver, code: '' };
    const answers = await burst(
      sender,
      keys.map((deviceKey) => ({
        method: 'POST',
        path: `/account/${accountKey}/device`,
        body: JSON.stringify({
          device_key: deviceKey,
          session_id: randomUUID(),
          tfa_info: { approver_document_number: approver.document_number, contact_type: 'sms' },
        }),
      })),
    );
    const accepted = keys.filter((_, i) => answers[i].status === 202);
    expect(accepted).toHaveLength(DESTINATION_CAP);
    for (const a of answers.filter((r) => r.status !== 202)) {
      expectError(a, 'DTS000004', { limit: 'per_destination', window_seconds: 3600, retry_after_seconds: expect.any(Number) });
    }
    await Promise.all(accepted.map((deviceKey) => deviceSettled(stack, deviceKey)));
    expect(smsTo(approver.phone_number)).toHaveLength(DESTINATION_CAP);
    for (const deviceKey of keys.filter((k) => !accepted.includes(k))) {
      expectError(await client.query(accountKey, deviceKey), 'OBD000100');
    }
  });

  it(`50 parallel wrong validations count exactly ${MAX_FAILED}; the device ends rejected and the right code is refused`, async () => {
    const d = await pendingDevice(stack, 'sms');
    const path = `/account/${d.accountKey}/device/${d.deviceKey}/validate`;
    const body = JSON.stringify({ token: wrongCode(d.code) });
    const answers = await burst(
      d,
      range(50).map(() => ({ method: 'PUT', path, body })),
    );

    // The attempts that were counted answer DTS000001, or OBD000099 with the count
    // when their failure was the one that reached the limit; all others were refused
    // before comparing anything.
    const counted = answers.filter((a) => a.body?.code === 'DTS000001' || (a.body?.code === 'OBD000099' && 'failed_attempts' in a.body.extra_fields));
    const refused = answers.filter((a) => !counted.includes(a));
    expect(counted).toHaveLength(MAX_FAILED);
    expect(refused).toHaveLength(50 - MAX_FAILED);
    for (const a of counted) {
      if (a.body.code === 'DTS000001') {
        expectError(a, 'DTS000001', { attempts_remaining: expect.any(Number) });
        expect(a.body.extra_fields.attempts_remaining).toBeGreaterThanOrEqual(1);
        expect(a.body.extra_fields.attempts_remaining).toBeLessThanOrEqual(MAX_FAILED - 1);
      } else {
        expectError(a, 'OBD000099', { failed_attempts: MAX_FAILED });
      }
    }
    // The last failure to be recorded always sees the limit reached.
    expect(counted.filter((a) => a.body.code === 'OBD000099').length).toBeGreaterThanOrEqual(1);
    for (const a of refused) expectError(a, 'OBD000099');

    expect(await stack.redis.hget(stack.keys.device(d.accountKey, d.deviceKey), 'failed_attempts')).toBe(String(MAX_FAILED));
    const view = await d.client.query(d.accountKey, d.deviceKey);
    expect(view.body.device_status).toBe('rejected');
    expect(view.body.status_events.map((e: { new_status: string }) => e.new_status)).toEqual(['pending_2fa_approval', 'rejected']);

    await unchanged(stack, [d], async () => {
      expectError(await d.client.validate(d.accountKey, d.deviceKey, d.code), 'OBD000099');
      expectError(await d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'email' }), 'OBD000099');
    });
    expect(smsTo(d.approver.phone_number)).toHaveLength(1);
  });

  it('no request of this file made the api log an unexpected error', () => {
    expect(errorLines(stack.api.output)).toEqual([]);
  });
});
