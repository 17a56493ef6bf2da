/**
 * Redis restarted (stopped, kept down, started again on the same port and
 * append-only file, as docker-compose runs it) in the middle of a steady
 * stream of resend requests, one every STREAM_INTERVAL_MS, each on a device
 * of its own whose first token has already been delivered.
 *
 * - While Redis is down the api answers OBD000097 (the contract's "Error
 *   occurred while sending token") at once: never a 5xx, never a hang.
 * - When it is back, the same api and worker processes (not restarted) take
 *   requests and jobs again by themselves.
 * - Every request that got 202 is dispatched: its approver receives one more
 *   message, whose code registers the device. Nothing is sent twice.
 *
 * Figures: requests, accepted, refused while down, latencies, recovery time.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { HttpResult } from '../support/api-client';
import { DedicatedRedis } from '../support/dedicated-redis';
import { Figures } from '../support/figures';
import { Stack, codeIn, newApprover } from '../support/stack';

const DEVICES = 150;
const APPROVERS_PER_ACCOUNT = 50;
const STREAM_INTERVAL_MS = 40;
const STOP_AFTER_REQUESTS = 20;
const DOWN_MS = 2_000;
/** The bound for any answer while Redis is unreachable. */
const ANSWER_BOUND_MS = 1_000;

interface Sent {
  index: number;
  startedAt: number;
  ms: number;
  phase: 'up' | 'down' | 'back';
  res: HttpResult;
}

