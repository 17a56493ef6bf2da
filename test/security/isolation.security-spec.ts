/**
 * Isolation between client integrations. Client A, correctly signed, aims
 * every endpoint at client B's accounts and devices (pending, registered
 * and disabled ones, with B's real codes and B's approver's CPF) and gets
 * exactly the answer it gets for things that do not exist: same status,
 * same headers (but the date), same bytes. Nothing of B's changes, and B's
 * device still takes its code afterwards.
 *
 * A device key belongs to its account: A creating a device with a key B
 * already uses gets a device of its own (202), exactly as with a new key, so
 * the key is neither revealed nor blocked, and both devices live on
 * independently.
 */
import { randomUUID } from 'node:crypto';
import type { HttpResult } from '../support/api-client';
import { expectError, pendingDevice, unchanged, wrongCode, type PendingDevice } from '../support/e2e-checks';
import { Figures } from '../support/figures';
import { Stack, codeIn } from '../support/stack';

/** Everything a caller sees of an answer, but the date. */
const seen = (r: HttpResult) => ({
  status: r.status,
  headers: [...r.headers.entries()].filter(([name]) => name !== 'date').sort(),
  text: r.text,
});

describe("isolation: a client can neither read nor act on another client's accounts and devices", () => {
  const figures = new Figures('security', __filename);
  let stack: Stack;
  let A: PendingDevice;
  let B: PendingDevice;
  /** B's other devices: one registered, one disabled (same account as B). */
  let bCreated: string;
  let bDisabled: string;
  let compared = 0;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'isolation', env: { RESEND_COALESCE_SECONDS: '0', SEND_LIMIT_PER_DESTINATION: '50' } });
    A = await pendingDevice(stack, 'sms', 'p256');
    B = await pendingDevice(stack, 'email', 'ed25519');
    const create = async () => {
      const key = randomUUID();
      const res = await B.client.createDevice(B.accountKey, {
        device_key: key,
        session_id: randomUUID(),
        tfa_info: { approver_document_number: B.approver.document_number, contact_type: 'sms' },
      });
      expect(res.status).toBe(202);
      return key;
    };
    bCreated = await create();
    bDisabled = await create();
    const sms = await stack.twilio.waitForMessages(3, 10_000);
    expect((await B.client.disable(B.accountKey, bDisabled)).status).toBe(200);
    // Either SMS to B's phone may be bCreated's: try both (at most one wrong try).
    const toB = sms.filter((m) => m.to === B.approver.phone_number).map((m) => codeIn(m.body));
    let registered = false;
    for (const code of toB) registered ||= (await B.client.validate(B.accountKey, bCreated, code)).status === 201;
    expect(registered).toBe(true);
  });

  afterAll(async () => {
    figures.set('answer_pairs_compared', compared);
    figures.write();
    await stack?.stop();
  });

  async function same(a: () => Promise<HttpResult>, b: () => Promise<HttpResult>, code: string): Promise<void> {
    const [theirs, missing] = [await a(), await b()];
    expectError(theirs, code, expect.anything());
    expect(seen(theirs)).toEqual(seen(missing));
    compared += 1;
  }

  const bDevices = () => [B.deviceKey, bCreated, bDisabled];

  it("B's account: every endpoint answers A exactly as for an account that does not exist (OBD000002)", async () => {
    const missingAccount = randomUUID();
    const c = A.client;
    await unchanged(stack, [B, A], async () => {
      await same(
        () =>
          c.createDevice(B.accountKey, {
            device_key: randomUUID(),
            session_id: randomUUID(),
            tfa_info: { approver_document_number: B.approver.document_number, contact_type: 'email' },
          }),
        () =>
          c.createDevice(missingAccount, {
            device_key: randomUUID(),
            session_id: randomUUID(),
            tfa_info: { approver_document_number: B.approver.document_number, contact_type: 'email' },
          }),
        'OBD000002',
      );
      for (const device of [...bDevices(), randomUUID()]) {
        await same(
          () => c.resend(B.accountKey, device),
          () => c.resend(missingAccount, device),
          'OBD000002',
        );
        await same(
          () => c.resend(B.accountKey, device, { contact_type: 'sms' }),
          () => c.resend(missingAccount, device, { contact_type: 'sms' }),
          'OBD000002',
        );
        await same(
          () => c.validate(B.accountKey, device, B.code),
          () => c.validate(missingAccount, device, B.code),
          'OBD000002',
        );
        await same(
          () => c.query(B.accountKey, device),
          () => c.query(missingAccount, device),
          'OBD000002',
        );
        await same(
          () => c.disable(B.accountKey, device),
          () => c.disable(missingAccount, device),
          'OBD000002',
        );
      }
    });
  });

  it("B's devices through A's own account: answered exactly as devices that do not exist (OBD000100)", async () => {
    const c = A.client;
    await unchanged(stack, [B, A], async () => {
      for (const device of bDevices()) {
        const missing = randomUUID();
        await same(
          () => c.resend(A.accountKey, device),
          () => c.resend(A.accountKey, missing),
          'OBD000100',
        );
        await same(
          () => c.resend(A.accountKey, device, { contact_type: 'email' }),
          () => c.resend(A.accountKey, missing, { contact_type: 'email' }),
          'OBD000100',
        );
        await same(
          () => c.validate(A.accountKey, device, B.code),
          () => c.validate(A.accountKey, missing, B.code),
          'OBD000100',
        );
        await same(
          () => c.query(A.accountKey, device),
          () => c.query(A.accountKey, missing),
          'OBD000100',
        );
        await same(
          () => c.disable(A.accountKey, device),
          () => c.disable(A.accountKey, missing),
          'OBD000100',
        );
      }
    });
  });

  it("B's approver's CPF on A's account: the same refusal as any CPF that is not A's approver (OBD000090)", async () => {
    const c = A.client;
    const body = (cpf: string) => ({ device_key: randomUUID(), session_id: randomUUID(), tfa_info: { approver_document_number: cpf, contact_type: 'sms' } });
    await unchanged(stack, [B, A], async () => {
      const stranger = B.approver.document_number === '12345678901' ? '10987654321' : '12345678901';
      await same(
        () => c.createDevice(A.accountKey, body(B.approver.document_number)),
        () => c.createDevice(A.accountKey, body(stranger)),
        'OBD000090',
      );
    });
  });

  it("a device key B uses: A gets a device of its own (202), as with a new key; B's devices are untouched and both live on independently", async () => {
    const c = A.client;
    const body = (key: string) => ({
      device_key: key,
      session_id: randomUUID(),
      tfa_info: { approver_document_number: A.approver.document_number, contact_type: 'email' },
    });
    const bState = async () => ({
      views: await Promise.all(bDevices().map(async (k) => (await B.client.query(B.accountKey, k)).body)),
      stored: await Promise.all(bDevices().map((k) => stack.redis.hgetall(stack.keys.device(B.accountKey, k)))),
    });
    const before = await bState();
    const mailsBefore = stack.ses.messages.length;
    const shape = (r: HttpResult) => ({ status: r.status, keys: Object.keys(r.body).sort(), device_status: r.body.device_status });
    const fresh = await c.createDevice(A.accountKey, body(randomUUID()));
    for (const device of bDevices()) {
      const mine = await c.createDevice(A.accountKey, body(device));
      expect(shape(mine)).toEqual(shape(fresh));
      expect(mine.body.device_key).toBe(device);
      compared += 1;
    }
    expect(await bState()).toEqual(before);

    // A's device with B's pending key takes A's code; B's device with the same key still waits for B's.
    const mail = await stack.ses.waitForMessages(mailsBefore + 1 + bDevices().length, 10_000);
    const codes = mail
      .slice(mailsBefore)
      .filter((m) => m.to.includes(A.approver.email))
      .map((m) => codeIn(m.body));
    let registered = false;
    for (const code of codes) registered ||= (await c.validate(A.accountKey, B.deviceKey, code)).status === 201;
    expect(registered).toBe(true);
    expect((await B.client.query(B.accountKey, B.deviceKey)).body.device_status).toBe('pending_2fa_approval');
  });

  it("B's signature replayed by A, and A's signature presented under B's client key: refused, nothing changes", async () => {
    const path = `/account/${B.accountKey}/device/${B.deviceKey}/validate`;
    const body = JSON.stringify({ token: B.code });
    const bHeaders = await B.client.headersFor('PUT', path, body);
    await unchanged(stack, [B, A], async () => {
      // A's key claiming to be B.
      const aSigned = await A.client.headersFor('PUT', path, body);
      const asB = await fetch(stack.apiUrl + path, { method: 'PUT', headers: { ...aSigned, 'API-CLIENT-KEY': B.client.clientKey }, body });
      expect(asB.status).toBe(401);
      // B's genuine signature for another device of B's, pointed at this one.
      const other = `/account/${B.accountKey}/device/${bCreated}/validate`;
      const moved = await fetch(stack.apiUrl + other, { method: 'PUT', headers: bHeaders, body });
      expect(moved.status).toBe(401);
      compared += 2;
    });
  });

  it("after all of it, B's device is intact: a wrong code counts from zero and B's code registers it", async () => {
    expectError(await B.client.validate(B.accountKey, B.deviceKey, wrongCode(B.code)), 'DTS000001', { attempts_remaining: 4 });
    const ok = await B.client.validate(B.accountKey, B.deviceKey, B.code);
    expect([ok.status, ok.body.device_status]).toEqual([201, 'created']);
    expect(stack.api.output.filter((l) => /"level":"(error|fatal)"|\bERROR\b/.test(l))).toEqual([]);
  });
});
