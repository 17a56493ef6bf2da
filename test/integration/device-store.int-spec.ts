/**
 * The device store's Lua scripts on a real Redis: the atomic rules that the
 * API and worker rely on (send caps, coalescing, attempt reservation, token
 * arming), exercised directly and under concurrency.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { SEND_LIMIT_WINDOW_MS, type Approver } from '@lib/domain';
import { DeviceRepository, DirectoryRepository, PROVIDER_MESSAGE_TTL_SECONDS, RedisKeys, type Account, type DispatchRequest } from '@lib/store';
import { DispatchQueue } from '../../apps/api/src/infrastructure/dispatch-queue';
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '../support/redis';

describe('DeviceRepository on Redis', () => {
  const prefix = uniquePrefix('store');
  const keys = new RedisKeys(prefix);
  let redis: Redis;
  let devices: DeviceRepository;
  let directory: DirectoryRepository;
  let queue: DispatchQueue;

  /** The approver of the devices created below (`create`), on account acc-1. */
  const approver: Approver = { document_number: '12345678901', name: 'Maria da Conceição', phone_number: '+5511987654321', email: 'maria@example.com' };
  const otherApprover: Approver = { document_number: '98765432100', name: 'João Souza', phone_number: '+5511912345678', email: 'joao@example.com' };
  const account = (accountKey: string, approvers: Approver[]): Account => ({ accountKey, clientKey: 'client-1', status: 'active', kind: 'regular', approvers });

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    devices = new DeviceRepository(redis, keys);
    directory = new DirectoryRepository(redis, keys);
    queue = new DispatchQueue(redis, keys, { attempts: 3, backoffMs: 1000 });
    await directory.putAccount(account('acc-1', [otherApprover, approver]));
  });

  afterAll(async () => {
    await queue.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  /** A dispatch request; its send job is built from it unless given. */
  const request = (over: Partial<DispatchRequest> = {}): DispatchRequest => {
    const req = requestFields(over);
    const { dispatchId, accountKey, deviceKey, channel, requestId, nowMs } = req;
    return { ...req, job: over.job ?? queue.job({ dispatchId, accountKey, deviceKey, channel, requestId }, nowMs) };
  };
  const requestFields = (over: Partial<DispatchRequest>): Omit<DispatchRequest, 'job'> => ({
    accountKey: 'acc-1',
    deviceKey: randomUUID(),
    dispatchId: randomUUID(),
    requestId: randomUUID(),
    channel: 'sms',
    destinationDigest: randomUUID(),
    maskedDestination: '+55*******0000',
    nowMs: Date.now(),
    maxFailedAttempts: 5,
    coalesceMs: 30_000,
    perDeviceCap: 5,
    perDestinationCap: 10,
    windowMs: SEND_LIMIT_WINDOW_MS,
    ...over,
  });
  const create = { sessionId: randomUUID(), contactType: 'sms' as const, approverDocument: '12345678901' };

  /** Arms `dev`'s dispatch for its account; the outcome alone. */
  const arm = async (dev: Pick<DispatchRequest, 'accountKey' | 'deviceKey' | 'dispatchId'>, tokenHash: string, expiresAtMs: number, attempt: number) =>
    (await devices.armToken({ accountKey: dev.accountKey, deviceKey: dev.deviceKey, dispatchId: dev.dispatchId, tokenHash, expiresAtMs, attempt })).outcome;

  async function newDevice(over: Partial<DispatchRequest> = {}) {
    const req = request(over);
    const res = await devices.requestDispatch(req, create);
    expect(res.outcome).toBe('queued');
    return req;
  }

  it('creates a device once, its send job queued with it; a second create with the same key is refused and changes nothing', async () => {
    const first = await newDevice();
    const job = await queue.bullQueue.getJob(first.dispatchId);
    expect(job?.data).toEqual({ dispatchId: first.dispatchId, accountKey: 'acc-1', deviceKey: first.deviceKey, channel: 'sms', requestId: first.requestId });
    expect(await job?.getState()).toBe('waiting');
    const refused = request({ deviceKey: first.deviceKey, accountKey: 'acc-2' });
    const again = await devices.requestDispatch(refused, create);
    expect(again).toEqual({ outcome: 'exists' });
    expect(await queue.bullQueue.getJob(refused.dispatchId)).toBeUndefined();
    const device = await devices.get(first.deviceKey);
    expect(device).toMatchObject({ accountKey: 'acc-1', status: 'pending_2fa_approval', latestDispatchId: first.dispatchId });
  });

  it("refuses a send job that is not the dispatch's own, before writing anything", async () => {
    const other = request();
    const req = request({ job: other.job });
    await expect(devices.requestDispatch(req, create)).rejects.toThrow(/is not the dispatch id/);
    expect(await devices.get(req.deviceKey)).toBeUndefined();
    expect(await queue.bullQueue.getJob(other.dispatchId)).toBeUndefined();
  });

  it('coalesces same-channel resends inside the window, not other channels', async () => {
    const first = await newDevice();
    const joining = request({ deviceKey: first.deviceKey, destinationDigest: first.destinationDigest });
    const same = await devices.requestDispatch(joining);
    expect(same).toMatchObject({ outcome: 'coalesced', dispatchId: first.dispatchId, channel: 'sms', requestId: first.requestId });
    expect(await queue.bullQueue.getJob(joining.dispatchId)).toBeUndefined();
    const email = await devices.requestDispatch(request({ deviceKey: first.deviceKey, channel: 'email' }));
    expect(email.outcome).toBe('queued');
  });

  it('lets exactly the per-device cap through when 40 resends race', async () => {
    const first = await newDevice({ coalesceMs: 0, perDeviceCap: 5 });
    const results = await Promise.all(
      Array.from({ length: 40 }, () => devices.requestDispatch(request({ deviceKey: first.deviceKey, coalesceMs: 0, perDeviceCap: 5 }))),
    );
    const queued = results.filter((r) => r.outcome === 'queued');
    const capped = results.filter((r) => r.outcome === 'device_cap');
    expect(queued).toHaveLength(4); // the creation used one of the five
    expect(capped).toHaveLength(36);
    expect(await redis.zcard(keys.deviceSends(first.deviceKey))).toBe(5);
    // One job per queued dispatch, none for the refused requests.
    const jobs = (await queue.bullQueue.getJobs(['waiting'])).filter((j) => j.data.deviceKey === first.deviceKey);
    expect(jobs.map((j) => j.id).sort()).toEqual([first.dispatchId, ...queued.map((r) => (r.outcome === 'queued' ? r.dispatchId : ''))].sort());
  });

  it('applies the per-destination cap across devices, with a retry-after inside the window', async () => {
    const destinationDigest = randomUUID();
    for (let i = 0; i < 3; i += 1) await newDevice({ destinationDigest, perDestinationCap: 3 });
    const refused = await devices.requestDispatch(request({ destinationDigest, perDestinationCap: 3 }), create);
    expect(refused.outcome).toBe('destination_cap');
    if (refused.outcome !== 'destination_cap') return;
    expect(refused.retryAfterMs).toBeGreaterThan(SEND_LIMIT_WINDOW_MS - 60_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(SEND_LIMIT_WINDOW_MS);
  });

  it('never reserves more than the attempt limit under 50 concurrent guesses', async () => {
    const dev = await newDevice();
    expect(await arm(dev, 'f'.repeat(64), Date.now() + 60_000, 1)).toBe('armed');
    const reserved = await Promise.all(Array.from({ length: 50 }, () => devices.reserveAttempt('acc-1', dev.deviceKey, 5, Date.now())));
    expect(reserved.filter((r) => r.outcome === 'reserved')).toHaveLength(5);
    expect(reserved.filter((r) => r.outcome === 'locked')).toHaveLength(45);
    const failures = await Promise.all(Array.from({ length: 5 }, () => devices.failValidation(dev.deviceKey, 5, Date.now())));
    expect(failures.some((f) => f.locked)).toBe(true);
    expect((await devices.get(dev.deviceKey))?.status).toBe('rejected');
  });

  it('gives a matched attempt back and registers the device', async () => {
    const dev = await newDevice();
    await arm(dev, 'a'.repeat(64), Date.now() + 60_000, 1);
    const r = await devices.reserveAttempt('acc-1', dev.deviceKey, 5, Date.now());
    expect(r).toMatchObject({ outcome: 'reserved', tokenHash: 'a'.repeat(64), tokenDispatchId: dev.dispatchId, failedAttempts: 1 });
    const done = await devices.completeValidation(dev.deviceKey, dev.dispatchId, Date.now());
    expect(done.outcome).toBe('created');
    const device = await devices.get(dev.deviceKey);
    expect(device).toMatchObject({ status: 'created', failedAttempts: 0 });
    expect(await redis.hexists(keys.device(dev.deviceKey), 'token_hash')).toBe(0);
  });

  it('reports an expired or never-sent token without counting an attempt', async () => {
    const dev = await newDevice();
    expect(await devices.reserveAttempt('acc-1', dev.deviceKey, 5, Date.now())).toEqual({ outcome: 'expired' });
    await arm(dev, 'b'.repeat(64), Date.now() - 1, 1);
    expect(await devices.reserveAttempt('acc-1', dev.deviceKey, 5, Date.now())).toEqual({ outcome: 'expired' });
    expect((await devices.get(dev.deviceKey))?.failedAttempts).toBe(0);
  });

  it('arms only the latest dispatch of a pending device', async () => {
    const dev = await newDevice({ coalesceMs: 0 });
    const second = request({ deviceKey: dev.deviceKey, coalesceMs: 0 });
    expect((await devices.requestDispatch(second)).outcome).toBe('queued');
    expect(await arm(dev, 'c'.repeat(64), Date.now() + 1000, 1)).toBe('superseded');
    expect(await arm(second, 'd'.repeat(64), Date.now() + 1000, 1)).toBe('armed');
    expect((await devices.dispatch(dev.dispatchId))?.state).toBe('skipped');
    await devices.disable('acc-1', dev.deviceKey, Date.now());
    expect(await arm(second, 'd'.repeat(64), Date.now() + 1000, 2)).toBe('not_pending');
    expect(await arm({ ...second, deviceKey: randomUUID() }, 'd'.repeat(64), Date.now() + 1000, 1)).toBe('gone');
  });

  it('hides devices of other accounts', async () => {
    const dev = await newDevice();
    expect(await devices.reserveAttempt('acc-other', dev.deviceKey, 5, Date.now())).toEqual({ outcome: 'not_found' });
    expect(await devices.disable('acc-other', dev.deviceKey, Date.now())).toEqual({ outcome: 'not_found' });
    expect((await devices.requestDispatch(request({ deviceKey: dev.deviceKey, accountKey: 'acc-other' }))).outcome).toBe('not_found');
  });

  it('records a send and restarts the lifetime from the hand-off', async () => {
    const dev = await newDevice();
    await arm(dev, 'e'.repeat(64), 1_000, 1);
    await devices.markSent(dev.deviceKey, dev.dispatchId, 'twilio', 'SM123', 99_000, 1);
    expect(await redis.hget(keys.device(dev.deviceKey), 'token_expires_at')).toBe('99000');
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'sent', provider: 'twilio', providerMessageId: 'SM123', attempts: 1 });
  });

  it('does not arm a dispatch already recorded as sent again (its job re-run after a worker crash)', async () => {
    const dev = await newDevice();
    expect(await arm(dev, 'e'.repeat(64), Date.now() + 1000, 1)).toBe('armed');
    await devices.markSent(dev.deviceKey, dev.dispatchId, 'twilio', 'SM456', Date.now() + 1000, 1);
    const before = await redis.hgetall(keys.device(dev.deviceKey));
    expect(await arm(dev, '0'.repeat(64), Date.now() + 5000, 2)).toBe('already_sent');
    expect(await redis.hgetall(keys.device(dev.deviceKey))).toEqual(before);
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'sent', providerMessageId: 'SM456', attempts: 1 });
  });

  it("arms with the device's approver, looked up on the job's account in the same step", async () => {
    const dev = await newDevice();
    const armed = await devices.armToken({ ...dev, tokenHash: 'a'.repeat(64), expiresAtMs: 123_000, attempt: 2 });
    expect(armed).toEqual({ outcome: 'armed', approver });
    expect(await redis.hmget(keys.device(dev.deviceKey), 'token_hash', 'token_expires_at', 'token_dispatch_id')).toEqual(['a'.repeat(64), '123000', dev.dispatchId]);
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'sending', attempts: 2 });
  });

  it('fails the dispatch for good when the approver left the account (or the account is gone), arming nothing', async () => {
    const accountKey = `acc-${randomUUID()}`;
    await directory.putAccount(account(accountKey, [otherApprover]));
    const dev = await newDevice({ accountKey });
    expect(await devices.armToken({ ...dev, tokenHash: 'a'.repeat(64), expiresAtMs: Date.now() + 1000, attempt: 3 })).toEqual({ outcome: 'approver_missing' });
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'failed', lastErrorCode: 'approver_missing', attempts: 3 });
    expect(await redis.hexists(keys.device(dev.deviceKey), 'token_hash')).toBe(0);

    const orphan = await newDevice({ accountKey: `acc-${randomUUID()}` });
    expect(await arm(orphan, 'b'.repeat(64), Date.now() + 1000, 1)).toBe('approver_missing');
    expect(await redis.hexists(keys.device(orphan.deviceKey), 'token_hash')).toBe(0);
  });

  it('checks the approver before whether the dispatch is still the latest', async () => {
    const accountKey = `acc-${randomUUID()}`;
    await directory.putAccount(account(accountKey, [approver]));
    const dev = await newDevice({ accountKey, coalesceMs: 0 });
    const second = request({ accountKey, deviceKey: dev.deviceKey, coalesceMs: 0 });
    expect((await devices.requestDispatch(second)).outcome).toBe('queued');
    expect(await arm(dev, 'c'.repeat(64), Date.now() + 1000, 1)).toBe('superseded');
    await directory.putAccount(account(accountKey, [otherApprover]));
    expect(await arm(second, 'd'.repeat(64), Date.now() + 1000, 1)).toBe('approver_missing');
  });

  it("does not fail a device of another account on the job's account, and gives no approver to send to", async () => {
    const dev = await newDevice();
    const foreign = `acc-${randomUUID()}`;
    await directory.putAccount(account(foreign, [otherApprover]));
    expect(await devices.armToken({ ...dev, accountKey: foreign, tokenHash: 'e'.repeat(64), expiresAtMs: Date.now() + 1000, attempt: 1 })).toEqual({ outcome: 'armed' });
    expect((await devices.dispatch(dev.dispatchId))?.lastErrorCode).toBeUndefined();
  });

  it('traces a sent message back to its dispatch for 7 days, per provider', async () => {
    const dev = await newDevice();
    const sid = `SM${randomUUID().replace(/-/g, '')}`;
    await arm(dev, 'f'.repeat(64), Date.now() + 1000, 1);
    await devices.markSent(dev.deviceKey, dev.dispatchId, 'twilio', sid, Date.now() + 1000, 1);
    expect(await devices.dispatchIdForProviderMessage('twilio', sid)).toBe(dev.dispatchId);
    expect(await devices.dispatchIdForProviderMessage('ses', sid)).toBeUndefined();
    const ttl = await redis.ttl(keys.providerMessage('twilio', sid));
    expect(ttl).toBeGreaterThan(PROVIDER_MESSAGE_TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(7 * 24 * 3600);
  });

  it('records delivery receipts on the dispatch, never letting an earlier status replace a later one', async () => {
    const dev = await newDevice();
    const sid = `SM${randomUUID().replace(/-/g, '')}`;
    await arm(dev, 'f'.repeat(64), Date.now() + 1000, 1);
    await devices.markSent(dev.deviceKey, dev.dispatchId, 'twilio', sid, Date.now() + 1000, 1);
    const receipt = { provider: 'twilio', providerMessageId: sid, atMs: Date.parse('2025-01-02T03:04:05.000Z') };

    expect(await devices.recordDelivery(dev.dispatchId, { ...receipt, status: 'undelivered', rank: 4, errorCode: 'twilio_30003' })).toBe('recorded');
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({
      state: 'sent',
      deliveryStatus: 'undelivered',
      deliveryErrorCode: 'twilio_30003',
      deliveryUpdatedAt: '2025-01-02T03:04:05.000Z',
    });
    expect(await devices.recordDelivery(dev.dispatchId, { ...receipt, status: 'sent', rank: 3 })).toBe('stale');
    expect((await devices.dispatch(dev.dispatchId))?.deliveryStatus).toBe('undelivered');
    expect(await devices.recordDelivery(dev.dispatchId, { ...receipt, status: 'delivered', rank: 4 })).toBe('recorded');
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ deliveryStatus: 'delivered', deliveryErrorCode: undefined });

    expect(await devices.recordDelivery(dev.dispatchId, { ...receipt, providerMessageId: 'SMother', status: 'failed', rank: 4 })).toBe('mismatch');
    expect(await devices.recordDelivery(randomUUID(), { ...receipt, status: 'failed', rank: 4 })).toBe('gone');
    expect((await devices.dispatch(dev.dispatchId))?.deliveryStatus).toBe('delivered');
  });
});
