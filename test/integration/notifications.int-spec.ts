/**
 * The real Twilio and SES SDKs, through our adapters, against the local fakes:
 * what goes on the wire, and how every kind of failure is classified. Also
 * checks that no error leaks the destination, the body (the token) or credentials.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  OutboxEmailAdapter,
  OutboxSmsAdapter,
  PermanentSendError,
  SesEmailAdapter,
  TransientSendError,
  TwilioSmsAdapter,
  createEmailSender,
  createSmsSender,
  type OutboxRecord,
} from '@lib/notifications';
import { FakeSes, FakeTwilio, sesError } from '../fakes';

const PHONE = '+5511987654321';
const FROM_NUMBER = '+15005550006';
const TOKEN = '482913';
const SMS_BODY = `Seu código de aprovação de dispositivo é ${TOKEN}. Ele expira em 5 minutos.`;
const EMAIL = 'approver.person@example.com';
const FROM_ADDRESS = 'no-reply@example.org';
const SUBJECT = 'Código de aprovação de dispositivo';
const EMAIL_BODY = `Olá, Ana.\n\nSeu código de aprovação de dispositivo é ${TOKEN}.`;
const AWS_KEY_ID = 'AKIAFAKEINTEGRATION1';
const AWS_SECRET = 'fake-secret-access-key-for-integration-tests';

/** Short provider timeout for the tests that let the fakes hang. */
const SHORT_TIMEOUT_MS = 300;
const TIMEOUT_MS = 5_000;

async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

function expectNothingSecret(err: Error, secrets: string[]): void {
  const rendered = [String(err), err.stack ?? '', JSON.stringify(err), inspect(err, { depth: 10, showHidden: true })].join('\n');
  for (const secret of secrets) expect(rendered).not.toContain(secret);
  expect(err).not.toHaveProperty('cause');
}

