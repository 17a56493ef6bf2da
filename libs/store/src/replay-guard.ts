import type { RedisClient as Redis } from './redis-connection';
import type { RedisKeys } from './redis-keys';
import { LuaScript, ScriptBatch, redisCall } from './lua-script';
import { toDevice } from './device.repository';
import type { Account, Device } from './records';

/** The account and device a request names, read in the replay check's round trip (firstUseReading). */
export interface RecordsReadWithReplayCheck {
  accountKey: string;
  deviceKey: string;
  account: Account | undefined;
  device: Device | undefined;
}

/**
 * Marks the signature used (SET NX with its lifetime) and, only when this is
 * its first use, reads the account (JSON string) and the device (hash).
 * KEYS: replay, account, device. ARGV: lifetime in ms.
 * Returns 0 on a replay, else { 1, account JSON or false, device hash fields }.
 */
export const FIRST_USE_READING = new LuaScript(
  'first_use_reading',
  `
if not redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then return 0 end
return { 1, redis.call('GET', KEYS[2]), redis.call('HGETALL', KEYS[3]) }
`,
);

/** Remembers request signatures for as long as they could be accepted, so none is accepted twice. */
export class ReplayGuard {
  private readonly reading: ScriptBatch;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.reading = new ScriptBatch(FIRST_USE_READING, redis);
  }

  /** True the first time a digest is seen within `ttlMs`; false on a replay. */
  async firstUse(signatureDigest: string, ttlMs: number): Promise<boolean> {
    const set = await redisCall(() => this.redis.set(this.keys.replay(signatureDigest), '1', 'PX', ttlMs, 'NX'));
    return set === 'OK';
  }

  /**
   * firstUse, and on a first use the account and device the request names, in
   * the same round trip (all the service's keys share one slot in a Cluster).
   * False on a replay, which reads nothing.
   */
  async firstUseReading(signatureDigest: string, ttlMs: number, accountKey: string, deviceKey: string): Promise<RecordsReadWithReplayCheck | false> {
    const reply = (await this.reading.run(
      [this.keys.replay(signatureDigest), this.keys.account(accountKey), this.keys.device(accountKey, deviceKey)],
      [ttlMs],
    )) as 0 | [1, string | null, string[]];
    if (reply === 0) return false;
    const [, accountJson, fields] = reply;
    const hash: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) hash[fields[i]] = fields[i + 1];
    return {
      accountKey,
      deviceKey,
      account: accountJson === null ? undefined : (JSON.parse(accountJson) as Account),
      device: toDevice(deviceKey, hash),
    };
  }
}