describe('Redis restarted during a steady stream of resends', () => {
  const figures = new Figures('reliability', __filename);
  let redis: DedicatedRedis;
  let stack: Stack;
  let client: Awaited<ReturnType<Stack['newClient']>>;
  const devices: { accountKey: string; deviceKey: string; phone: string }[] = [];
  const results: Sent[] = [];
  let apiPid: number | undefined;
  let workerPid: number | undefined;

  const smsTo = (phone: string) => stack.twilio.messages.filter((m) => m.to === phone);

  beforeAll(async () => {
    redis = await DedicatedRedis.create();
    await redis.start();
    stack = await Stack.start({
      label: 'restart',
      redisUrl: redis.url,
      // Each resend is a send of its own (no coalescing with the creation's).
      // Many devices on one account: the outage, not the new-device cap, is under test.
      env: { RESEND_COALESCE_SECONDS: '0', DEVICE_LIMIT_PER_ACCOUNT: '100000' },
    });
    apiPid = stack.api.child.pid;
    workerPid = stack.worker!.child.pid;
    client = await stack.newClient('ed25519');
    for (let a = 0; a < DEVICES / APPROVERS_PER_ACCOUNT; a += 1) {
      const approvers = Array.from({ length: APPROVERS_PER_ACCOUNT }, (_, i) => ({
        ...newApprover(),
        document_number: `8${String(a).padStart(3, '0')}${String(i).padStart(7, '0')}`,
      }));
      const { accountKey } = await stack.newAccount(client.clientKey, { approvers });
      const created = await Promise.all(
        approvers.map(async (approver) => {
          const deviceKey = randomUUID();
          const res = await client.createDevice(accountKey, {
            device_key: deviceKey,
            session_id: randomUUID(),
            tfa_info: { approver_document_number: approver.document_number, contact_type: 'sms' },
          });
          if (res.status !== 202) throw new Error(`create failed: ${res.status} ${res.text}`);
          return { accountKey, deviceKey, phone: approver.phone_number };
        }),
      );
      devices.push(...created);
    }
    // Every creation's token is out before the stream starts.
    await stack.twilio.waitForMessages(DEVICES, 30_000);
  }, 90_000);

  afterAll(async () => {
    figures.write();
    await redis?.start().catch(() => undefined);
    await stack?.stop();
    await redis?.destroy();
  }, 60_000);

  it('down: OBD000097 within 1 s, never a 5xx; back: same processes recover; every 202 is delivered once and its code works', async () => {
    let phase: Sent['phase'] = 'up';
    let downAt = 0;
    let backAt = 0;
    const inFlight: Promise<void>[] = [];

    // The stream: one resend every STREAM_INTERVAL_MS, whatever the previous ones are doing.
    const streamStart = performance.now();
    for (let i = 0; i < devices.length; i += 1) {
      const d = devices[i];
      const startedAt = performance.now();
      const requestPhase = phase;
      inFlight.push(
        client.resend(d.accountKey, d.deviceKey).then((res) => {
          results.push({ index: i, startedAt, ms: performance.now() - startedAt, phase: requestPhase, res });
        }),
      );
      if (i + 1 === STOP_AFTER_REQUESTS) {
        // Stop in the background: the stream goes on meanwhile.
        void (async () => {
          await redis.stop();
          downAt = performance.now();
          phase = 'down';
          await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
          await redis.start();
          backAt = performance.now();
          phase = 'back';
        })();
      }
      await new Promise((resolve) => setTimeout(resolve, STREAM_INTERVAL_MS));
    }
    await Promise.all(inFlight);
    expect(backAt).toBeGreaterThan(0);
    results.sort((a, b) => a.index - b.index);

    // Every answer: 202, or the contract's OBD000097 envelope; all of them fast.
    const obd = {
      title: 'Error occurred while sending token',
      description: 'An unexpected error occurred while sending token',
      translation: 'Um erro inexperado ocorreu ao tentar enviar token',
    };
    const unexpected = results.filter(
      (r) =>
        r.res.status !== 202 &&
        !(
          r.res.status === 400 &&
          r.res.body?.code === 'OBD000097' &&
          r.res.body.title === obd.title &&
          r.res.body.description === obd.description &&
          r.res.body.translation === obd.translation &&
          /^(redis|queue)_unavailable$/.test(String(r.res.body.extra_fields?.reason))
        ),
    );
    expect(unexpected.map((r) => [r.index, r.phase, r.res.status, r.res.text])).toEqual([]);
    const slowest = Math.max(...results.map((r) => r.ms));
    expect(slowest).toBeLessThan(ANSWER_BOUND_MS);

    // Requests made while Redis was down were all refused.
    const whileDown = results.filter((r) => r.phase === 'down' && r.startedAt >= downAt && r.startedAt + r.ms <= backAt);
    expect(whileDown.length).toBeGreaterThan(10);
    expect(whileDown.filter((r) => r.res.status !== 400)).toEqual([]);

    // Recovery by themselves: the same processes, and the end of the stream all accepted.
    expect(stack.api.running && stack.worker!.running).toBe(true);
    expect([stack.api.child.pid, stack.worker!.child.pid, stack.workers.length]).toEqual([apiPid, workerPid, 1]);
    const firstAcceptedAfter = results.find((r) => r.phase === 'back' && r.res.status === 202);
    expect(firstAcceptedAfter).toBeDefined();
    const tail = results.slice(-20);
    expect(tail.map((r) => r.res.status)).toEqual(Array(20).fill(202));

    // Persistence (AOF): every device created before the restart is still there.
    const exists = stack.redis.pipeline();
    for (const d of devices) exists.exists(stack.keys.device(d.accountKey, d.deviceKey));
    expect((await exists.exec())!.filter(([, n]) => n !== 1)).toEqual([]);

    // Every 202 is dispatched: one more SMS to its approver (event-driven wait).
    const accepted = results.filter((r) => r.res.status === 202).map((r) => devices[r.index]);
    const missing = () => accepted.filter((d) => smsTo(d.phone).length < 2);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${missing().length} accepted resends not delivered within 30 s`));
      }, 30_000);
      const check = () => {
        if (missing().length > 0) return;
        clearTimeout(timer);
        off();
        resolve();
      };
      const off = stack.twilio.onMessage(check);
      check();
    });
    // Once each: creation + resend.
    expect(accepted.filter((d) => smsTo(d.phone).length !== 2).map((d) => d.phone)).toEqual([]);
    const validations = await Promise.all(accepted.map((d) => client.validate(d.accountKey, d.deviceKey, codeIn(smsTo(d.phone)[1].body))));
    expect(validations.filter((v) => v.status !== 201).map((v) => v.text)).toEqual([]);

    // A refused request may still have been queued (Redis took it, the answer
    // timed out): the client was told to retry; at most it got a token early.
    const refused = results.filter((r) => r.res.status !== 202).map((r) => devices[r.index]);
    const refusedButSent = refused.filter((d) => smsTo(d.phone).length > 1).length;
    expect(stack.api.output.concat(stack.worker!.output).filter((l) => /"level":"(error|fatal)"|\bERROR\b/.test(l))).toEqual([]);

    const latency = (phase: Sent['phase']) => {
      const ms = results
        .filter((r) => r.phase === phase)
        .map((r) => r.ms)
        .sort((a, b) => a - b);
      return { n: ms.length, p50: Math.round(ms[Math.floor(ms.length / 2)] ?? 0), max: Math.round(ms[ms.length - 1] ?? 0) };
    };
    figures.set('requests', results.length);
    figures.set('accepted_202', accepted.length);
    figures.set('refused_OBD000097', refused.length);
    figures.set('refused_while_down', whileDown.length);
    figures.set('refused_but_sent_anyway', refusedButSent);
    figures.set('accepted_delivered', accepted.length - missing().length);
    figures.set('lost', missing().length);
    figures.set('duplicated', accepted.filter((d) => smsTo(d.phone).length > 2).length);
    figures.set('redis_down_ms', Math.round(backAt - downAt));
    figures.set('api_first_202_after_redis_ready_ms', Math.round(firstAcceptedAfter!.startedAt + firstAcceptedAfter!.ms - backAt));
    figures.set('stream_ms', Math.round(performance.now() - streamStart));
    figures.set('latency_ms', { up: latency('up'), down: latency('down'), back: latency('back') });
    figures.set('slowest_answer_ms', Math.round(slowest));
  }, 90_000);
});