describe('TwilioSmsAdapter against FakeTwilio', () => {
  const fake = new FakeTwilio();
  let sms: TwilioSmsAdapter;
  let impatientSms: TwilioSmsAdapter;
  const secrets = [PHONE, SMS_BODY, TOKEN, fake.authToken, fake.accountSid];

  beforeAll(async () => {
    await fake.start();
    const options = { accountSid: fake.accountSid, authToken: fake.authToken, fromNumber: FROM_NUMBER, apiUrl: fake.url };
    sms = new TwilioSmsAdapter(options, TIMEOUT_MS);
    impatientSms = new TwilioSmsAdapter(options, SHORT_TIMEOUT_MS);
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.stop());

  it('delivers through the Messages API with basic auth and returns the SID', async () => {
    const receipt = await sms.sendSms({ to: PHONE, body: SMS_BODY });

    const [delivered] = await fake.waitForMessages(1);
    expect(receipt.providerMessageId).toBe(delivered.sid);
    expect(receipt.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
    expect(delivered).toMatchObject({ to: PHONE, from: FROM_NUMBER, body: SMS_BODY });

    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request.method).toBe('POST');
    expect(request.path).toBe(`/2010-04-01/Accounts/${fake.accountSid}/Messages.json`);
    expect(request.headers['content-type']).toContain('application/x-www-form-urlencoded');
    expect(request.body).toEqual({ To: PHONE, From: FROM_NUMBER, Body: SMS_BODY });
    expect(request.basicAuth).toEqual({ username: fake.accountSid, password: fake.authToken });
  });

  it('asks Twilio for delivery receipts when a status callback URL is configured', async () => {
    const callback = 'https://tokens.example.com/webhooks/twilio/status';
    const sender = createSmsSender(
      { kind: 'twilio', accountSid: fake.accountSid, authToken: fake.authToken, fromNumber: FROM_NUMBER, apiUrl: fake.url },
      TIMEOUT_MS,
      { statusCallbackUrl: callback },
    );
    await sender.sendSms({ to: PHONE, body: SMS_BODY });
    expect(fake.requests[0].body).toEqual({ To: PHONE, From: FROM_NUMBER, Body: SMS_BODY, StatusCallback: callback });
    expect(fake.messages[0].statusCallback).toBe(callback);
  });

  it('goes through the transport factory for kind twilio', async () => {
    const sender = createSmsSender(
      { kind: 'twilio', accountSid: fake.accountSid, authToken: fake.authToken, fromNumber: FROM_NUMBER, apiUrl: `${fake.url}/` },
      TIMEOUT_MS,
    );
    expect(sender.provider).toBe('twilio');
    const receipt = await sender.sendSms({ to: PHONE, body: SMS_BODY });
    expect(receipt.providerMessageId).toBe(fake.messages[0].sid);
  });

  it('delivers concurrent messages independently', async () => {
    const numbers = Array.from({ length: 10 }, (_, i) => `+55119876543${String(i).padStart(2, '0')}`);
    const receipts = await Promise.all(numbers.map((to) => sms.sendSms({ to, body: SMS_BODY })));
    const delivered = await fake.waitForMessages(10);
    expect(new Set(receipts.map((r) => r.providerMessageId))).toEqual(new Set(delivered.map((m) => m.sid)));
    expect(new Set(delivered.map((m) => m.to))).toEqual(new Set(numbers));
    // Every request of a sender used again and again goes to the same place with the same credentials.
    for (const request of fake.requests) {
      expect(request.path).toBe(`/2010-04-01/Accounts/${fake.accountSid}/Messages.json`);
      expect(request.basicAuth).toEqual({ username: fake.accountSid, password: fake.authToken });
    }
  });

  it('reports wrong credentials as permanent', async () => {
    const wrong = new TwilioSmsAdapter({ accountSid: fake.accountSid, authToken: 'not-the-token', fromNumber: FROM_NUMBER, apiUrl: fake.url }, TIMEOUT_MS);
    const err = await rejectionOf(wrong.sendSms({ to: PHONE, body: SMS_BODY }));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err).toMatchObject({ code: 'twilio_20003' });
    expectNothingSecret(err, [...secrets, 'not-the-token']);
    expect(fake.messages).toHaveLength(0);
  });

  it('reports a 500 as transient http_500', async () => {
    fake.failNext(1, { status: 500, body: { code: 20500, message: 'Internal Server Error', status: 500 } });
    const err = await rejectionOf(sms.sendSms({ to: PHONE, body: SMS_BODY }));
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err).toMatchObject({ code: 'http_500' });
    expectNothingSecret(err, secrets);
  });

  it('reports an invalid number (21211) as permanent twilio_21211, without quoting the number', async () => {
    fake.permanentError(1, 21211, `The 'To' number ${PHONE} is not a valid phone number.`);
    const err = await rejectionOf(sms.sendSms({ to: PHONE, body: SMS_BODY }));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err).toMatchObject({ code: 'twilio_21211' });
    expectNothingSecret(err, secrets);
  });

  it('reports 429 as transient with Retry-After, and does not retry by itself', async () => {
    fake.rateLimitNext(1, 7);
    const err = await rejectionOf(sms.sendSms({ to: PHONE, body: SMS_BODY }));
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err).toMatchObject({ code: 'twilio_20429', retryAfterMs: 7_000 });
    expect(fake.requests).toHaveLength(1);
    expectNothingSecret(err, secrets);
  });

  it('reports a dropped connection as a transient network error', async () => {
    fake.resetNext(1);
    const err = await rejectionOf(sms.sendSms({ to: PHONE, body: SMS_BODY }));
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err).toMatchObject({ code: 'network_ECONNRESET' });
    expectNothingSecret(err, secrets);
  });

  it('reports a refused connection as a transient network error', async () => {
    const closed = new FakeTwilio();
    await closed.start();
    const url = closed.url;
    await closed.stop();
    const adapter = new TwilioSmsAdapter({ accountSid: fake.accountSid, authToken: fake.authToken, fromNumber: FROM_NUMBER, apiUrl: url }, TIMEOUT_MS);
    const err = await rejectionOf(adapter.sendSms({ to: PHONE, body: SMS_BODY }));
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err).toMatchObject({ code: 'network_ECONNREFUSED' });
  });

  it('reports a provider that never answers as a transient timeout', async () => {
    fake.hangNext(1);
    const started = Date.now();
    const err = await rejectionOf(impatientSms.sendSms({ to: PHONE, body: SMS_BODY }));
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err).toMatchObject({ code: 'timeout' });
    expect(Date.now() - started).toBeLessThan(SHORT_TIMEOUT_MS + 2_000);
    expectNothingSecret(err, secrets);
  });

  it('times out on a slow provider too', async () => {
    fake.delay(SHORT_TIMEOUT_MS * 3);
    const err = await rejectionOf(impatientSms.sendSms({ to: PHONE, body: SMS_BODY }));
    expect(err).toMatchObject({ name: 'TransientSendError', code: 'timeout' });
  });
});

