/**
 * Limits under a burst of 200 parallel requests (each signed on its own, with
 * distinct timestamps: identical claims would be one signature replayed):
 *
 * - 200 resends of one device inside the coalescing window → all 202, one send;
 * - 200 resends with coalescing off → exactly the per-device cap accepted, the
 *   rest 429 DTS000004 with nothing queued;
 * - 200 creates for one approver's phone → exactly the per-destination cap;
 * - 200 wrong validations → exactly TOKEN_MAX_FAILED_ATTEMPTS counted.
 *
 * (20 parallel resends, 10 parallel creates and 50 wrong guesses, with the
 * whole envelopes and Retry-After checked: test/e2e/send-limits.e2e-spec.ts.)
 */
import { randomUUID } from 'node:crypto';
import { http, type HttpResult } from '../support/api-client';
import { coalesceKey, dispatchIdsOf, keyExpired, pendingDevice, wrongCode, type PendingDevice } from '../support/e2e-checks';
import { Figures } from '../support/figures';
import { QueueProbe } from '../support/queue-probe';
import { TEST_REDIS_URL } from '../support/redis';
import { Stack, codeIn, newApprover } from '../support/stack';

const BURST = 200;
const DEVICE_CAP = 5;
const DESTINATION_CAP = 7;
const MAX_FAILED = 5;
/** Wide enough that a burst on a loaded machine still falls inside one window. */
const COALESCE_S = 3;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Signs every request first (distinct timestamps), then fires them all at once. */
async function burst(
  stack: Stack,
  d: Pick<PendingDevice, 'client'>,
  requests: { method: string; path: string; body?: string }[],
): Promise<{ answers: HttpResult[]; ms: number }> {
  const base = Date.now();
  const signed = await Promise.all(requests.map((r, i) => d.client.headersFor(r.method, r.path, r.body, { timestamp: new Date(base + i) })));
  const started = Date.now();
  const answers = await Promise.all(requests.map((r, i) => http(stack.apiUrl + r.path, { method: r.method, headers: signed[i], body: r.body })));
  return { answers, ms: Date.now() - started };
}

const statuses = (answers: HttpResult[]) =>
  answers.reduce<Record<string, number>>(
    (acc, a) => ({ ...acc, [`${a.status} ${a.body?.code ?? ''}`.trim()]: (acc[`${a.status} ${a.body?.code ?? ''}`.trim()] ?? 0) + 1 }),
    {},
  );
const resendPath = (d: PendingDevice) => `/account/${d.accountKey}/device/${d.deviceKey}/resend_token`;

