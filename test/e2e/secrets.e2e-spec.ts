/**
 * What the service keeps and prints, after real flows: SMS and e-mail
 * creates, resends across channels, validations (wrong and right codes) and
 * provider failures whose error texts quote the recipient.
 *
 * Every key under the stack's prefix is read in full (hashes, lists, sets,
 * zsets, streams; BullMQ jobs with their data, return values, failed reasons
 * and stack traces), as is every line the api and worker printed. None may
 * hold a token that was sent, a secret, or contact data, except that an
 * approver's phone and e-mail live in the account directory record, which is
 * where the operator registered them and where the worker reads them from.
 * Job payloads hold identifiers, the channel and the request id only.
 */
import { sesError, twilioError, FAKE_TWILIO_AUTH_TOKEN, type RecordedRequest } from '../fakes';
import { DISPATCH_QUEUES, QueueProbe } from '../support/queue-probe';
import { TEST_REDIS_URL, dumpValues } from '../support/redis';
import { ADMIN_TOKEN, Stack, TOKEN_HASH_SECRET, codeIn } from '../support/stack';

const AWS_SECRET = 'e2e-aws-secret-access-key-Zx9Qw8Er7Ty6Ui5Op4';
/** The send queues' key prefixes (one queue per channel). */
const queueKeyPrefixes = (stack: Stack) => Object.values(DISPATCH_QUEUES).map((name) => `${stack.keys.queuePrefix}:${name}:`);

type Device = Awaited<ReturnType<Stack['newDevice']>>;

/** `value` as a whole token: not part of a longer run of letters or digits (timestamps, hex ids). */
function containsToken(haystack: string, value: string): boolean {
  return new RegExp(`(?<![0-9A-Za-z])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![0-9A-Za-z])`).test(haystack);
}

const requestText = (r: RecordedRequest): string => {
  const body = r.body as Record<string, any> | undefined;
  return String(body?.Body ?? body?.Content?.Simple?.Body?.Text?.Data ?? '');
};

