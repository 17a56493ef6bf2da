/**
 * The replay guard on a real Redis: a signature is accepted once, and the
 * check that also reads the request's account and device reads them on the
 * first use only, in the same round trip.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { DEFAULT_DATA_LIFETIMES, TokenCrypto } from '@lib/domain';
import { DeviceRepository, DirectoryRepository, RedisKeys, ReplayGuard, type Account } from '@lib/store';
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '../support/redis';

describe('ReplayGuard on Redis', () => {
  const prefix = uniquePrefix('replay');
  const keys = new RedisKeys(prefix);
  let redis: Redis;
  let guard: ReplayGuard;
  let devices: DeviceRepository;
  const account: Account = {
    accountKey: randomUUID(),
    clientKey: 'client-1',
    status: 'active',
    kind: 'regular',
    approvers: [{ document_number: '12345678901', name: 'Maria', phone_number: '+5511987654321', email: 'maria@example.com' }],
  };
  const deviceKey = randomUUID();

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    guard = new ReplayGuard(redis, keys);
    devices = new DeviceRepository(redis, keys);
    await new DirectoryRepository(redis, keys).putAccount(account);
    const result = await devices.requestDispatch(
      {
        accountKey: account.accountKey,
        deviceKey,
        dispatchId: randomUUID(),
        requestId: 'r-1',
        channel: 'sms',
        codeNonce: TokenCrypto.newCodeNonce(),
        destinationDigest: randomUUID(),
        maskedDestination: '+55*******4321',
        nowMs: Date.now(),
        maxFailedAttempts: 5,
        coalesceMs: 0,
        perDeviceCap: 10,
        perDestinationCap: 10,
        windowMs: 3_600_000,
        dispatchTtlSeconds: DEFAULT_DATA_LIFETIMES.dispatchSeconds,
        pendingDeviceTtlSeconds: DEFAULT_DATA_LIFETIMES.pendingDeviceSeconds,
      },
      { sessionId: randomUUID(), contactType: 'sms', approverDocument: '12345678901', creationCap: 10, creationWindowMs: 3_600_000 },
    );
    expect(result.outcome).toBe('queued');
  });

  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('accepts a signature once', async () => {
    const digest = randomUUID();
    await expect(guard.firstUse(digest, 60_000)).resolves.toBe(true);
    await expect(guard.firstUse(digest, 60_000)).resolves.toBe(false);
  });

  it('reads the account and device with the first use, as the repositories read them, and nothing on a replay', async () => {
    const digest = randomUUID();
    const read = await guard.firstUseReading(digest, 60_000, account.accountKey, deviceKey);
    expect(read).toEqual({ accountKey: account.accountKey, deviceKey, account, device: await devices.get(account.accountKey, deviceKey) });
    expect(read && read.device?.status).toBe('pending_2fa_approval');
    await expect(guard.firstUseReading(digest, 60_000, account.accountKey, deviceKey)).resolves.toBe(false);
    // One memory for both forms of the check.
    await expect(guard.firstUse(digest, 60_000)).resolves.toBe(false);
    expect(await redis.pttl(keys.replay(digest))).toBeGreaterThan(50_000);
  });

  it('reports a missing account or device as undefined, and still marks the signature used', async () => {
    const digest = randomUUID();
    await expect(guard.firstUseReading(digest, 60_000, randomUUID(), randomUUID())).resolves.toMatchObject({ account: undefined, device: undefined });
    await expect(guard.firstUse(digest, 60_000)).resolves.toBe(false);
  });
});
