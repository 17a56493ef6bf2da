/**
 * Bounded data: every key the service writes either carries a lifetime no
 * longer than its setting, or is the registration itself (clients, accounts,
 * validated devices) or the queue's own bookkeeping. A mixed workload
 * (validated, pending, rejected and disabled devices, coalesced and capped
 * resends, a send that fails for good) runs on short lifetimes; past them,
 * only the registrations and the bookkeeping are left: no device never
 * validated, no send record, limit window, used signature, provider message
 * id or finished job. Prints the keys by kind before and after, and the
 * memory per device and per send (MEMORY USAGE) for docs/operations.md.
 */
import { DISPATCH_QUEUES } from '@lib/dispatch-contract';
import { Stack } from '../support/stack';
import { deviceSettled, dispatchIdsOf, expectError, pendingDevice, wrongCode, type PendingDevice } from '../support/e2e-checks';
import { scanKeys } from '../support/redis';
import { Figures } from '../support/figures';

jest.setTimeout(150_000);

/** Lifetimes (seconds) as short as the settings allow: a device outlives its codes (TOKEN_TTL_SECONDS 30 + a 50 ms retry window). */
const LIFETIMES = {
  pending_device: 32,
  dispatch: 32,
  send_limit: 4,
  guess_budget: 4,
  device_creations: 4,
  coalesce: 5,
  provider_message: 4,
  // 2 x AUTH_MAX_CLOCK_SKEW_SECONDS + AUTH_CLOCK_SKEW_MARGIN_SECONDS.
  replay: 10,
  finished_job: 2,
} as const;

