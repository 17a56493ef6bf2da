/**
 * Every connection the service opens speaks RESP2 on a real Redis, although
 * ioredis 6 would default to RESP3 (see redis-connection.ts for why), and a
 * ZRANGE … WITHSCORES reply keeps the flat shape BullMQ reads.
 */
import { createRedis, whenReady, type RedisRole } from '@lib/store';
import { TEST_REDIS_URL } from '../support/redis';

describe('Redis connections on a real Redis', () => {
  it.each<RedisRole>(['command', 'worker', 'subscriber'])('the %s connection speaks RESP2', async (role) => {
    const redis = createRedis(role, { url: TEST_REDIS_URL, commandTimeoutMs: 1000 }, `protocol-check-${role}`);
    try {
      await whenReady(redis);
      const info = (await redis.call('CLIENT', 'INFO')) as string;
      expect(info).toMatch(/\bresp=2\b/);
      const key = `test-protocol-${role}-${process.pid}`;
      await redis.zadd(key, 1, 'a', 2, 'b');
      expect(await redis.zrange(key, '0', '-1', 'WITHSCORES')).toEqual(['a', '1', 'b', '2']);
      await redis.del(key);
    } finally {
      redis.disconnect();
    }
  });
});
