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
import { SendTokenHandler } from '../../apps/worker/src/send-token.handler';
import { loadConfig, type AppConfig } from '@lib/config';
import type { SendTokenPayload } from '@lib/dispatch-contract';
import { SEND_LIMIT_WINDOW_MS, TokenCrypto, type Approver, type ContactType } from '@lib/domain';
import { TransientSendError, type EmailMessage, type EmailSender, type SmsMessage, type SmsSender } from '@lib/notifications';
import { DeviceRepository, DirectoryRepository, RedisKeys } from '@lib/store';
import { DispatchQueue } from '../../apps/api/src/infrastructure/dispatch-queue';
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
  let queue: DispatchQueue;
  let sms: RecordingSms;
  let email: RecordingEmail;
  let handler: SendTokenHandler;

  beforeAll(() => {
    Logger.overrideLogger(false);
    redis = new Redis(TEST_REDIS_URL);
    devices = new DeviceRepository(redis, keys);
    directory = new DirectoryRepository(redis, keys);
    queue = new DispatchQueue(redis, keys, config.retry);
  });

  beforeEach(() => {
    sms = new RecordingSms();
    email = new RecordingEmail();
    // SendTokenHandler still declares the api's AppConfig; it reads only settings the worker's config has.
    handler = new SendTokenHandler(config as AppConfig, devices, crypto, sms, email);
  });

  afterAll(async () => {
    await queue.close();
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
    const dispatchId = await queueDispatch(accountKey, deviceKey, channel, { approverDocument: approvers[1].document_number });
    return { accountKey, deviceKey, dispatchId, approvers, approver: approvers[1] };
  }

  async function queueDispatch(accountKey: string, deviceKey: string, channel: ContactType, create?: { approverDocument: string }) {
    const dispatchId = randomUUID();
    const requestId = randomUUID();
    const nowMs = Date.now();
    const result = await devices.requestDispatch(
      {
        accountKey,
        deviceKey,
        dispatchId,
        requestId,
        channel,
        destinationDigest: randomUUID(),
        maskedDestination: '+55*******0000',
        nowMs,
        maxFailedAttempts: 5,
        coalesceMs: 0,
        perDeviceCap: 100,
        perDestinationCap: 100,
        windowMs: SEND_LIMIT_WINDOW_MS,
        job: queue.job({ dispatchId, accountKey, deviceKey, channel, requestId }, nowMs),
      },
      create && { sessionId: randomUUID(), contactType: channel, approverDocument: create.approverDocument },
    );
    expect(result.outcome).toBe('queued');
    return dispatchId;
  }

  const job = (d: { accountKey: string; deviceKey: string; dispatchId: string }, channel: ContactType = 'sms', attemptsMade = 0) =>
    ({
      id: d.dispatchId,
      data: { dispatchId: d.dispatchId, accountKey: d.accountKey, deviceKey: d.deviceKey, channel, requestId: randomUUID() },
      attemptsMade,
      opts: { attempts: 3 },
    }) as unknown as Job<SendTokenPayload>;

  it("sends the dispatch's code to the device's approver and records the send", async () => {
    const dev = await pendingDevice();
    const result = await handler.handle(job(dev));
    const code = crypto.tokenFor(dev.dispatchId);
    expect(sms.sent).toHaveLength(1);
    expect(sms.sent[0].to).toBe(dev.approver.phone_number);
    expect(sms.sent[0].body).toContain(code);
    expect(result).toEqual({ outcome: 'sent', provider: 'twilio', provider_message_id: expect.stringMatching(/^SM1-/) });
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'sent', provider: 'twilio', attempts: 1 });
    expect(await redis.hmget(keys.device(dev.deviceKey), 'token_hash', 'token_dispatch_id')).toEqual([crypto.hashToken(dev.deviceKey, code), dev.dispatchId]);
  });

  it('e-mails the approver (by name) for an e-mail dispatch', async () => {
    const dev = await pendingDevice('email');
    await handler.handle(job(dev, 'email'));
    expect(sms.sent).toHaveLength(0);
    expect(email.sent).toHaveLength(1);
    expect(email.sent[0].to).toBe(dev.approver.email);
    expect(email.sent[0].body).toContain('Ana Conceição');
    expect(email.sent[0].body).toContain(crypto.tokenFor(dev.dispatchId));
  });

  it('sends the same code again when a transient failure is retried', async () => {
    const dev = await pendingDevice();
    sms.failures.push(new TransientSendError('http_503', 'unavailable'));
    await expect(handler.handle(job(dev, 'sms', 0))).rejects.toBeInstanceOf(TransientSendError);
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'retrying', lastErrorCode: 'http_503', attempts: 1 });
    await handler.handle(job(dev, 'sms', 1));
    expect(sms.sent).toHaveLength(1);
    expect(sms.sent[0].body).toContain(crypto.tokenFor(dev.dispatchId));
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'sent', attempts: 2 });
  });

  it('does not send a dispatch already recorded as sent a second time (its job re-run)', async () => {
    const dev = await pendingDevice();
    await handler.handle(job(dev));
    expect(await handler.handle(job(dev, 'sms', 1))).toEqual({ outcome: 'skipped', reason: 'already_sent' });
    expect(sms.sent).toHaveLength(1);
  });

  it('skips a superseded dispatch and one whose device no longer waits for approval, sending nothing', async () => {
    const dev = await pendingDevice();
    const second = await queueDispatch(dev.accountKey, dev.deviceKey, 'sms');
    expect(await handler.handle(job(dev))).toEqual({ outcome: 'skipped', reason: 'superseded' });
    await devices.disable(dev.accountKey, dev.deviceKey, Date.now());
    expect(await handler.handle(job({ ...dev, dispatchId: second }))).toEqual({ outcome: 'skipped', reason: 'not_pending' });
    expect(await handler.handle(job({ ...dev, deviceKey: randomUUID() }))).toEqual({ outcome: 'skipped', reason: 'gone' });
    expect(sms.sent).toHaveLength(0);
  });

  it("fails for good, sending nothing, when the approver is no longer on the account", async () => {
    const dev = await pendingDevice();
    await directory.putAccount({ accountKey: dev.accountKey, clientKey: 'client-1', status: 'active', kind: 'regular', approvers: [dev.approvers[0]] });
    const err = await handler.handle(job(dev)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toBe('approver_missing');
    expect(sms.sent).toHaveLength(0);
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'failed', lastErrorCode: 'approver_missing', attempts: 1 });
    expect(await redis.hexists(keys.device(dev.deviceKey), 'token_hash')).toBe(0);
  });

  it("skips, sending nothing, a job naming another account than the device's", async () => {
    const dev = await pendingDevice();
    const other = await pendingDevice();
    expect(await handler.handle(job({ ...dev, accountKey: other.accountKey }))).toEqual({ outcome: 'skipped', reason: 'armed' });
    expect(sms.sent).toHaveLength(0);
  });
});
