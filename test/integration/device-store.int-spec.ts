/**
 * The device store's Lua scripts on a real Redis: the atomic rules that the
 * API and worker rely on (send caps, coalescing, attempt reservation, token
 * arming), exercised directly and under concurrency.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { DEFAULT_DATA_LIFETIMES, DEFAULT_GUESS_LIMIT_POLICY, DEFAULT_SEND_LIMIT_POLICY, TokenCrypto, type Approver, type ContactType } from '@lib/domain';
import { DeviceRepository, DirectoryRepository, RedisKeys, type Account, type AttemptLimits, type DispatchRequest } from '@lib/store';
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '../support/redis';

describe('DeviceRepository on Redis', () => {
  const prefix = uniquePrefix('store');
  const keys = new RedisKeys(prefix);
  let redis: Redis;
  let devices: DeviceRepository;
  let directory: DirectoryRepository;

  /** The approver of the devices created below (`create`), on account acc-1. */
  const approver: Approver = { document_number: '12345678901', name: 'Maria da Conceição', phone_number: '+5511987654321', email: 'maria@example.com' };
  const otherApprover: Approver = { document_number: '98765432100', name: 'João Souza', phone_number: '+5511912345678', email: 'joao@example.com' };
  const account = (accountKey: string, approvers: Approver[]): Account => ({ accountKey, clientKey: 'client-1', status: 'active', kind: 'regular', approvers });

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    devices = new DeviceRepository(redis, keys);
    directory = new DirectoryRepository(redis, keys);
    await directory.putAccount(account('acc-1', [otherApprover, approver]));
  });

  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  /** A dispatch request, as the api makes it. */
  const request = (over: Partial<DispatchRequest> = {}): DispatchRequest => ({
    accountKey: 'acc-1',
    deviceKey: randomUUID(),
    dispatchId: randomUUID(),
    requestId: randomUUID(),
    channel: 'sms',
    codeNonce: TokenCrypto.newCodeNonce(),
    destinationDigest: randomUUID(),
    maskedDestination: '+55*******0000',
    nowMs: Date.now(),
    maxFailedAttempts: 5,
    dispatchTtlSeconds: DEFAULT_DATA_LIFETIMES.dispatchSeconds,
    pendingDeviceTtlSeconds: DEFAULT_DATA_LIFETIMES.pendingDeviceSeconds,
    coalesceMs: 30_000,
    perDeviceCap: 5,
    perDestinationCap: 10,
    windowMs: DEFAULT_SEND_LIMIT_POLICY.windowSeconds * 1000,
    ...over,
  });
  const create = {
    sessionId: randomUUID(),
    contactType: 'sms' as const,
    approverDocument: '12345678901',
    creationCap: 1000,
    creationWindowMs: DEFAULT_GUESS_LIMIT_POLICY.windowSeconds * 1000,
  };
  const limits = (over: Partial<AttemptLimits> = {}): AttemptLimits => ({
    maxFailedAttempts: 5,
    perApprover: 20,
    perAccount: 100,
    windowMs: DEFAULT_GUESS_LIMIT_POLICY.windowSeconds * 1000,
    ...over,
  });

  /** The job of `dev`'s dispatch as the api queued it, armed; `edit` changes what the worker is given. */
  const armJob = (
    dev: Pick<DispatchRequest, 'dispatchId' | 'requestId' | 'channel'>,
    expiresAtMs = Date.now() + 60_000,
    attempt = 1,
    edit: { jobId?: string; dispatchId?: string; requestId?: string; wellFormed?: boolean; queueChannel?: ContactType } = {},
  ) =>
    devices.armToken({
      jobId: edit.jobId ?? dev.dispatchId,
      data: { dispatchId: edit.dispatchId ?? dev.dispatchId, requestId: edit.requestId ?? dev.requestId, wellFormed: edit.wellFormed ?? true },
      expiresAtMs,
      attempt,
      smsAllowedCountryCodes: ['55'],
      queueChannel: edit.queueChannel ?? dev.channel,
    });
  /** Arms `dev`'s dispatch; the outcome alone. */
  const arm = async (dev: Pick<DispatchRequest, 'dispatchId' | 'requestId' | 'channel'>, expiresAtMs = Date.now() + 60_000, attempt = 1) =>
    (await armJob(dev, expiresAtMs, attempt)).outcome;

  async function newDevice(over: Partial<DispatchRequest> = {}) {
    const req = request(over);
    const res = await devices.requestDispatch(req, create);
    expect(res.outcome).toBe('queued');
    return req;
  }

  const pending = async (dispatchId: string) => (await redis.zscore(keys.pendingDispatches, dispatchId)) !== null;

  it('creates a device once per account, its dispatch recorded with its nonce and pending; a second create with the same key is refused and changes nothing', async () => {
    const first = await newDevice();
    expect(await redis.hget(keys.dispatch(first.dispatchId), 'code_nonce')).toBe(first.codeNonce);
    expect(await devices.dispatch(first.dispatchId)).toMatchObject({ state: 'queued', accountKey: 'acc-1', deviceKey: first.deviceKey });
    expect(await redis.zscore(keys.pendingDispatches, first.dispatchId)).toBe(String(first.nowMs));
    const refused = request({ deviceKey: first.deviceKey });
    const again = await devices.requestDispatch(refused, create);
    expect(again).toEqual({ outcome: 'exists' });
    expect(await pending(refused.dispatchId)).toBe(false);
    const device = await devices.get('acc-1', first.deviceKey);
    expect(device).toMatchObject({ accountKey: 'acc-1', status: 'pending_2fa_approval', latestDispatchId: first.dispatchId });
  });

  it('keeps a device key of one account apart from the same key in another: both are created and live independently', async () => {
    const accountKey = `acc-${randomUUID()}`;
    await directory.putAccount(account(accountKey, [approver]));
    const mine = await newDevice();
    const theirs = await newDevice({ accountKey, deviceKey: mine.deviceKey });
    expect(await arm(mine)).toBe('armed');
    expect(await arm(theirs)).toBe('armed');
    const r = await devices.reserveAttempt(accountKey, theirs.deviceKey, limits(), Date.now());
    expect(r).toMatchObject({ outcome: 'reserved', tokenDispatchId: theirs.dispatchId, codeNonce: theirs.codeNonce });
    await devices.disable(accountKey, theirs.deviceKey, Date.now());
    expect((await devices.get(accountKey, theirs.deviceKey))?.status).toBe('disabled');
    expect(await devices.get('acc-1', mine.deviceKey)).toMatchObject({ status: 'pending_2fa_approval', failedAttempts: 0, latestDispatchId: mine.dispatchId });
  });

  it('lets exactly the new-device cap of an account through when 20 creations race, and the refused leave nothing', async () => {
    const accountKey = `acc-${randomUUID()}`;
    const capped = { ...create, creationCap: 5 };
    const reqs = Array.from({ length: 20 }, () => request({ accountKey, coalesceMs: 0 }));
    const results = await Promise.all(reqs.map((r) => devices.requestDispatch(r, capped)));
    expect(results.filter((r) => r.outcome === 'queued')).toHaveLength(5);
    const refused = reqs.filter((_, i) => results[i].outcome === 'creation_cap');
    expect(refused).toHaveLength(15);
    const retry = results.find((r) => r.outcome === 'creation_cap');
    expect(retry && 'retryAfterMs' in retry && retry.retryAfterMs).toBeGreaterThan(DEFAULT_GUESS_LIMIT_POLICY.windowSeconds * 1000 - 60_000);
    for (const r of refused) {
      expect(await redis.exists(keys.device(accountKey, r.deviceKey), keys.dispatch(r.dispatchId))).toBe(0);
      expect(await pending(r.dispatchId)).toBe(false);
    }
    expect(await redis.zcard(keys.deviceCreations(accountKey))).toBe(5);
    // Resends are not creations.
    const resend = await devices.requestDispatch(
      request({ accountKey, deviceKey: reqs[results.findIndex((r) => r.outcome === 'queued')].deviceKey, coalesceMs: 0 }),
    );
    expect(resend.outcome).toBe('queued');
  });

  it('coalesces same-channel resends inside the window, not other channels', async () => {
    const first = await newDevice();
    const joining = request({ deviceKey: first.deviceKey, destinationDigest: first.destinationDigest });
    const same = await devices.requestDispatch(joining);
    expect(same).toMatchObject({ outcome: 'coalesced', dispatchId: first.dispatchId, channel: 'sms', requestId: first.requestId });
    expect(await pending(joining.dispatchId)).toBe(false);
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
    expect(await redis.zcard(keys.deviceSends('acc-1', first.deviceKey))).toBe(5);
    // Each queued dispatch is pending, none of the refused requests.
    for (const r of queued) expect(r.outcome === 'queued' && (await pending(r.dispatchId))).toBe(true);
  });

  it('applies the per-destination cap across devices, with a retry-after inside the window', async () => {
    const destinationDigest = randomUUID();
    for (let i = 0; i < 3; i += 1) await newDevice({ destinationDigest, perDestinationCap: 3 });
    const refused = await devices.requestDispatch(request({ destinationDigest, perDestinationCap: 3 }), create);
    expect(refused.outcome).toBe('destination_cap');
    if (refused.outcome !== 'destination_cap') return;
    expect(refused.retryAfterMs).toBeGreaterThan(DEFAULT_SEND_LIMIT_POLICY.windowSeconds * 1000 - 60_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(DEFAULT_SEND_LIMIT_POLICY.windowSeconds * 1000);
  });

  it('never reserves more than the attempt limit under 50 concurrent guesses', async () => {
    const dev = await newDevice();
    expect(await arm(dev)).toBe('armed');
    const reserved = await Promise.all(Array.from({ length: 50 }, () => devices.reserveAttempt('acc-1', dev.deviceKey, limits(), Date.now())));
    expect(reserved.filter((r) => r.outcome === 'reserved')).toHaveLength(5);
    expect(reserved.filter((r) => r.outcome === 'locked')).toHaveLength(45);
    const failures = await Promise.all(Array.from({ length: 5 }, () => devices.failValidation('acc-1', dev.deviceKey, 5, Date.now())));
    expect(failures.some((f) => f.locked)).toBe(true);
    expect((await devices.get('acc-1', dev.deviceKey))?.status).toBe('rejected');
  });

  /** A new account with `approverCount` approvers. */
  async function accountOf(approverCount: number) {
    const accountKey = `acc-${randomUUID()}`;
    const people = Array.from({ length: approverCount }, (_, i) => approverOf(i));
    await directory.putAccount(account(accountKey, people));
    return { accountKey, people };
  }
  const approverOf = (i: number): Approver => ({
    document_number: String(10_000_000_000 + i * 7919),
    name: `Approver ${i}`,
    phone_number: `+551190000${String(i).padStart(4, '0')}`,
    email: `a${i}@example.com`,
  });

  /** Creates and arms a device of `person` on the account; returns its key. */
  async function armedDevice(accountKey: string, person: Approver): Promise<string> {
    const req = request({ accountKey });
    expect((await devices.requestDispatch(req, { ...create, approverDocument: person.document_number })).outcome).toBe('queued');
    expect(await arm(req)).toBe('armed');
    return req.deviceKey;
  }

  it("budgets failed guesses per approver across every device: 60 racing guesses on 12 new devices of one approver get exactly the approver's 8", async () => {
    const { accountKey, people } = await accountOf(1);
    const keysOf = await Promise.all(Array.from({ length: 12 }, () => armedDevice(accountKey, people[0])));
    const budget = limits({ perApprover: 8 });
    const results = await Promise.all(keysOf.flatMap((k) => Array.from({ length: 5 }, () => devices.reserveAttempt(accountKey, k, budget, Date.now()))));
    expect(results.filter((r) => r.outcome === 'reserved')).toHaveLength(8);
    expect(results.filter((r) => r.outcome === 'approver_budget')).toHaveLength(52);
    const refused = results.find((r) => r.outcome === 'approver_budget');
    expect(refused && 'retryAfterMs' in refused && refused.retryAfterMs).toBeGreaterThan(DEFAULT_GUESS_LIMIT_POLICY.windowSeconds * 1000 - 60_000);
    // The budget refused before counting: no device lost an attempt to it.
    const counted = await Promise.all(keysOf.map(async (k) => (await devices.get(accountKey, k))!.failedAttempts));
    expect(counted.reduce((a, b) => a + b, 0)).toBe(8);
  });

  it("budgets failed guesses per account across its approvers, and keeps one approver from spending another one's", async () => {
    const { accountKey, people } = await accountOf(3);
    const budget = limits({ perApprover: 4, perAccount: 10 });
    const byPerson = await Promise.all(people.map(async (p) => Promise.all(Array.from({ length: 3 }, () => armedDevice(accountKey, p)))));
    const tries = byPerson.flatMap((ks) => ks.flatMap((k) => Array.from({ length: 2 }, () => devices.reserveAttempt(accountKey, k, budget, Date.now()))));
    const results = await Promise.all(tries);
    expect(results.filter((r) => r.outcome === 'reserved')).toHaveLength(10);
    expect(results.filter((r) => r.outcome === 'approver_budget' || r.outcome === 'account_budget')).toHaveLength(8);
    for (const ks of byPerson) {
      const mine = await Promise.all(ks.map(async (k) => (await devices.get(accountKey, k))!.failedAttempts));
      expect(mine.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(4);
    }
    // Another account of the same person has a budget of its own.
    const elsewhere = `acc-${randomUUID()}`;
    await directory.putAccount(account(elsewhere, [people[0]]));
    const k = await armedDevice(elsewhere, people[0]);
    expect((await devices.reserveAttempt(elsewhere, k, budget, Date.now())).outcome).toBe('reserved');
  });

  it('gives a matched attempt back, on the device and in the budgets, and registers the device', async () => {
    const dev = await newDevice();
    await arm(dev);
    const r = await devices.reserveAttempt('acc-1', dev.deviceKey, limits(), Date.now());
    expect(r).toMatchObject({ outcome: 'reserved', codeNonce: dev.codeNonce, tokenDispatchId: dev.dispatchId, failedAttempts: 1 });
    if (r.outcome !== 'reserved') return;
    expect(await redis.zscore(keys.guesses('acc-1'), r.reservation)).not.toBeNull();
    const done = await devices.completeValidation('acc-1', dev.deviceKey, r, Date.now());
    expect(done.outcome).toBe('created');
    expect(await redis.zscore(keys.guesses('acc-1'), r.reservation)).toBeNull();
    const device = await devices.get('acc-1', dev.deviceKey);
    expect(device).toMatchObject({ status: 'created', failedAttempts: 0 });
    expect(await redis.hexists(keys.device('acc-1', dev.deviceKey), 'token_nonce')).toBe(0);
  });

  it('reports an expired or never-sent token without counting an attempt', async () => {
    const dev = await newDevice();
    expect(await devices.reserveAttempt('acc-1', dev.deviceKey, limits(), Date.now())).toEqual({ outcome: 'expired' });
    await arm(dev, Date.now() - 1);
    expect(await devices.reserveAttempt('acc-1', dev.deviceKey, limits(), Date.now())).toEqual({ outcome: 'expired' });
    expect((await devices.get('acc-1', dev.deviceKey))?.failedAttempts).toBe(0);
  });

  it('arms only the latest dispatch of a pending device', async () => {
    const dev = await newDevice({ coalesceMs: 0 });
    const second = request({ deviceKey: dev.deviceKey, coalesceMs: 0 });
    expect((await devices.requestDispatch(second)).outcome).toBe('queued');
    expect(await arm(dev)).toBe('superseded');
    expect(await arm(second)).toBe('armed');
    expect((await devices.dispatch(dev.dispatchId))?.state).toBe('skipped');
    await devices.disable('acc-1', dev.deviceKey, Date.now());
    expect(await arm(second, Date.now() + 1000, 2)).toBe('not_pending');
    await redis.del(keys.device('acc-1', dev.deviceKey));
    expect(await arm(second, Date.now() + 1000, 3)).toBe('gone');
  });

  it('hides devices of other accounts', async () => {
    const dev = await newDevice();
    expect(await devices.reserveAttempt('acc-other', dev.deviceKey, limits(), Date.now())).toEqual({ outcome: 'not_found' });
    expect(await devices.disable('acc-other', dev.deviceKey, Date.now())).toEqual({ outcome: 'not_found' });
    expect((await devices.requestDispatch(request({ deviceKey: dev.deviceKey, accountKey: 'acc-other' }))).outcome).toBe('not_found');
  });

  it('records a send and restarts the lifetime from the hand-off', async () => {
    const dev = await newDevice();
    await arm(dev, 1_000);
    await devices.markSent(dev, { provider: 'twilio', providerMessageId: 'SM123', ttlSeconds: DEFAULT_DATA_LIFETIMES.providerMessageSeconds }, 99_000, 1);
    expect(await redis.hget(keys.device('acc-1', dev.deviceKey), 'token_expires_at')).toBe('99000');
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'sent', provider: 'twilio', providerMessageId: 'SM123', attempts: 1 });
  });

  it('does not arm a dispatch already recorded as sent again (its job re-run after a worker crash)', async () => {
    const dev = await newDevice();
    expect(await arm(dev)).toBe('armed');
    await devices.markSent(
      dev,
      { provider: 'twilio', providerMessageId: 'SM456', ttlSeconds: DEFAULT_DATA_LIFETIMES.providerMessageSeconds },
      Date.now() + 1000,
      1,
    );
    const before = await redis.hgetall(keys.device('acc-1', dev.deviceKey));
    expect(await arm(dev, Date.now() + 5000, 2)).toBe('already_sent');
    expect(await redis.hgetall(keys.device('acc-1', dev.deviceKey))).toEqual(before);
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'sent', providerMessageId: 'SM456', attempts: 1 });
  });

  it("arms from the store alone: the device's account, channel, approver and code nonce come from the dispatch record", async () => {
    const dev = await newDevice({ channel: 'email' });
    const armed = await armJob(dev, 123_000, 2);
    expect(armed).toEqual({
      outcome: 'armed',
      accountKey: 'acc-1',
      deviceKey: dev.deviceKey,
      channel: 'email',
      codeNonce: dev.codeNonce,
      approver,
      requestedAtMs: dev.nowMs,
    });
    expect(await redis.hmget(keys.device('acc-1', dev.deviceKey), 'token_nonce', 'token_expires_at', 'token_dispatch_id')).toEqual([
      dev.codeNonce,
      '123000',
      dev.dispatchId,
    ]);
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'sending', attempts: 2 });
  });

  describe('a job whose data was edited or forged', () => {
    /** An armed device (its token live) with a second dispatch queued: the target of the edited jobs. */
    async function target() {
      const dev = await newDevice({ coalesceMs: 0 });
      expect(await arm(dev)).toBe('armed');
      const next = request({ deviceKey: dev.deviceKey, coalesceMs: 0 });
      expect((await devices.requestDispatch(next)).outcome).toBe('queued');
      return { dev, next, deviceBefore: await redis.hgetall(keys.device('acc-1', dev.deviceKey)) };
    }

    it.each([
      ['its request id edited', { requestId: randomUUID() }],
      ['its dispatch id edited to another dispatch', { dispatchId: 'other' }],
      ['a shape of its own (extra or missing fields)', { wellFormed: false }],
    ])(
      'is refused when it has %s: nothing armed, refusal recorded on its dispatch',
      async (_case, edit: { requestId?: string; dispatchId?: string; wellFormed?: boolean }) => {
        const { dev, next, deviceBefore } = await target();
        const other = await newDevice();
        const e = edit.dispatchId ? { dispatchId: other.dispatchId } : edit;
        expect(await armJob(next, Date.now() + 60_000, 1, e)).toEqual({ outcome: 'refused', reason: 'job_data_mismatch' });
        expect(await redis.hgetall(keys.device('acc-1', dev.deviceKey))).toEqual(deviceBefore);
        expect(await devices.dispatch(next.dispatchId)).toMatchObject({ state: 'refused', lastErrorCode: 'job_data_mismatch' });
        if (edit.dispatchId) expect((await devices.dispatch(other.dispatchId))?.refusedJobs).toBe(1);
      },
    );

    it("is refused in another channel's queue (where its provider's rate limit would not hold): nothing armed, and its own queue's job still sends", async () => {
      const { dev, next, deviceBefore } = await target();
      expect(await armJob(next, Date.now() + 60_000, 1, { queueChannel: 'email' })).toEqual({ outcome: 'refused', reason: 'job_wrong_queue' });
      expect(await redis.hgetall(keys.device('acc-1', dev.deviceKey))).toEqual(deviceBefore);
      expect(await devices.dispatch(next.dispatchId)).toMatchObject({ state: 'refused', lastErrorCode: 'job_wrong_queue' });
      expect(await arm(next)).toBe('armed');
    });

    it('is refused when it was added with an id of its own naming a real dispatch (dashboard "add job")', async () => {
      const { dev, next, deviceBefore } = await target();
      expect(await armJob(next, Date.now() + 60_000, 1, { jobId: '17' })).toEqual({ outcome: 'refused', reason: 'job_unknown' });
      expect(await redis.hgetall(keys.device('acc-1', dev.deviceKey))).toEqual(deviceBefore);
      // The real dispatch learns of it, and its own job still sends.
      expect(await devices.dispatch(next.dispatchId)).toMatchObject({ state: 'queued', refusedJobs: 1 });
      expect(await arm(next)).toBe('armed');
    });
  });

  it('fails the dispatch for good when the approver left the account (or the account is gone), writing nothing else', async () => {
    const accountKey = `acc-${randomUUID()}`;
    await directory.putAccount(account(accountKey, [otherApprover]));
    const dev = await newDevice({ accountKey });
    expect(await armJob(dev, Date.now() + 1000, 3)).toEqual({ outcome: 'approver_missing' });
    expect(await devices.dispatch(dev.dispatchId)).toMatchObject({ state: 'failed', lastErrorCode: 'approver_missing', attempts: 3 });
    expect(await redis.hexists(keys.device(accountKey, dev.deviceKey), 'token_nonce')).toBe(0);

    const orphan = await newDevice({ accountKey: `acc-${randomUUID()}` });
    expect(await arm(orphan)).toBe('approver_missing');
    expect(await redis.hexists(keys.device(orphan.accountKey, orphan.deviceKey), 'token_nonce')).toBe(0);
  });

  it('fails an SMS to a number outside the allowed country calling codes for good, arming nothing (data written before the rule)', async () => {
    const accountKey = `acc-${randomUUID()}`;
    await directory.putAccount(account(accountKey, [{ ...approver, phone_number: '+447700900123' }]));
    const sms = await newDevice({ accountKey });
    expect(await arm(sms)).toBe('country_not_allowed');
    expect(await devices.dispatch(sms.dispatchId)).toMatchObject({ state: 'failed', lastErrorCode: 'country_not_allowed' });
    expect(await redis.hexists(keys.device(accountKey, sms.deviceKey), 'token_nonce')).toBe(0);
    // E-mail to the same approver is not an SMS.
    const email = await newDevice({ accountKey, channel: 'email' });
    expect(await arm(email)).toBe('armed');
  });

  it('checks whether the dispatch is still the latest before the approver', async () => {
    const accountKey = `acc-${randomUUID()}`;
    await directory.putAccount(account(accountKey, [approver]));
    const dev = await newDevice({ accountKey, coalesceMs: 0 });
    const second = request({ accountKey, deviceKey: dev.deviceKey, coalesceMs: 0 });
    expect((await devices.requestDispatch(second)).outcome).toBe('queued');
    await directory.putAccount(account(accountKey, [otherApprover]));
    expect(await arm(dev)).toBe('superseded');
    expect(await arm(second)).toBe('approver_missing');
  });

  describe('pending dispatches (recorded, their job not run yet)', () => {
    it('stops being pending once its job runs, whatever the outcome for it', async () => {
      const dev = await newDevice({ coalesceMs: 0 });
      const second = request({ deviceKey: dev.deviceKey, coalesceMs: 0 });
      expect((await devices.requestDispatch(second)).outcome).toBe('queued');
      expect(await arm(dev)).toBe('superseded');
      expect(await arm(second)).toBe('armed');
      expect([await pending(dev.dispatchId), await pending(second.dispatchId)]).toEqual([false, false]);
      // A forged job naming a pending dispatch does not take it off the list: its own job must still run.
      const third = request({ deviceKey: dev.deviceKey, coalesceMs: 0 });
      expect((await devices.requestDispatch(third)).outcome).toBe('queued');
      expect((await armJob(third, Date.now() + 1000, 1, { jobId: '99' })).outcome).toBe('refused');
      expect(await pending(third.dispatchId)).toBe(true);
    });

    it('lists those pending since before a time, oldest first, with their request ids and channels, and drops those whose record expired', async () => {
      const localKeys = new RedisKeys(`${prefix}-pending-${randomUUID()}`);
      const local = new DeviceRepository(redis, localKeys);
      const t0 = Date.now() - 60_000;
      const made = [];
      for (let i = 0; i < 3; i += 1) {
        const req = request({ nowMs: t0 + i * 1000, channel: i === 2 ? 'email' : 'sms' });
        expect((await local.requestDispatch(req, create)).outcome).toBe('queued');
        made.push(req);
      }
      const fresh = request({ nowMs: Date.now() });
      await local.requestDispatch(fresh, create);
      await redis.del(localKeys.dispatch(made[1].dispatchId)); // as if it had expired
      const listed = await local.pendingDispatches(Date.now() - 10_000, 10);
      expect(listed).toEqual([
        { dispatchId: made[0].dispatchId, requestId: made[0].requestId, channel: 'sms', requestedAtMs: t0 },
        { dispatchId: made[2].dispatchId, requestId: made[2].requestId, channel: 'email', requestedAtMs: t0 + 2000 },
      ]);
      expect(await redis.zscore(localKeys.pendingDispatches, made[1].dispatchId)).toBeNull();
      expect(await local.pendingDispatches(Date.now() - 10_000, 1)).toHaveLength(1);
      await deleteKeys(redis, localKeys.prefix);
    });

    it('gives up on one: no longer pending, and recorded as failed (not_queued) only if it never got a job', async () => {
      const noJob = await newDevice();
      const withJob = await newDevice();
      await devices.dropPending(noJob.dispatchId, false);
      await devices.dropPending(withJob.dispatchId, true);
      expect([await pending(noJob.dispatchId), await pending(withJob.dispatchId)]).toEqual([false, false]);
      expect(await devices.dispatch(noJob.dispatchId)).toMatchObject({ state: 'failed', lastErrorCode: 'not_queued' });
      expect((await devices.dispatch(withJob.dispatchId))?.state).toBe('queued');
    });
  });

  describe('lifetimes', () => {
    const ttlOf = (key: string) => redis.ttl(key);
    const deviceKeys = (dev: DispatchRequest) => [keys.device(dev.accountKey, dev.deviceKey), keys.deviceEvents(dev.accountKey, dev.deviceKey)];

    it('gives a device not validated yet, and its history, their lifetime from each send request; validation makes them permanent', async () => {
      const dev = await newDevice({ pendingDeviceTtlSeconds: 100, coalesceMs: 0 });
      for (const key of deviceKeys(dev)) expect(await ttlOf(key)).toBeGreaterThan(95);
      expect(await ttlOf(keys.dispatch(dev.dispatchId))).toBeGreaterThan(DEFAULT_DATA_LIFETIMES.dispatchSeconds - 60);
      // A resend renews the device's lifetime: its new code must not outlive it.
      await redis.expire(keys.device(dev.accountKey, dev.deviceKey), 10);
      const resend = request({ deviceKey: dev.deviceKey, pendingDeviceTtlSeconds: 200, coalesceMs: 0 });
      expect((await devices.requestDispatch(resend)).outcome).toBe('queued');
      for (const key of deviceKeys(dev)) expect(await ttlOf(key)).toBeGreaterThan(195);
      await arm(resend);
      const r = await devices.reserveAttempt('acc-1', dev.deviceKey, limits(), Date.now());
      if (r.outcome !== 'reserved') throw new Error(r.outcome);
      expect((await devices.completeValidation('acc-1', dev.deviceKey, r, Date.now())).outcome).toBe('created');
      for (const key of deviceKeys(dev)) expect(await ttlOf(key)).toBe(-1);
    });

    it('keeps the lifetime of a device rejected after too many wrong codes', async () => {
      const dev = await newDevice({ pendingDeviceTtlSeconds: 100 });
      await arm(dev);
      for (let i = 0; i < 5; i += 1) {
        const r = await devices.reserveAttempt('acc-1', dev.deviceKey, limits(), Date.now());
        expect(r.outcome).toBe('reserved');
        await devices.failValidation('acc-1', dev.deviceKey, 5, Date.now());
      }
      expect((await devices.get('acc-1', dev.deviceKey))?.status).toBe('rejected');
      for (const key of deviceKeys(dev)) expect(await ttlOf(key)).toBeGreaterThan(95);
    });

    it('writes no record again that expired while a send or a validation was under way (it would never expire)', async () => {
      const dev = await newDevice();
      await arm(dev);
      const r = await devices.reserveAttempt('acc-1', dev.deviceKey, limits(), Date.now());
      if (r.outcome !== 'reserved') throw new Error(r.outcome);
      await redis.del(keys.dispatch(dev.dispatchId), ...deviceKeys(dev));
      await devices.markSent(dev, { provider: 'twilio', providerMessageId: 'SM789', ttlSeconds: 60 }, Date.now() + 1000, 1);
      await devices.markFailure(dev.dispatchId, 'retrying', 'twilio_500', 2);
      expect((await devices.completeValidation('acc-1', dev.deviceKey, r, Date.now())).outcome).toBe('changed');
      expect(await redis.exists(keys.dispatch(dev.dispatchId), ...deviceKeys(dev))).toBe(0);
      // What the send itself wrote still carries its lifetime.
      expect(await ttlOf(keys.providerMessage('twilio', 'SM789'))).toBeGreaterThan(55);
    });
  });

  it('traces a sent message back to its dispatch for 7 days, per provider', async () => {
    const dev = await newDevice();
    const sid = `SM${randomUUID().replace(/-/g, '')}`;
    await arm(dev);
    await devices.markSent(
      dev,
      { provider: 'twilio', providerMessageId: sid, ttlSeconds: DEFAULT_DATA_LIFETIMES.providerMessageSeconds },
      Date.now() + 1000,
      1,
    );
    expect(await devices.dispatchIdForProviderMessage('twilio', sid)).toBe(dev.dispatchId);
    expect(await devices.dispatchIdForProviderMessage('ses', sid)).toBeUndefined();
    const ttl = await redis.ttl(keys.providerMessage('twilio', sid));
    expect(ttl).toBeGreaterThan(DEFAULT_DATA_LIFETIMES.providerMessageSeconds - 60);
    expect(ttl).toBeLessThanOrEqual(7 * 24 * 3600);
  });

  it('records delivery receipts on the dispatch, never letting an earlier status replace a later one', async () => {
    const dev = await newDevice();
    const sid = `SM${randomUUID().replace(/-/g, '')}`;
    await arm(dev);
    await devices.markSent(
      dev,
      { provider: 'twilio', providerMessageId: sid, ttlSeconds: DEFAULT_DATA_LIFETIMES.providerMessageSeconds },
      Date.now() + 1000,
      1,
    );
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
