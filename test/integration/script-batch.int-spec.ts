/**
 * ScriptBatch on a real Redis of its own (so its command counts are the
 * batch's alone): calls made in one turn of the event loop go as one script
 * invocation, each caller gets its own reply or error, in order, and a
 * flushed script cache is recovered from.
 */
import Redis from 'ioredis';
import { InfrastructureError } from '@lib/domain';
import { LuaScript, ScriptBatch } from '@lib/store';
import { DedicatedRedis, freePort } from '../support/dedicated-redis';

/** Appends ARGV[1] to the list KEYS[1] and answers its new length; ARGV[2] = 'fail' raises; 'nil' answers nothing. */
const APPEND = new LuaScript(
  'test-append',
  `
if ARGV[2] == 'fail' then return redis.call('INCR', KEYS[2]) end
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
if ARGV[2] == 'nil' then return nil end
return { n, ARGV[1] }
`,
);

describe('ScriptBatch on Redis', () => {
  let server: DedicatedRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await DedicatedRedis.create();
    await server.start();
    redis = new Redis(server.url);
  });

  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  beforeEach(async () => {
    await redis.flushall();
    await redis.config('RESETSTAT');
  });

  /** How many times Redis ran a script (EVALSHA or EVAL) since the last reset. */
  async function scriptRuns(): Promise<number> {
    const info = await redis.info('commandstats');
    return [...info.matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  }

  it('sends the calls of one turn as one invocation and answers each caller in order', async () => {
    const batch = new ScriptBatch(APPEND, redis);
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => batch.run(['list'], [`v${i}`, ''])));

    expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => [i + 1, `v${i}`]));
    expect(await redis.lrange('list', 0, -1)).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
    // One invocation after the NOSCRIPT of a fresh server loaded it: at most an EVALSHA and an EVAL.
    expect(await scriptRuns()).toBeLessThanOrEqual(2);
  });

  it('splits a turn into invocations of at most maxCalls calls', async () => {
    const batch = new ScriptBatch(APPEND, redis, 4);
    await batch.run(['warm'], ['w', '']); // loads the script
    await redis.config('RESETSTAT');

    await Promise.all(Array.from({ length: 10 }, (_, i) => batch.run(['list'], [`v${i}`, ''])));

    expect(await scriptRuns()).toBe(3);
    expect(await redis.llen('list')).toBe(10);
  });

  it('fails only the call whose script raised an error, and runs the rest', async () => {
    const batch = new ScriptBatch(APPEND, redis);
    await redis.set('not-a-number', 'x');

    const settled = await Promise.allSettled([
      batch.run(['list', 'not-a-number'], ['a', '']),
      batch.run(['list', 'not-a-number'], ['b', 'fail']),
      batch.run(['list', 'not-a-number'], ['c', 'nil']),
    ]);

    expect(settled[0]).toEqual({ status: 'fulfilled', value: [1, 'a'] });
    expect(settled[1].status).toBe('rejected');
    const reason = (settled[1] as PromiseRejectedResult).reason as InfrastructureError;
    expect(reason).toBeInstanceOf(InfrastructureError);
    expect(String((reason.cause as Error).message)).toMatch(/not an integer/);
    // A script that answers nothing answers null, like a call of its own.
    expect(settled[2]).toEqual({ status: 'fulfilled', value: null });
    expect(await redis.lrange('list', 0, -1)).toEqual(['a', 'c']);
  });

  it('reloads the script after Redis lost its script cache', async () => {
    const batch = new ScriptBatch(APPEND, redis);
    await Promise.all([batch.run(['list'], ['a', '']), batch.run(['list'], ['b', ''])]);
    await redis.script('FLUSH');

    const replies = await Promise.all([batch.run(['list'], ['c', '']), batch.run(['list'], ['d', ''])]);

    expect(replies).toEqual([
      [3, 'c'],
      [4, 'd'],
    ]);
  });

  it('rejects every call of a batch Redis did not answer, as an infrastructure fault', async () => {
    // Nothing listens on the port: every command fails at once (no offline queue).
    const offline = new Redis(`redis://127.0.0.1:${await freePort()}`, { enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
    offline.on('error', () => undefined);
    const batch = new ScriptBatch(APPEND, offline);

    const settled = await Promise.allSettled([batch.run(['list'], ['a', '']), batch.run(['list'], ['b', ''])]);
    offline.disconnect();

    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    for (const s of settled) expect((s as PromiseRejectedResult).reason).toBeInstanceOf(InfrastructureError);
    expect(await redis.exists('list')).toBe(0);
  });
});
