import type { RedisClient as Redis } from './redis-connection';
import type { RedisKeys } from './redis-keys';
import { redisCall } from './lua-script';

/** Remembers request signatures for as long as they could be accepted, so none is accepted twice. */
export class ReplayGuard {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** True the first time a digest is seen within `ttlMs`; false on a replay. */
  async firstUse(signatureDigest: string, ttlMs: number): Promise<boolean> {
    const set = await redisCall(() => this.redis.set(this.keys.replay(signatureDigest), '1', 'PX', ttlMs, 'NX'));
    return set === 'OK';
  }
}
