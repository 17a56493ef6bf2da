/**
 * Twilio delivery receipts end to end: the worker asks the (fake) Twilio for
 * status callbacks at TWILIO_STATUS_CALLBACK_URL, and the api takes Twilio's
 * signed form posts at POST /webhooks/twilio/status and shows the delivery
 * status in the query endpoint's `token_dispatch`.
 *
 * The callback URL is the public one an operator configures (here a made-up
 * https host in front of the api, as behind a load balancer): Twilio signs
 * that URL, so the receipts are signed over it and posted to the api's socket.
 */
import { randomBytes } from 'node:crypto';
import { twilioSignature } from '../support/twilio-signature';
import { FAKE_TWILIO_ACCOUNT_SID, FAKE_TWILIO_AUTH_TOKEN } from '../fakes';
import { http } from '../support/api-client';
import { expectError, pendingDevice as settledDevice, unchanged, type PendingDevice } from '../support/e2e-checks';
import { Stack } from '../support/stack';

const CALLBACK_URL = 'https://tokens.example.com/webhooks/twilio/status';
const PATH = '/webhooks/twilio/status';

type Fields = Record<string, string>;

describe('Twilio delivery receipts', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'receipts', env: { TWILIO_STATUS_CALLBACK_URL: CALLBACK_URL } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const pendingDevice = () => settledDevice(stack);

  const sidOf = async (d: PendingDevice): Promise<string> => (await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch.provider_message_id;

  /** The fields Twilio posts for an outbound SMS status change. */
  const receiptFields = (sid: string, status: string, extra: Fields = {}): Fields => ({
    AccountSid: FAKE_TWILIO_ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    From: '+15005550006',
    MessageSid: sid,
    MessageStatus: status,
    SmsSid: sid,
    SmsStatus: status,
    To: '+5511900000000',
    ...extra,
  });

  const sign = (fields: Fields, url = CALLBACK_URL, authToken = FAKE_TWILIO_AUTH_TOKEN) => twilioSignature(authToken, url, fields);

  const post = (fields: Fields, signature: string | undefined, contentType = 'application/x-www-form-urlencoded') =>
    http(stack.apiUrl + PATH, {
      method: 'POST',
      headers: { 'content-type': contentType, ...(signature === undefined ? {} : { 'x-twilio-signature': signature }) },
      body: new URLSearchParams(fields).toString(),
    });

  const postSigned = (fields: Fields) => post(fields, sign(fields));

  it('the worker gave Twilio the configured StatusCallback with the SMS', async () => {
    const d = await pendingDevice();
    const sms = stack.twilio.messages.find((m) => m.to === d.approver.phone_number)!;
    expect(sms.statusCallback).toBe(CALLBACK_URL);
    const request = stack.twilio.requests.find((r) => (r.body as Fields | undefined)?.To === d.approver.phone_number)!;
    expect(request.body).toMatchObject({ StatusCallback: CALLBACK_URL });
    expect(await sidOf(d)).toBe(sms.sid);
  });

  it('a correctly signed receipt is recorded on the dispatch and shown by the query', async () => {
    const d = await pendingDevice();
    const sid = await sidOf(d);
    const before = (await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch;
    expect(before).toMatchObject({ state: 'sent', delivery_status: null, delivery_error_code: null, delivery_updated_at: null });

    const res = await postSigned(receiptFields(sid, 'delivered'));
    expect(res.status).toBe(204);
    expect(res.text).toBe('');

    const after = (await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch;
    expect(after).toEqual({
      ...before,
      delivery_status: 'delivered',
      delivery_error_code: null,
      delivery_updated_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    });
    expect(Date.parse(after.delivery_updated_at)).toBeGreaterThanOrEqual(Date.parse(before.sent_at));

    // A late `sent` does not undo `delivered` (callbacks can arrive out of order).
    expect((await postSigned(receiptFields(sid, 'sent'))).status).toBe(204);
    expect((await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch.delivery_status).toBe('delivered');
  });

  it('an undelivered message is shown with Twilio’s error code', async () => {
    const d = await pendingDevice();
    const sid = await sidOf(d);
    expect((await postSigned(receiptFields(sid, 'sent'))).status).toBe(204);
    expect((await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch).toMatchObject({ delivery_status: 'sent', delivery_error_code: null });

    expect((await postSigned(receiptFields(sid, 'undelivered', { ErrorCode: '30003' }))).status).toBe(204);
    expect((await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch).toMatchObject({
      state: 'sent',
      delivery_status: 'undelivered',
      delivery_error_code: 'twilio_30003',
    });
  });

  it('a missing or wrong signature is refused with 403 DTS000012 and changes nothing', async () => {
    const d = await pendingDevice();
    const fields = receiptFields(await sidOf(d), 'failed', { ErrorCode: '30008' });
    const good = sign(fields);
    await unchanged(stack, [d], async () => {
      expectError(await post(fields, undefined), 'DTS000012', { reason: 'X-Twilio-Signature header missing' });
      expectError(await post(fields, ''), 'DTS000012', { reason: 'X-Twilio-Signature header missing' });
      expectError(await post(fields, 'bm90IGEgc2lnbmF0dXJl'), 'DTS000012');
      expectError(await post(fields, good.slice(0, -4) + (good.endsWith('AAA=') ? 'BBB=' : 'AAA=')), 'DTS000012');
      // Signed with another auth token, or over another URL (the api's own socket address).
      expectError(await post(fields, sign(fields, CALLBACK_URL, 'another-auth-token-0123456789')), 'DTS000012');
      expectError(await post(fields, sign(fields, stack.apiUrl + PATH)), 'DTS000012');
    });
  });

  it('a signature over different fields is refused: nothing can be changed or added after signing', async () => {
    const d = await pendingDevice();
    const sid = await sidOf(d);
    const signed = receiptFields(sid, 'delivered');
    const signature = sign(signed);
    const other = await pendingDevice();
    await unchanged(stack, [d], async () => {
      expectError(await post({ ...signed, MessageStatus: 'undelivered' }, signature), 'DTS000012');
      expectError(await post({ ...signed, ErrorCode: '30003' }, signature), 'DTS000012');
      const { To: _dropped, ...fewer } = signed;
      expectError(await post(fewer, signature), 'DTS000012');
      // The signature of another message's receipt does not carry over.
      expectError(await post(receiptFields(sid, 'delivered'), sign(receiptFields(await sidOf(other), 'delivered'))), 'DTS000012');
    });
    expect((await post(signed, signature)).status).toBe(204);
  });

  it('a signed receipt for an unknown message is acknowledged (so Twilio stops) and logged, and changes nothing', async () => {
    const d = await pendingDevice();
    const unknownSid = `SM${randomBytes(16).toString('hex')}`;
    await unchanged(stack, [d], async () => {
      const res = await postSigned(receiptFields(unknownSid, 'delivered'));
      expect(res.status).toBe(204);
    });
    await stack.api.waitFor(new RegExp(`receipt for unknown message ${unknownSid} \\(delivered\\): ignored`));
  });

  it('a signed receipt without the fields it needs is a schema error', async () => {
    const d = await pendingDevice();
    await unchanged(stack, [d], async () => {
      const fields = { AccountSid: FAKE_TWILIO_ACCOUNT_SID, MessageStatus: 'delivered' };
      expectError(await postSigned(fields), 'QIT000001', { errors: [{ field: 'MessageSid', reason: 'Invalid input: expected string, received undefined' }] });
    });
  });

  it('form bodies are taken on this route only; JSON-only elsewhere, as before', async () => {
    const d = await pendingDevice();
    const validate = `/account/${d.accountKey}/device/${d.deviceKey}/validate`;
    await unchanged(stack, [d], async () => {
      expectError(await d.client.send('PUT', validate, `token=${d.code}`, { contentType: 'application/x-www-form-urlencoded' }), 'DTS000007');
      expectError(
        await d.client.send('POST', `/account/${d.accountKey}/device`, `device_key=${d.deviceKey}`, { contentType: 'application/x-www-form-urlencoded' }),
        'DTS000007',
      );
      expectError(
        await http(`${stack.apiUrl}/internal/clients/${d.client.clientKey}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer whatever' },
          body: 'name=x',
        }),
        'DTS000007',
      );
      const fields = receiptFields(await sidOf(d), 'delivered');
      expectError(await post(fields, sign(fields), 'text/plain'), 'DTS000007');
    });
    expect((await d.client.validate(d.accountKey, d.deviceKey, d.code)).status).toBe(201);
  });
});