describe('no codes, contact data or secrets in Redis or in the logs', () => {
  let stack: Stack;
  let probe: QueueProbe;
  let dump: Map<string, string>;
  const devices: Device[] = [];
  const dispatchIds = new Set<string>();
  let codes: string[] = [];

  async function track(d: Device): Promise<void> {
    const q = await d.client.query(d.accountKey, d.deviceKey);
    if (q.status !== 200) throw new Error(`query failed: ${q.status} ${q.text}`);
    dispatchIds.add(q.body.token_dispatch.dispatch_id);
  }

  async function finishAll(): Promise<void> {
    for (const id of dispatchIds) await probe.finished(id, 15_000); // failures are part of the script
  }

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'secrets',
      env: { AWS_SECRET_ACCESS_KEY: AWS_SECRET, RESEND_COALESCE_SECONDS: '0', DISPATCH_ATTEMPTS: '3' },
    });
    probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();

    // 1. SMS create, resend by e-mail, wrong then right code.
    const a = await stack.newDevice('sms');
    devices.push(a);
    await track(a);
    const resendA = await a.client.resend(a.accountKey, a.deviceKey, { contact_type: 'email' });
    expect(resendA.status).toBe(202);
    await track(a);
    await finishAll();
    const mailA = stack.ses.messages.find((m) => m.to.includes(a.approver.email))!;
    const rightA = codeIn(mailA.body);
    expect((await a.client.validate(a.accountKey, a.deviceKey, rightA === '000000' ? '111111' : '000000')).status).toBe(400);
    expect((await a.client.validate(a.accountKey, a.deviceKey, rightA)).status).toBe(201);

    // 2. E-mail create, resend by SMS, validated.
    const b = await stack.newDevice('email');
    devices.push(b);
    await track(b);
    expect((await b.client.resend(b.accountKey, b.deviceKey, { contact_type: 'sms' })).status).toBe(202);
    await track(b);
    await finishAll();
    const smsB = stack.twilio.messages.find((m) => m.to === b.approver.phone_number)!;
    expect((await b.client.validate(b.accountKey, b.deviceKey, codeIn(smsB.body))).status).toBe(201);

    // 3. Twilio refuses the number permanently, quoting it in its error text.
    const c = await stack.newDevice('sms', 'p256', (approver) =>
      stack.twilio.failNext(1, twilioError(400, 21211, `The 'To' number ${approver.phone_number} is not a valid phone number.`)),
    );
    devices.push(c);
    await track(c);
    await finishAll();

    // 4. SES rejects the address, quoting it; then a transient SES failure quoting it, then success.
    const d = await stack.newDevice('email');
    devices.push(d);
    await track(d);
    // The create's e-mail goes out first; the faults are for the resends.
    await finishAll();
    stack.ses.failNext(1, sesError(400, 'MessageRejected', `Email address is not verified. The following identities failed the check: ${d.approver.email}`));
    expect((await d.client.resend(d.accountKey, d.deviceKey)).status).toBe(202);
    await track(d);
    await finishAll();
    stack.ses.failNext(1, sesError(500, 'InternalFailure', `Internal failure sending to ${d.approver.email}`));
    expect((await d.client.resend(d.accountKey, d.deviceKey)).status).toBe(202);
    await track(d);
    await finishAll();

    // 5. Twilio fails transiently quoting the number, then a reset connection, then delivers.
    const e = await stack.newDevice('email');
    devices.push(e);
    await track(e);
    await finishAll();
    stack.twilio.failNext(1, twilioError(500, 20500, `Internal error sending to ${e.approver.phone_number}`)).resetNext(1);
    expect((await e.client.resend(e.accountKey, e.deviceKey, { contact_type: 'sms' })).status).toBe(202);
    await track(e);
    await finishAll();

    // 6. A schema error whose body carries contact data.
    const bad = await e.client.createDevice(e.accountKey, {
      device_key: 'not-a-uuid',
      session_id: e.approver.email,
      tfa_info: { approver_document_number: e.approver.phone_number, contact_type: 'sms' },
    });
    expect(bad.status).toBe(400);

    // Every code any provider was asked to deliver, delivered or not.
    codes = [...new Set([...stack.twilio.requests, ...stack.ses.requests].map((r) => codeIn(requestText(r))))];
    dump = await dumpValues(stack.redis, stack.prefix);
  }, 90_000);

  afterAll(async () => {
    await probe?.close();
    await stack?.stop();
  });

  const contacts = () => devices.flatMap((d) => [d.approver.phone_number, d.approver.phone_number.slice(1), d.approver.email]);
  const secrets = () => [ADMIN_TOKEN, TOKEN_HASH_SECRET, FAKE_TWILIO_AUTH_TOKEN, AWS_SECRET];
  const logText = () => stack.output.join('\n');

  it('ran the flows it claims: codes sent, failures recorded, keys written', () => {
    // 5 devices: sms+email, email+sms, a refused sms, email + refused + retried email, email + retried sms.
    expect(codes.length).toBeGreaterThanOrEqual(9);
    expect(stack.twilio.requests.length).toBeGreaterThanOrEqual(5);
    expect(stack.ses.requests.length).toBeGreaterThanOrEqual(6);
    const all = [...dump.keys(), ...dump.values()].join('\n');
    for (const id of dispatchIds) expect(all).toContain(id);
    expect(all).toContain('twilio_21211');
    expect(all).toContain('ses_MessageRejected');
    expect([...dump.keys()].filter((k) => queueKeyPrefixes(stack).some((p) => k.startsWith(p))).length).toBeGreaterThan(dispatchIds.size);
  });

  it('no key name or value in Redis holds a code that was sent', () => {
    const leaks = [...dump].flatMap(([key, value]) =>
      codes.filter((code) => containsToken(key, code) || containsToken(value, code)).map((code) => `${code} in ${key}`),
    );
    expect(leaks).toEqual([]);
  });

  it('no key name or value in Redis holds a secret', () => {
    const leaks = [...dump].flatMap(([key, value]) =>
      secrets()
        .filter((s) => key.includes(s) || value.includes(s))
        .map((s) => `${s.slice(0, 6)}… in ${key}`),
    );
    expect(leaks).toEqual([]);
  });

  it("an approver's phone and e-mail are only in their account's directory record", () => {
    for (const d of devices) {
      const accountKey = stack.keys.account(d.accountKey);
      for (const contact of [d.approver.phone_number, d.approver.phone_number.slice(1), d.approver.email]) {
        const holders = [...dump].filter(([key, value]) => key.includes(contact) || value.includes(contact)).map(([key]) => key);
        expect({ contact, holders }).toEqual({ contact, holders: [accountKey] });
      }
    }
  });

  it('every job payload names its dispatch and the request, nothing else (no code nonce, account, device or channel)', async () => {
    const jobKeys = [...dump.keys()].filter((k) => queueKeyPrefixes(stack).some((p) => k.startsWith(p) && /^[0-9a-f-]{36}$/.test(k.slice(p.length))));
    expect(jobKeys.map((k) => k.slice(-36)).sort()).toEqual([...dispatchIds].sort());
    for (const key of jobKeys) {
      const data = JSON.parse((await stack.redis.hget(key, 'data'))!);
      expect(Object.keys(data).sort()).toEqual(['dispatchId', 'requestId']);
      expect(data.dispatchId).toBe(key.slice(key.lastIndexOf(':') + 1));
      expect(data.requestId).toMatch(/^[A-Za-z0-9._-]{8,64}$/);
    }
  });

  it('no line printed by the api or the worker holds a code, contact data, a document number or a secret', () => {
    const text = logText();
    expect(stack.output.length).toBeGreaterThan(10);
    // The log does tell the story, masked.
    expect(text).toMatch(/handed to twilio/);
    expect(text).toMatch(/handed to ses/);
    expect(text).toMatch(/twilio_21211, giving up/);
    expect(codes.filter((code) => containsToken(text, code))).toEqual([]);
    expect(contacts().filter((c) => text.includes(c))).toEqual([]);
    expect(devices.map((d) => d.approver.document_number).filter((doc) => containsToken(text, doc))).toEqual([]);
    expect(
      secrets()
        .filter((s) => text.includes(s))
        .map((s) => s.slice(0, 6)),
    ).toEqual([]);
  });
});
