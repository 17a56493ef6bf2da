import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

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

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

function isNoScript(err: unknown): boolean {
  // NOSCRIPT is the reply's error code (the first word), part of the protocol.
  return err instanceof Error && err.message.split(' ', 1)[0] === 'NOSCRIPT';
}
