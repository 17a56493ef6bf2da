/** Redis helpers for tests: a unique key prefix per test file and clean-up after. */
import { randomBytes } from 'node:crypto';
import Redis, { Cluster } from 'ioredis';
import type { RedisClient } from '@lib/store';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(label: string): string {
  return `test-${label}-${randomBytes(4).toString('hex')}`;
}

export async function scanKeys(redis: RedisClient, prefix: string): Promise<string[]> {
  return scanMatching(redis, `${prefix}:*`);
}

/** Every key matching a SCAN pattern, e.g. `keys.dispatch('*')`; on a Cluster, on every master (SCAN is per node). */
export async function scanMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
  }
  return keys;
}

/** Deletes every key under the prefix (in a Cluster the prefix is a hash tag: one slot, so one DEL takes many). */
export async function deleteKeys(redis: RedisClient, prefix: string): Promise<void> {
  const keys = await scanKeys(redis, prefix);
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
}

/** Every key under the prefix with its full value, as text, whatever its type. */
export async function dumpValues(redis: RedisClient, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of await scanKeys(redis, prefix)) {
    const type = await redis.type(key);
    let value: unknown;
    if (type === 'string') value = await redis.get(key);
    else if (type === 'hash') value = await redis.hgetall(key);
    else if (type === 'list') value = await redis.lrange(key, 0, -1);
    else if (type === 'set') value = await redis.smembers(key);
    else if (type === 'zset') value = await redis.zrange(key, '0', '-1', 'WITHSCORES');
    else if (type === 'stream') value = await redis.xrange(key, '-', '+');
    else value = `<${type}>`;
    out.set(key, JSON.stringify(value));
  }
  return out;
}
