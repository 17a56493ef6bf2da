/**
 * The api's client cache on a real Redis: reads are served from memory only
 * while its listener is subscribed, a change made through the repository (by
 * any process) drops every copy, and a reconnection starts from empty.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { ClientCache, DirectoryRepository, RedisKeys, type ClientIntegration } from '@lib/store';
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '../support/redis';

const until = async (check: () => boolean | Promise<boolean>, timeoutMs = 3000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('ClientCache on Redis', () => {
  const prefix = uniquePrefix('client-cache');
  const keys = new RedisKeys(prefix);
  let redis: Redis;
  let subscriber: Redis;
  let directory: DirectoryRepository;
  let cache: ClientCache;
  /** Another process's view: its own connection and repository. */
  let otherRedis: Redis;
  let otherDirectory: DirectoryRepository;

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    otherRedis = new Redis(TEST_REDIS_URL);
    subscriber = new Redis(TEST_REDIS_URL);
    directory = new DirectoryRepository(redis, keys);
    otherDirectory = new DirectoryRepository(otherRedis, keys);
    cache = new ClientCache(directory, subscriber, keys);
    cache.start();
    await until(() => cache.active);
  });

  afterAll(async () => {
    await deleteKeys(redis, prefix);
    subscriber.disconnect();
    otherRedis.disconnect();
    redis.disconnect();
  });

  const client = (publicKey: string): ClientIntegration => ({ clientKey: randomUUID(), name: 'Bank', publicKey });
  /** Changes the stored record behind the repository's back (no announcement). */
  const overwriteSilently = (clientKey: string, publicKey: string) => redis.hset(keys.client(clientKey), 'public_key', publicKey);

  it('serves a known client from memory once read', async () => {
    const c = client('key-1');
    await directory.putClient(c);
    expect(await cache.get(c.clientKey)).toEqual(c);
    await overwriteSilently(c.clientKey, 'changed-silently');
    expect((await cache.get(c.clientKey))?.publicKey).toBe('key-1');
  });

  it('drops the copy when another process replaces the client, and reads the new record', async () => {
    const c = client('old-key');
    await directory.putClient(c);
    expect((await cache.get(c.clientKey))?.publicKey).toBe('old-key');
    await otherDirectory.putClient({ ...c, publicKey: 'new-key' });
    await until(async () => (await cache.get(c.clientKey))?.publicKey === 'new-key');
  });

  it('never caches an unknown client: a key registered later is found at once', async () => {
    const c = client('late-key');
    expect(await cache.get(c.clientKey)).toBeUndefined();
    await overwriteSilently(c.clientKey, 'late-key');
    await redis.hset(keys.client(c.clientKey), 'name', 'Bank');
    expect((await cache.get(c.clientKey))?.publicKey).toBe('late-key');
  });

  it('does not keep what a read returned when the client changed while the read was in flight', async () => {
    const c = client('before');
    await directory.putClient(c);
    const inFlight = cache.get(c.clientKey); // reads "before" from Redis…
    cache.forget(c.clientKey); // …while a change is announced
    expect((await inFlight)?.publicKey).toBe('before');
    await overwriteSilently(c.clientKey, 'after');
    expect((await cache.get(c.clientKey))?.publicKey).toBe('after');
  });

  it('reads through while the listener is disconnected, and starts empty once it is subscribed again', async () => {
    const c = client('k1');
    await directory.putClient(c);
    await cache.get(c.clientKey);
    subscriber.disconnect(true); // drop the connection; ioredis reconnects
    await until(() => !cache.active);
    await overwriteSilently(c.clientKey, 'k2'); // a change the listener could have missed
    expect((await cache.get(c.clientKey))?.publicKey).toBe('k2');
    await until(() => cache.active);
    await overwriteSilently(c.clientKey, 'k3');
    expect((await cache.get(c.clientKey))?.publicKey).toBe('k3');
    // …and caches again.
    await overwriteSilently(c.clientKey, 'k4');
    expect((await cache.get(c.clientKey))?.publicKey).toBe('k3');
  });
});
