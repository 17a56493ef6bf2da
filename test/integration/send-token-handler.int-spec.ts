/**
 * The worker's send-token handler on a real Redis (the store's repositories
 * and scripts), with recording SMS and e-mail senders in place of the
 * providers: what is sent to whom, what is recorded on the dispatch and the
 * device, and every reason a job skips or fails.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import Redis from 'ioredis';
import { RefusedJobError, SendTokenHandler } from '../../apps/worker/src/send-token.handler';
import { loadConfig } from '@lib/config';
import type { SendTokenPayload } from '@lib/dispatch-contract';
import { DEFAULT_DATA_LIFETIMES, DEFAULT_GUESS_LIMIT_POLICY, DEFAULT_SEND_LIMIT_POLICY, TokenCrypto, type Approver, type ContactType } from '@lib/domain';
import { TransientSendError, type EmailMessage, type EmailSender, type SmsMessage, type SmsSender } from '@lib/notifications';
import { DeviceRepository, DirectoryRepository, RedisKeys } from '@lib/store';
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '../support/redis';

class RecordingSms implements SmsSender {
  readonly provider = 'twilio';
  readonly sent: SmsMessage[] = [];
  failures: Error[] = [];
  async sendSms(message: SmsMessage) {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.sent.push(message);
    return { providerMessageId: `SM${this.sent.length}-${randomUUID()}` };
  }
}

class RecordingEmail implements EmailSender {
  readonly provider = 'ses';
  readonly sent: EmailMessage[] = [];
  async sendEmail(message: EmailMessage) {
    this.sent.push(message);
    return { providerMessageId: `ses-${randomUUID()}` };
  }
}

describe('SendTokenHandler on Redis', () => {
  const prefix = uniquePrefix('send-token');
  const keys = new RedisKeys(prefix);
  const config = loadConfig({ NODE_ENV: 'test', TOKEN_HASH_SECRET: 'send-token-handler-test-secret-0123456789' }, 'worker');
  const crypto = new TokenCrypto(config.tokenHashSecret, config.tokenPolicy);
  let redis: Redis;
  let devices: DeviceRepository;
  let directory: DirectoryRepository;
  let sms: RecordingSms;
  let email: RecordingEmail;
  let handler: SendTokenHandler;

  beforeAll(() => {
    Logger.overrideLogger(false);
    redis = new Redis(TEST_REDIS_URL);
    devices = new DeviceRepository(redis, keys);
    directory = new DirectoryRepository(redis, keys);
  });

  beforeEach(() => {
    sms = new RecordingSms();
    email = new RecordingEmail();
    handler = new SendTokenHandler(config, devices, crypto, sms, email);
  });

  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
    Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']);
  });

  const approverOf = (n: number): Approver => ({
    document_number: `doc-${n}-${randomUUID()}`,
    name: 'Ana Conceição',
    phone_number: `+55119${String(n).padStart(8, '0')}`,
    email: `approver.${n}@example.com`,
  });

  /** An account with two approvers and a pending device of the second, its first dispatch queued. */
  async function pendingDevice(channel: ContactType = 'sms') {
    const accountKey = `acc-${randomUUID()}`;
    const approvers = [approverOf(1), approverOf(2)];
    await directory.putAccount({ accountKey, clientKey: 'client-1', status: 'active', kind: 'regular', approvers });
    const deviceKey = randomUUID();
    const dispatch = await queueDispatch(accountKey, deviceKey, channel, { approverDocument: approvers[1].document_number });
    return { accountKey, deviceKey, ...dispatch, approvers, approver: approvers[1] };
  }

  /** Requests a send as the api does; returns the dispatch (id, request id, nonce). */
  async function queueDispatch(accountKey: string, deviceKey: string, channel: ContactType, create?: { approverDocument: string }) {
    const dispatchId = randomUUID();
    const requestId = randomUUID();
    const codeNonce = TokenCrypto.newCodeNonce();
    const nowMs = Date.now();
    const result = await devices.requestDispatch(
      {
        accountKey,
        deviceKey,
        dispatchId,
        requestId,
        channel,
        codeNonce,
        destinationDigest: randomUUID(),
        maskedDestination: '+55*******0000',
        nowMs,
        maxFailedAttempts: 5,
        coalesceMs: 0,
        perDeviceCap: 100,
        perDestinationCap: 100,
        windowMs: DEFAULT_SEND_LIMIT_POLICY.windowSeconds * 1000,
        dispatchTtlSeconds: DEFAULT_DATA_LIFETIMES.dispatchSeconds,
        pendingDeviceTtlSeconds: DEFAULT_DATA_LIFETIMES.pendingDeviceSeconds,
      },
      create && {
        sessionId: randomUUID(),
        contactType: channel,
        approverDocument: create.approverDocument,
        creationCap: 100,
        creationWindowMs: DEFAULT_GUESS_LIMIT_POLICY.windowSeconds * 1000,
      },
    );
    expect(result.outcome).toBe('queued');
    return { dispatchId, requestId, codeNonce, channel };
  }

  /** The job of a dispatch as BullMQ hands it to the handler; `data` replaces its data (an edited job). */
  const job = (d: { dispatchId: string; requestId: string }, attemptsMade = 0, data: unknown = { dispatchId: d.dispatchId, requestId: d.requestId }) =>
    ({ id: d.dispatchId, data, attemptsMade, opts: { attempts: 3 } }) as unknown as Job<SendTokenPayload>;
  const codeOf = (d: { dispatchId: string; codeNonce: string }) => crypto.codeFor(d.dispatchId, d.codeNonce);

  it("sends the dispatch's code to the device's approver and records the send", async () => {
    const dev = await pendingDevice();
    const result = await handler.handle(job(dev), dev.channel);
    const code = codeOf(dev);
    expect(sms.sent).toHaveLength(1);
    expect(sms.sent[0].to).toBe(dev.approver.phone_number);
    expect(sms.sent[0].body).toContain(code);
    // Ids only, for the development outbox: which account, device and dispatch the message is.
    expect(sms.sent[0].reference).toEqual({ accountKey: dev.accountKey, deviceKey: dev.deviceKey, dispatchId: dev.dispatchId });
    expect(result).toEqual({ outcome: 'sent', provider: 'twilio', provider_message_id: expect.stringMatching(/^SM1-/) });
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'sent', provider: 'twilio', attempts: 1 });
    expect(await redis.hmget(keys.device(dev.accountKey, dev.deviceKey), 'token_nonce', 'token_dispatch_id')).toEqual([dev.codeNonce, dev.dispatchId]);
  });

  it('e-mails the approver (by name) for an e-mail dispatch: the channel is the one the store recorded', async () => {
    const dev = await pendingDevice('email');
    await handler.handle(job(dev), dev.channel);
    expect(sms.sent).toHaveLength(0);
    expect(email.sent).toHaveLength(1);
    expect(email.sent[0].to).toBe(dev.approver.email);
    expect(email.sent[0].body).toContain('Ana Conceição');
    expect(email.sent[0].body).toContain(codeOf(dev));
    expect(email.sent[0].reference).toEqual({ accountKey: dev.accountKey, deviceKey: dev.deviceKey, dispatchId: dev.dispatchId });
  });

  it('sends the same code again when a transient failure is retried', async () => {
    const dev = await pendingDevice();
    sms.failures.push(new TransientSendError('http_503', 'unavailable'));
    await expect(handler.handle(job(dev, 0), dev.channel)).rejects.toBeInstanceOf(TransientSendError);
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'retrying', lastErrorCode: 'http_503', attempts: 1 });
    await handler.handle(job(dev, 1), dev.channel);
    expect(sms.sent).toHaveLength(1);
    expect(sms.sent[0].body).toContain(codeOf(dev));
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'sent', attempts: 2 });
  });

  it('does not send a dispatch already recorded as sent a second time (its job re-run)', async () => {
    const dev = await pendingDevice();
    await handler.handle(job(dev), dev.channel);
    expect(await handler.handle(job(dev, 1), dev.channel)).toEqual({ outcome: 'skipped', reason: 'already_sent' });
    expect(sms.sent).toHaveLength(1);
  });

  it('skips a superseded dispatch and one whose device no longer waits for approval, sending nothing', async () => {
    const dev = await pendingDevice();
    const second = await queueDispatch(dev.accountKey, dev.deviceKey, 'sms');
    expect(await handler.handle(job(dev), dev.channel)).toEqual({ outcome: 'skipped', reason: 'superseded' });
    await devices.disable(dev.accountKey, dev.deviceKey, Date.now());
    expect(await handler.handle(job(second), second.channel)).toEqual({ outcome: 'skipped', reason: 'not_pending' });
    expect(sms.sent).toHaveLength(0);
  });

  it('fails for good, sending nothing, when the approver is no longer on the account', async () => {
    const dev = await pendingDevice();
    await directory.putAccount({ accountKey: dev.accountKey, clientKey: 'client-1', status: 'active', kind: 'regular', approvers: [dev.approvers[0]] });
    const err = await handler.handle(job(dev), dev.channel).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toBe('approver_missing');
    expect(sms.sent).toHaveLength(0);
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'failed', lastErrorCode: 'approver_missing', attempts: 1 });
    expect(await redis.hexists(keys.device(dev.accountKey, dev.deviceKey), 'token_nonce')).toBe(0);
  });

  it('fails an SMS to a country calling code not allowed for good, without calling the provider', async () => {
    const dev = await pendingDevice();
    await directory.putAccount({
      accountKey: dev.accountKey,
      clientKey: 'client-1',
      status: 'active',
      kind: 'regular',
      approvers: [dev.approvers[0], { ...dev.approver, phone_number: '+2348012345678' }],
    });
    const err = await handler.handle(job(dev), dev.channel).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toBe('country_not_allowed');
    expect(sms.sent).toHaveLength(0);
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'failed', lastErrorCode: 'country_not_allowed' });
  });

  it.each([
    ['an account key added (the dashboard edit of the attack)', (d: { dispatchId: string; requestId: string }) => ({ ...d, accountKey: randomUUID() })],
    ['a channel added', (d: { dispatchId: string; requestId: string }) => ({ ...d, channel: 'email' })],
    ['another request id', (d: { dispatchId: string; requestId: string }) => ({ ...d, requestId: randomUUID() })],
    ['another dispatch id', (d: { dispatchId: string; requestId: string }) => ({ ...d, dispatchId: randomUUID() })],
    ['no data', () => null],
  ])('refuses, sending nothing and leaving the token untouched, a job with %s', async (_case, edit) => {
    const dev = await pendingDevice();
    await handler.handle(job(dev), dev.channel); // the device's first code is live
    const second = await queueDispatch(dev.accountKey, dev.deviceKey, 'sms');
    const before = await redis.hgetall(keys.device(dev.accountKey, dev.deviceKey));
    const err = await handler.handle(job(second, 0, edit(second)), second.channel).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedJobError);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect(sms.sent).toHaveLength(1);
    expect(await redis.hgetall(keys.device(dev.accountKey, dev.deviceKey))).toEqual(before);
    expect(await devices.dispatch(second.dispatchId)).toMatchObject({ state: 'refused', lastErrorCode: 'job_data_mismatch' });
  });
});
