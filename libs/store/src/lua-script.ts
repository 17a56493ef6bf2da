import { createHash } from 'node:crypto';
import DataLoader from 'dataloader';
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

  async run(redis: Redis, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    return redisCall(async () => {
      try {
        return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!isNoScript(err)) throw err;
        return redis.eval(this.source, keys.length, ...keys, ...args);
      }
    });
  }

  /**
   * The same script run over several calls in one invocation: each call's
   * keys and arguments in turn, its reply (or its error) in its place. See
   * ScriptBatch.
   */
  batched(): LuaScript {
    return new LuaScript(
      `${this.name} (batched)`,
      `
local function run(KEYS, ARGV)
${this.source}
end
local calls = tonumber(ARGV[1])
local replies = {}
local k, a = 0, 1 + 2 * calls
for i = 1, calls do
  local keys, argv = {}, {}
  for j = 1, tonumber(ARGV[1 + i]) do keys[j] = KEYS[k + j] end
  for j = 1, tonumber(ARGV[1 + calls + i]) do argv[j] = ARGV[a + j] end
  k = k + #keys
  a = a + #argv
  local ok, reply = pcall(run, keys, argv)
  if not ok then
    reply = type(reply) == 'table' and reply.err and reply or { err = tostring(reply) }
  elseif reply == nil then
    reply = false
  end
  replies[i] = reply
end
return replies
`,
    );
  }
}

export type ScriptArg = string | number | Buffer;

/**
 * A dataloader that sends the calls made in the same turn of the event loop
 * together (flushed with setImmediate, at most `maxCalls` at a time, nothing
 * cached). `batch` answers each call in its place (a value or an Error for
 * that call); if it throws, every call of the batch is rejected with it. A
 * turn's only call goes to `alone`, the unbatched form, which costs less for
 * one call than a batch of one.
 */
export function perTurnBatch<K, V>(
  batch: (calls: readonly K[]) => Promise<readonly (V | Error)[]>,
  alone: (call: K) => Promise<V>,
  maxCalls = 64,
): DataLoader<K, V> {
  return new DataLoader<K, V>(async (calls) => (calls.length === 1 ? [await alone(calls[0])] : batch(calls)), {
    cache: false,
    maxBatchSize: maxCalls,
    batchScheduleFn: (send) => setImmediate(send),
  });
}

interface ScriptCall {
  keys: readonly string[];
  args: readonly ScriptArg[];
}

/**
 * Runs one script on one connection for many callers, sending the calls made
 * in the same turn of the event loop as one invocation of the script's batched
 * form (at most `maxCalls`): one round trip, one command for Redis to read,
 * run and answer, instead of one per call. Each call runs in order, as if
 * alone, and gets its own reply or error; the batch is atomic as a whole.
 * Under load this is where the api's Redis time goes down (docs/performance.md);
 * a lone call waits only for the end of its turn (setImmediate).
 */
export class ScriptBatch {
  private readonly batch: LuaScript;
  private readonly loader: DataLoader<ScriptCall, unknown>;

  constructor(
    script: LuaScript,
    private readonly redis: Redis,
    maxCalls = 64,
  ) {
    this.batch = script.batched();
    this.loader = perTurnBatch(
      (calls) => this.runAll(calls),
      (call) => script.run(redis, call.keys, call.args),
      maxCalls,
    );
  }

  run(keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    return this.loader.load({ keys, args });
  }

  /** A Redis fault rejects every call (InfrastructureError, from LuaScript.run); a call's own script error, that call only. */
  private async runAll(calls: readonly ScriptCall[]): Promise<unknown[]> {
    const keys: string[] = [];
    const args: ScriptArg[] = [calls.length];
    for (const c of calls) args.push(c.keys.length);
    for (const c of calls) args.push(c.args.length);
    for (const c of calls) {
      keys.push(...c.keys);
      args.push(...c.args);
    }
    const replies = (await this.batch.run(this.redis, keys, args)) as unknown[];
    return replies.map((r) => (r instanceof Error ? new InfrastructureError('redis', { cause: r }) : r));
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