describe('SesEmailAdapter against FakeSes', () => {
  const fake = new FakeSes({ accessKeyId: AWS_KEY_ID });
  let email: SesEmailAdapter;
  let impatientEmail: SesEmailAdapter;
  const secrets = [EMAIL, EMAIL_BODY, TOKEN, AWS_SECRET];
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    // The adapter uses the SDK's default credential chain; the environment comes first.
    process.env.AWS_ACCESS_KEY_ID = AWS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = AWS_SECRET;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    await fake.start();
    const options = { fromAddress: FROM_ADDRESS, region: 'us-east-1', endpoint: fake.url };
    email = new SesEmailAdapter(options, TIMEOUT_MS);
    impatientEmail = new SesEmailAdapter(options, SHORT_TIMEOUT_MS);
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await fake.stop();
    process.env = savedEnv;
  });

  const send = (adapter: SesEmailAdapter = email) => adapter.sendEmail({ to: EMAIL, subject: SUBJECT, body: EMAIL_BODY });

  it('delivers through SendEmail, signed, and returns the MessageId', async () => {
    const receipt = await send();

    const [delivered] = await fake.waitForMessages(1);
    expect(receipt.providerMessageId).toBe(delivered.messageId);
    expect(delivered).toMatchObject({ from: FROM_ADDRESS, to: [EMAIL], subject: SUBJECT, body: EMAIL_BODY });

    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v2/email/outbound-emails');
    expect(String(request.headers.authorization)).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${AWS_KEY_ID}/\\d{8}/us-east-1/ses/aws4_request`));
    expect(request.body).toMatchObject({
      Content: { Simple: { Subject: { Data: SUBJECT, Charset: 'UTF-8' }, Body: { Text: { Data: EMAIL_BODY, Charset: 'UTF-8' } } } },
    });
  });

  it('goes through the transport factory for kind ses', async () => {
    const sender = createEmailSender({ kind: 'ses', fromAddress: FROM_ADDRESS, region: 'us-east-1', endpoint: fake.url }, TIMEOUT_MS);
    expect(sender.provider).toBe('ses');
    const receipt = await sender.sendEmail({ to: EMAIL, subject: SUBJECT, body: EMAIL_BODY });
    expect(receipt.providerMessageId).toBe(fake.messages[0].messageId);
  });

  it('reports MessageRejected as permanent, without quoting the address', async () => {
    fake.permanentError(1, 'MessageRejected', `Email address is not verified. The following identities failed the check: ${EMAIL}`);
    const err = await rejectionOf(send());
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err).toMatchObject({ code: 'ses_MessageRejected' });
    expectNothingSecret(err, secrets);
  });

  it('reports credentials SES does not recognise as permanent', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIAWRONGWRONGWRONG0';
    try {
      const adapter = new SesEmailAdapter({ fromAddress: FROM_ADDRESS, region: 'us-east-1', endpoint: fake.url }, TIMEOUT_MS);
      const err = await rejectionOf(send(adapter));
      expect(err).toBeInstanceOf(PermanentSendError);
      expect(err).toMatchObject({ code: 'ses_UnrecognizedClientException' });
      expectNothingSecret(err, secrets);
    } finally {
      process.env.AWS_ACCESS_KEY_ID = AWS_KEY_ID;
    }
  });

  it.each([
    [500, 'InternalFailure'],
    [503, 'ServiceUnavailable'],
  ])('reports %i as transient, and does not retry by itself', async (status, errorType) => {
    fake.failNext(1, sesError(status, errorType, 'Something went wrong'));
    const err = await rejectionOf(send());
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err).toMatchObject({ code: `ses_${errorType}` });
    expect(fake.requests).toHaveLength(1);
    expectNothingSecret(err, secrets);
  });

  it('reports a bare 503 (no error type) as transient http_503', async () => {
    fake.failNext(1, { status: 503, body: '' });
    const err = await rejectionOf(send());
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err).toMatchObject({ code: 'http_503' });
  });

  it('reports throttling as transient', async () => {
    fake.rateLimitNext(1);
    const err = await rejectionOf(send());
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err).toMatchObject({ code: 'ses_TooManyRequestsException' });
    expect(fake.requests).toHaveLength(1);
    expectNothingSecret(err, secrets);
  });

  it('reports a dropped connection as a transient network error', async () => {
    fake.resetNext(1);
    const err = await rejectionOf(send());
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err).toMatchObject({ code: 'network_ECONNRESET' });
    expectNothingSecret(err, secrets);
  });

  it('reports a refused connection as a transient network error', async () => {
    const closed = new FakeSes();
    await closed.start();
    const url = closed.url;
    await closed.stop();
    const adapter = new SesEmailAdapter({ fromAddress: FROM_ADDRESS, region: 'us-east-1', endpoint: url }, TIMEOUT_MS);
    const err = await rejectionOf(send(adapter));
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err).toMatchObject({ code: 'network_ECONNREFUSED' });
  });

  it('times out on a slow provider', async () => {
    fake.delay(SHORT_TIMEOUT_MS * 3);
    const err = await rejectionOf(send(impatientEmail));
    expect(err).toMatchObject({ name: 'TransientSendError', code: 'timeout' });
  });

  it('reports a provider that never answers as a transient timeout', async () => {
    fake.hangNext(1);
    const started = Date.now();
    const err = await rejectionOf(send(impatientEmail));
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err).toMatchObject({ code: 'timeout' });
    expect(Date.now() - started).toBeLessThan(SHORT_TIMEOUT_MS + 2_000);
    expectNothingSecret(err, secrets);
  });
});

describe('Outbox adapters', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outbox-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('appends one JSON line per message, creating the directory', async () => {
    const path = join(dir, 'nested', 'messages.log');
    const smsReceipt = await new OutboxSmsAdapter(path).sendSms({ to: PHONE, body: SMS_BODY });
    const emailReceipt = await createEmailSender({ kind: 'outbox', path }, TIMEOUT_MS).sendEmail({ to: EMAIL, subject: SUBJECT, body: EMAIL_BODY });

    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const [smsLine, emailLine] = lines.map((line) => JSON.parse(line) as OutboxRecord);
    expect(smsLine).toEqual({ at: expect.any(String), channel: 'sms', to: PHONE, body: SMS_BODY, id: smsReceipt.providerMessageId });
    expect(emailLine).toEqual({
      at: expect.any(String),
      channel: 'email',
      to: EMAIL,
      subject: SUBJECT,
      body: EMAIL_BODY,
      id: emailReceipt.providerMessageId,
    });
    expect(Number.isNaN(Date.parse(smsLine.at))).toBe(false);
    expect(smsReceipt.providerMessageId).not.toBe(emailReceipt.providerMessageId);
  });

  it("names the message's send (account, device, dispatch) when the sender gives it, after the message's own fields", async () => {
    const path = join(dir, 'messages.log');
    const reference = { accountKey: 'account-1', deviceKey: 'device-1', dispatchId: 'dispatch-1' };
    const receipt = await new OutboxSmsAdapter(path).sendSms({ to: PHONE, body: SMS_BODY, reference });
    await new OutboxEmailAdapter(path).sendEmail({ to: EMAIL, subject: SUBJECT, body: EMAIL_BODY, reference });
    const [smsLine, emailLine] = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(JSON.parse(smsLine)).toEqual({
      at: expect.any(String),
      channel: 'sms',
      to: PHONE,
      body: SMS_BODY,
      id: receipt.providerMessageId,
      account_key: 'account-1',
      device_key: 'device-1',
      dispatch_id: 'dispatch-1',
    });
    expect(Object.keys(JSON.parse(emailLine))).toEqual(['at', 'channel', 'to', 'subject', 'body', 'id', 'account_key', 'device_key', 'dispatch_id']);
  });

  it('keeps concurrent lines whole', async () => {
    const path = join(dir, 'messages.log');
    const outbox = new OutboxEmailAdapter(path);
    await Promise.all(Array.from({ length: 25 }, (_, i) => outbox.sendEmail({ to: `a${i}@example.com`, subject: SUBJECT, body: EMAIL_BODY })));
    const records = (await readFile(path, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as OutboxRecord);
    expect(new Set(records.map((r) => r.to)).size).toBe(25);
  });
});
