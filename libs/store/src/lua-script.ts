import { createHash } from 'node:crypto';
import type { RedisClient as Redis } from './redis-connection';
import { InfrastructureError } from '@lib/domain';

/**
 * A Lua script run by its SHA (one round trip), loaded on first use or after
 * a Redis restart flushed the script cache (the `NOSCRIPT` reply).
 */
export class LuaScript {
  private readonly sha: string;

  constructor(
    readonly name: string,
    private readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    return redisCall(async () => {
      try {
        return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!isNoScript(err)) throw err;
        return redis.eval(this.source, keys.length, ...keys, ...args);
      }
    });
  }
}

function isNoScript(err: unknown): boolean {
  // NOSCRIPT is the reply's error code (the first word), part of the protocol.
  return err instanceof Error && err.message.split(' ', 1)[0] === 'NOSCRIPT';
}

/**
 * Runs a Redis call and reports any failure of it (connection refused,
 * command timeout, offline) as an InfrastructureError, so callers decide by
 * type: the API answers OBD000097/DTS000010, the worker retries.
 */
export async function redisCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new InfrastructureError('redis', { cause: err });
  }
}