describe(`${BURST} parallel requests against the limits`, () => {
  const figures = new Figures('reliability', __filename);

  afterAll(() => figures.write());

  describe(`coalescing on (${COALESCE_S} s window)`, () => {
    let stack: Stack;
    let probe: QueueProbe;

    beforeAll(async () => {
      stack = await Stack.start({
        label: 'burst',
        env: {
          RESEND_COALESCE_SECONDS: String(COALESCE_S),
          SEND_LIMIT_PER_DEVICE: String(DEVICE_CAP),
          SEND_LIMIT_PER_DESTINATION: String(DESTINATION_CAP),
          TOKEN_MAX_FAILED_ATTEMPTS: String(MAX_FAILED),
          // Bursts on one account: the send caps and the per-device attempt limit are under test here, not the guess budgets.
          DEVICE_LIMIT_PER_ACCOUNT: '100000',
          GUESS_LIMIT_PER_APPROVER: '100000',
          GUESS_LIMIT_PER_ACCOUNT: '100000',
        },
      });
      probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
    });

    afterAll(async () => {
      await probe?.close();
      await stack?.stop();
    });

    it(`${BURST} parallel resends of one device → all 202, exactly one send`, async () => {
      const d = await pendingDevice(stack, 'sms');
      await keyExpired(stack, coalesceKey(stack, d));
      const [createDispatch] = await dispatchIdsOf(stack, d.deviceKey);
      expect(await probe.finished(createDispatch)).toBe('completed');
      const jobsBefore = (await probe.counts()).completed;

      const { answers, ms } = await burst(
        stack,
        d,
        range(BURST).map((i) => ({ method: 'PATCH', path: resendPath(d), body: i % 2 === 0 ? undefined : JSON.stringify({ contact_type: 'sms' }) })),
      );
      const created = (await d.client.query(d.accountKey, d.deviceKey)).body.created_at;
      expect(statuses(answers)).toEqual({ '202': BURST });
      expect(new Set(answers.map((a) => a.text))).toEqual(
        new Set([JSON.stringify({ device_key: d.deviceKey, device_status: 'pending_2fa_approval', created_at: created })]),
      );

      const ids = await dispatchIdsOf(stack, d.deviceKey);
      expect(ids).toHaveLength(2);
      expect(ids[0]).toBe(createDispatch);
      expect(await probe.finished(ids[1])).toBe('completed');
      const counts = await probe.counts();
      expect(counts).toMatchObject({ completed: jobsBefore + 1, wait: 0, active: 0, delayed: 0, failed: 0 });
      const sms = stack.twilio.messages.filter((m) => m.to === d.approver.phone_number);
      expect(sms).toHaveLength(2);
      expect((await d.client.validate(d.accountKey, d.deviceKey, codeIn(sms[1].body))).status).toBe(201);
      figures.set('coalesced_burst', { requests: BURST, accepted_202: BURST, dispatches_added: 1, messages_sent: 1, burst_ms: ms });
    }, 60_000);

    it(`${BURST} parallel creates for one approver's phone → exactly ${DESTINATION_CAP} devices, the rest 429 DTS000004`, async () => {
      const client = await stack.newClient('p256');
      const approver = newApprover();
      const { accountKey } = await stack.newAccount(client.clientKey, { approvers: [approver] });
      const keys = range(BURST).map(() => randomUUID());
      const { answers, ms } = await burst(
        stack,
        { client },
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
      expect(statuses(answers)).toEqual({ '202': DESTINATION_CAP, '429 DTS000004': BURST - DESTINATION_CAP });
      for (const a of answers.filter((x) => x.status === 429)) {
        expect(a.body.extra_fields).toEqual({ limit: 'per_destination', window_seconds: 3600, retry_after_seconds: expect.any(Number) });
        expect(a.headers.get('retry-after')).toBe(String(a.body.extra_fields.retry_after_seconds));
      }
      const accepted = keys.filter((_, i) => answers[i].status === 202);
      const dispatchIds = (await Promise.all(accepted.map((k) => dispatchIdsOf(stack, k)))).flat();
      expect(dispatchIds).toHaveLength(DESTINATION_CAP);
      expect(await Promise.all(dispatchIds.map((id) => probe.finished(id)))).toEqual(Array(DESTINATION_CAP).fill('completed'));
      // Superseding cannot happen across devices: every accepted device got its token.
      expect(stack.twilio.messages.filter((m) => m.to === approver.phone_number)).toHaveLength(DESTINATION_CAP);
      const refused = keys.filter((k) => !accepted.includes(k));
      const pipeline = stack.redis.pipeline();
      for (const k of refused) pipeline.exists(stack.keys.device(accountKey, k));
      expect((await pipeline.exec())!.filter(([, n]) => n !== 0)).toEqual([]);
      figures.set('destination_cap_burst', {
        requests: BURST,
        cap: DESTINATION_CAP,
        accepted_202: accepted.length,
        refused_429: refused.length,
        messages_sent: DESTINATION_CAP,
        burst_ms: ms,
      });
    }, 60_000);

    it(`${BURST} parallel wrong validations → exactly ${MAX_FAILED} counted, device rejected, right code refused`, async () => {
      const d = await pendingDevice(stack, 'email');
      const path = `/account/${d.accountKey}/device/${d.deviceKey}/validate`;
      const { answers, ms } = await burst(
        stack,
        d,
        range(BURST).map(() => ({ method: 'PUT', path, body: JSON.stringify({ token: wrongCode(d.code) }) })),
      );
      const counted = answers.filter((a) => a.body?.code === 'DTS000001' || (a.body?.code === 'OBD000099' && 'failed_attempts' in a.body.extra_fields));
      expect(counted).toHaveLength(MAX_FAILED);
      expect(answers.filter((a) => !counted.includes(a)).map((a) => `${a.status} ${a.body?.code}`)).toEqual(Array(BURST - MAX_FAILED).fill('400 OBD000099'));
      expect(await stack.redis.hget(stack.keys.device(d.accountKey, d.deviceKey), 'failed_attempts')).toBe(String(MAX_FAILED));
      expect((await d.client.query(d.accountKey, d.deviceKey)).body.device_status).toBe('rejected');
      expect((await d.client.validate(d.accountKey, d.deviceKey, d.code)).body.code).toBe('OBD000099');
      figures.set('wrong_validation_burst', {
        requests: BURST,
        counted: counted.length,
        limit: MAX_FAILED,
        refused_before_compare: BURST - counted.length,
        burst_ms: ms,
      });
    }, 60_000);
  });

  describe('coalescing off', () => {
    let stack: Stack;
    let probe: QueueProbe;

    beforeAll(async () => {
      stack = await Stack.start({
        label: 'burst-cap',
        env: { RESEND_COALESCE_SECONDS: '0', SEND_LIMIT_PER_DEVICE: String(DEVICE_CAP), SEND_LIMIT_PER_DESTINATION: '1000' },
      });
      probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
    });

    afterAll(async () => {
      await probe?.close();
      await stack?.stop();
    });

    it(`${BURST} parallel resends of one device → exactly ${DEVICE_CAP - 1} more sends (cap ${DEVICE_CAP}/h, creation included), the rest 429, nothing else queued`, async () => {
      const d = await pendingDevice(stack, 'sms');
      const { answers, ms } = await burst(
        stack,
        d,
        range(BURST).map((i) => ({ method: 'PATCH', path: resendPath(d), body: JSON.stringify({ contact_type: i % 2 ? 'sms' : 'email' }) })),
      );
      expect(statuses(answers)).toEqual({ '202': DEVICE_CAP - 1, '429 DTS000004': BURST - (DEVICE_CAP - 1) });
      for (const a of answers.filter((x) => x.status === 429))
        expect(a.body.extra_fields).toEqual({ limit: 'per_device', window_seconds: 3600, retry_after_seconds: expect.any(Number) });

      const ids = await dispatchIdsOf(stack, d.deviceKey);
      expect(ids).toHaveLength(DEVICE_CAP);
      expect(await Promise.all(ids.map((id) => probe.finished(id)))).toEqual(Array(DEVICE_CAP).fill('completed'));
      expect(await probe.counts()).toMatchObject({ completed: DEVICE_CAP, wait: 0, active: 0, delayed: 0, failed: 0 });

      // Older requests may be superseded before they are sent; the latest one is sent and works.
      const sent =
        stack.twilio.messages.filter((m) => m.to === d.approver.phone_number).length + stack.ses.messages.filter((m) => m.to.includes(d.approver.email)).length;
      expect(sent).toBeGreaterThanOrEqual(2);
      expect(sent).toBeLessThanOrEqual(DEVICE_CAP);
      // (Parallel requests can share a millisecond: the latest is what the device says, not the last by time.)
      const latest = (await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch;
      expect(ids).toContain(latest.dispatch_id);
      expect(latest.state).toBe('sent');
      const message =
        latest.channel === 'sms'
          ? stack.twilio.messages.find((m) => m.sid === latest.provider_message_id)!
          : stack.ses.messages.find((m) => m.messageId === latest.provider_message_id)!;
      expect((await d.client.validate(d.accountKey, d.deviceKey, codeIn(message.body))).status).toBe(201);
      figures.set('device_cap_burst', {
        requests: BURST,
        cap: DEVICE_CAP,
        accepted_202: DEVICE_CAP - 1,
        refused_429: BURST - (DEVICE_CAP - 1),
        dispatches: ids.length,
        messages_sent: sent,
        burst_ms: ms,
      });
    }, 60_000);
  });
});