type Kind =
  keyof typeof LIFETIMES | 'client' | 'account' | 'device' | 'device_events' | 'pending_dispatches' | 'send_job' | 'finished_jobs' | 'queue_bookkeeping';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('key lifetimes: a mixed workload leaves only registrations and queue bookkeeping once its lifetimes pass', () => {
  let stack: Stack;
  const figures = new Figures('e2e', __filename);

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'key-lifetimes',
      env: {
        TOKEN_TTL_SECONDS: '30',
        DISPATCH_ATTEMPTS: '2',
        DISPATCH_BACKOFF_MS: '50',
        DISPATCH_REPAIR_INTERVAL_MS: '500',
        PENDING_DEVICE_TTL_SECONDS: String(LIFETIMES.pending_device),
        DISPATCH_TTL_SECONDS: String(LIFETIMES.dispatch),
        RESEND_COALESCE_SECONDS: String(LIFETIMES.coalesce),
        SEND_LIMIT_PER_DEVICE: '3',
        SEND_LIMIT_WINDOW_SECONDS: String(LIFETIMES.send_limit),
        GUESS_LIMIT_WINDOW_SECONDS: String(LIFETIMES.guess_budget),
        DEVICE_LIMIT_WINDOW_SECONDS: String(LIFETIMES.device_creations),
        PROVIDER_MESSAGE_TTL_SECONDS: String(LIFETIMES.provider_message),
        COMPLETED_JOB_TTL_SECONDS: String(LIFETIMES.finished_job),
        FAILED_JOB_TTL_SECONDS: String(LIFETIMES.finished_job),
        AUTH_MAX_CLOCK_SKEW_SECONDS: '5',
        AUTH_CLOCK_SKEW_MARGIN_SECONDS: '0',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    figures.write();
  });

  /** The kind of a key, from the service's own key layout. */
  function kindOf(key: string): Kind {
    const k = stack.keys;
    const bull = `${k.queuePrefix}:`;
    if (key.startsWith(bull)) {
      const [, rest] = [key.slice(0, bull.length), key.slice(bull.length)];
      const [queue, ...parts] = rest.split(':');
      const sendQueue = (Object.values(DISPATCH_QUEUES) as string[]).includes(queue);
      if (sendQueue && parts.length === 1 && UUID.test(parts[0])) return 'send_job';
      if (sendQueue && parts.length === 1 && (parts[0] === 'completed' || parts[0] === 'failed')) return 'finished_jobs';
      return 'queue_bookkeeping';
    }
    const prefixes: [string, Kind][] = [
      [k.client(''), 'client'],
      [k.dispatch(''), 'dispatch'],
      [k.pendingDispatches, 'pending_dispatches'],
      [k.coalesce('', '').slice(0, -1), 'coalesce'],
      [k.deviceSends('', '').slice(0, -1), 'send_limit'],
      [k.destinationSends(''), 'send_limit'],
      [k.guesses(''), 'guess_budget'],
      [k.deviceCreations(''), 'device_creations'],
      [k.providerMessage('', '').slice(0, -1), 'provider_message'],
      [k.replay(''), 'replay'],
    ];
    for (const [prefix, kind] of prefixes) if (key.startsWith(prefix)) return kind;
    if (key.startsWith(k.account(''))) {
      // The layout's own segments: what follows an account key for a device, and a device key for its history.
      const deviceSegment = k.device('a', '').slice(k.account('a').length);
      const eventsSuffix = k.deviceEvents('a', 'd').slice(k.device('a', 'd').length);
      if (key.endsWith(eventsSuffix)) return 'device_events';
      return key.includes(deviceSegment) ? 'device' : 'account';
    }
    throw new Error(`a key of no known kind: ${key}`);
  }

  interface KeyInfo {
    key: string;
    kind: Kind;
    ttlMs: number;
    bytes: number;
  }

  async function inventory(): Promise<KeyInfo[]> {
    const keys = await scanKeys(stack.redis, stack.prefix);
    const out: KeyInfo[] = [];
    for (const key of keys) {
      const [ttlMs, bytes] = await Promise.all([stack.redis.pttl(key), stack.redis.memory('USAGE', key)]);
      if (ttlMs === -2) continue; // expired between the scan and now
      out.push({ key, kind: kindOf(key), ttlMs, bytes: Number(bytes ?? 0) });
    }
    return out;
  }

  const byKind = (keys: KeyInfo[]) => {
    const table: Record<string, { keys: number; bytes: number; longest_ttl_s: number | null }> = {};
    for (const k of keys) {
      const row = (table[k.kind] ??= { keys: 0, bytes: 0, longest_ttl_s: null });
      row.keys += 1;
      row.bytes += k.bytes;
      if (k.ttlMs >= 0) row.longest_ttl_s = Math.max(row.longest_ttl_s ?? 0, Math.ceil(k.ttlMs / 1000));
    }
    return table;
  };

  it('writes every key with its lifetime, and past the lifetimes only the registrations and the queue bookkeeping are left', async () => {
    const validated: PendingDevice[] = [];
    // Two devices validated (SMS and e-mail), one of them disabled afterwards.
    for (const channel of ['sms', 'email'] as const) {
      const d = await pendingDevice(stack, channel);
      expect((await d.client.validate(d.accountKey, d.deviceKey, d.code)).status).toBe(201);
      validated.push(d);
    }
    expect((await validated[1].client.disable(validated[1].accountKey, validated[1].deviceKey)).status).toBe(200);
    // Two left pending.
    const pending = [await pendingDevice(stack, 'sms'), await pendingDevice(stack, 'email')];
    // One rejected after five wrong codes.
    const rejected = await pendingDevice(stack, 'sms');
    for (let i = 0; i < 5; i += 1) await rejected.client.validate(rejected.accountKey, rejected.deviceKey, wrongCode(rejected.code));
    expect((await rejected.client.query(rejected.accountKey, rejected.deviceKey)).body.device_status).toBe('rejected');
    // One resent: a coalesced resend, then channels alternating up to the cap.
    const resent = await pendingDevice(stack, 'sms');
    expect((await resent.client.resend(resent.accountKey, resent.deviceKey, { contact_type: 'sms' })).status).toBe(202);
    expect((await resent.client.resend(resent.accountKey, resent.deviceKey, { contact_type: 'email' })).status).toBe(202);
    expect((await resent.client.resend(resent.accountKey, resent.deviceKey, { contact_type: 'sms' })).status).toBe(202);
    expectError(await resent.client.resend(resent.accountKey, resent.deviceKey, { contact_type: 'email' }), 'DTS000004', {
      limit: 'per_device',
      window_seconds: LIFETIMES.send_limit,
      retry_after_seconds: expect.any(Number),
    });
    await deviceSettled(stack, resent.deviceKey);
    // One whose SMS fails for good (its job ends failed).
    stack.twilio.permanentError(1);
    const failed = await stack.newDevice('sms');
    const [failedDispatch] = await dispatchIdsOf(stack, failed.deviceKey);
    await stack.worker!.waitFor(new RegExp(`dispatch ${failedDispatch} failed for good`));
    const lastWriteAt = Date.now();

    const registered = new Set(validated.flatMap((d) => [stack.keys.device(d.accountKey, d.deviceKey), stack.keys.deviceEvents(d.accountKey, d.deviceKey)]));
    const limitOf = (kind: Kind): number | undefined => (kind in LIFETIMES ? LIFETIMES[kind as keyof typeof LIFETIMES] : undefined);

    const during = await inventory();
    figures.set('keys_during', byKind(during));
    for (const k of during) {
      const limit = limitOf(k.kind);
      if (k.kind === 'device' || k.kind === 'device_events') {
        // A device validated is the registration; any other expires.
        if (registered.has(k.key)) expect([k.key, k.ttlMs]).toEqual([k.key, -1]);
        else expect([k.key, k.ttlMs > 0 && k.ttlMs <= LIFETIMES.pending_device * 1000]).toEqual([k.key, true]);
      } else if (limit !== undefined) {
        expect([k.key, k.ttlMs > 0 && k.ttlMs <= limit * 1000]).toEqual([k.key, true]);
      } else if (k.kind !== 'queue_bookkeeping') {
        // Directory entries, send jobs and the job sets: kept until removed (the jobs by the worker, at their age).
        expect([k.key, k.ttlMs]).toEqual([k.key, -1]);
      }
    }
    const kinds = new Set(during.map((k) => k.kind));
    for (const kind of ['dispatch', 'send_limit', 'guess_budget', 'device_creations', 'provider_message', 'replay', 'send_job', 'finished_jobs'] as const) {
      expect([kind, kinds.has(kind)]).toEqual([kind, true]);
    }

    // Memory, as Redis counts it: a registered device, and what one send keeps while it lives.
    const sum = (keys: KeyInfo[]) => keys.reduce((n, k) => n + k.bytes, 0);
    const sends = during.filter((k) => k.kind === 'dispatch').length;
    const registeredBytes = sum(during.filter((k) => registered.has(k.key)));
    const perSend = sum(during.filter((k) => ['dispatch', 'provider_message', 'send_job'].includes(k.kind))) / sends;
    figures.set('memory_bytes', {
      per_registered_device: Math.round(registeredBytes / validated.length),
      per_send_while_kept: Math.round(perSend),
      sends,
    });

    // Past the longest lifetime (and one run of the worker's housekeeping), only registrations and bookkeeping are left.
    const longest = Math.max(...Object.values(LIFETIMES)) * 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastWriteAt + longest - Date.now())));
    let after = await inventory();
    for (const deadline = Date.now() + 10_000; after.some((k) => !isLasting(k)) && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      after = await inventory();
    }
    figures.set('keys_after', byKind(after));
    figures.set('waited_s', Math.round((Date.now() - lastWriteAt) / 1000));
    expect(after.filter((k) => !isLasting(k)).map((k) => `${k.kind} ${k.key}`)).toEqual([]);
    // Every registration is still there: clients, accounts, the validated devices and their histories.
    const left = new Set(after.map((k) => k.key));
    for (const key of registered) expect([key, left.has(key)]).toEqual([key, true]);
    expect(after.filter((k) => k.kind === 'device').length).toBe(validated.length);
    for (const d of [...pending, rejected, resent]) expect(left.has(stack.keys.device(d.accountKey, d.deviceKey))).toBe(false);
    // What the queue keeps for itself is a handful of keys, not one per job.
    expect(after.filter((k) => k.kind === 'queue_bookkeeping').length).toBeLessThan(20);

    function isLasting(k: KeyInfo): boolean {
      if (k.kind === 'device' || k.kind === 'device_events') return registered.has(k.key);
      return k.kind === 'client' || k.kind === 'account' || k.kind === 'queue_bookkeeping';
    }
  });
});
