/**
 * The device approval flow end to end: signed HTTP requests to the running
 * api, the running worker sending through the real Twilio and SES SDKs to the
 * local fake providers, and the codes read back from what the fakes received.
 */
import { randomUUID } from 'node:crypto';
import { Stack, codeIn } from '../support/stack';

describe('device approval flow', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'flow' });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const smsTo = async (phone: string, count = 1) => {
    await stack.twilio.waitForMessages(stack.twilio.messages.filter((m) => m.to !== phone).length + count);
    return stack.twilio.messages.filter((m) => m.to === phone);
  };

  it('create → SMS captured at the fake Twilio → validate with that code → 201 created', async () => {
    const { client, accountKey, approver, deviceKey, created } = await stack.newDevice('sms');
    expect(created).toEqual({ device_key: deviceKey, device_status: 'pending_2fa_approval', created_at: expect.any(String) });

    const [sms] = await smsTo(approver.phone_number);
    expect(sms.from).toBe('+15005550006');
    expect(sms.body).toMatch(/código/);
    expect(sms.body).toMatch(/5 minutos/);

    const res = await client.validate(accountKey, deviceKey, codeIn(sms.body));
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ device_key: deviceKey, device_status: 'created', created_at: created.created_at });

    const query = await client.query(accountKey, deviceKey);
    expect(query.status).toBe(200);
    expect(query.body.status_events.map((e: { new_status: string }) => e.new_status)).toEqual(['pending_2fa_approval', 'created']);
    expect(query.body.token_dispatch).toMatchObject({ state: 'sent', channel: 'sms', provider: 'twilio', attempts: 1 });
    expect(query.body.token_dispatch.provider_message_id).toBe(sms.sid);
    expect(JSON.stringify(query.body)).not.toContain(codeIn(sms.body));
    expect(JSON.stringify(query.body)).not.toContain(approver.phone_number);
  });

  it('resend by e-mail → message captured at the fake SES; the older code stops working', async () => {
    const { client, accountKey, approver, deviceKey, created } = await stack.newDevice('sms');
    const [firstSms] = await smsTo(approver.phone_number);
    const firstCode = codeIn(firstSms.body);

    const before = stack.ses.messages.length;
    const resend = await client.resend(accountKey, deviceKey, { contact_type: 'email' });
    expect(resend.status).toBe(202);
    expect(resend.body).toEqual({ device_key: deviceKey, device_status: 'pending_2fa_approval', created_at: created.created_at });

    await stack.ses.waitForMessages(before + 1);
    const mail = stack.ses.messages.find((m) => m.to.includes(approver.email))!;
    expect(mail.from).toBe('no-reply@tokens.example.com');
    expect(mail.subject).toMatch(/Código/);
    const mailCode = codeIn(mail.body);

    // Whichever way the codes happen to compare, the old one must not be accepted.
    if (firstCode !== mailCode) {
      const old = await client.validate(accountKey, deviceKey, firstCode);
      expect(old.status).toBe(400);
      expect(old.body.code).toBe('DTS000001');
    }
    const ok = await client.validate(accountKey, deviceKey, mailCode);
    expect(ok.status).toBe(201);
    expect(ok.body.device_status).toBe('created');
  });

  it('resend without a body uses the channel the device was created with', async () => {
    const { client, accountKey, approver, deviceKey } = await stack.newDevice('email');
    await stack.ses.waitForMessages(stack.ses.messages.filter((m) => !m.to.includes(approver.email)).length + 1);
    const res = await client.resend(accountKey, deviceKey);
    expect(res.status).toBe(202);
    // Coalesced with the creation's send (same 30 s window): still one e-mail, still 202.
    const query = await client.query(accountKey, deviceKey);
    expect(query.body.token_dispatch.channel).toBe('email');
    expect(stack.ses.messages.filter((m) => m.to.includes(approver.email))).toHaveLength(1);
  });

  it('5 wrong codes → rejected → resend refused with OBD000099', async () => {
    const { client, accountKey, approver, deviceKey } = await stack.newDevice('sms');
    const [sms] = await smsTo(approver.phone_number);
    const right = codeIn(sms.body);
    const wrong = right === '000000' ? '111111' : '000000';

    const answers = [];
    for (let i = 0; i < 5; i += 1) answers.push(await client.validate(accountKey, deviceKey, wrong));
    expect(answers.slice(0, 4).map((a) => [a.status, a.body.code, a.body.extra_fields.attempts_remaining])).toEqual([
      [400, 'DTS000001', 4],
      [400, 'DTS000001', 3],
      [400, 'DTS000001', 2],
      [400, 'DTS000001', 1],
    ]);
    expect(answers[4].status).toBe(400);
    expect(answers[4].body.code).toBe('OBD000099');

    // Even the right code is refused now.
    const late = await client.validate(accountKey, deviceKey, right);
    expect(late.body.code).toBe('OBD000099');
    const resend = await client.resend(accountKey, deviceKey);
    expect(resend.status).toBe(400);
    expect(resend.body).toEqual({
      title: 'Number of token validation attempts exceeded',
      description: 'The maximum number of failed token validation attempts has been reached',
      translation: 'Número máximo de tentativas de validação de token atingida',
      code: 'OBD000099',
      extra_fields: {},
    });
    const query = await client.query(accountKey, deviceKey);
    expect(query.body.device_status).toBe('rejected');
  });

  it('disable moves the device to disabled, and a resend on it is an invalid status', async () => {
    const { client, accountKey, deviceKey, created } = await stack.newDevice('sms');
    const res = await client.disable(accountKey, deviceKey);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ device_key: deviceKey, device_status: 'disabled', created_at: created.created_at });
    const resend = await client.resend(accountKey, deviceKey);
    expect(resend.status).toBe(400);
    expect(resend.body.code).toBe('DTS000002');
    expect(resend.body.extra_fields).toEqual({ device_status: 'disabled' });
  });

  it('a second create with the same device_key is refused and changes nothing', async () => {
    const { client, accountKey, approver, deviceKey } = await stack.newDevice('sms');
    const again = await client.createDevice(accountKey, {
      device_key: deviceKey,
      session_id: randomUUID(),
      tfa_info: { approver_document_number: approver.document_number, contact_type: 'email' },
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('DTS000003');
    const query = await client.query(accountKey, deviceKey);
    expect(query.body.contact_type).toBe('sms');
  });
});
