/**
 * The `topologies` tier's scenario, shared by its Cluster and Sentinel
 * specs: the full approval flow on a running stack, then a bounded stream of
 * device creations (each with its own device and approver phone) during
 * which the test kills the Redis master, while the readiness of every app is
 * polled. What it returns is what the specs assert (lost, duplicated, every
 * refusal in the contract's envelope) and print (the timings).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import { DISPATCH_QUEUES } from '@lib/dispatch-contract';
import { http, type DeviceApiClient, type HttpResult } from './api-client';
import type { FigureValue, Figures } from './figures';
import { errorLines } from './logs';
import { codeIn, newApprover, type Approver, type Stack } from './stack';
import { until } from './topologies';

/** The contract's answer to a send requested while Redis cannot take it (wire facts, as test/e2e/redis-outage states them). */
export const OBD000097 = {
  status: 400,
  title: 'Error occurred while sending token',
  description: 'An unexpected error occurred while sending token',
  translation: 'Um erro inexperado ocorreu ao tentar enviar token',
};

/** Creates a device for `approver` on `accountKey`, by SMS. */
export function createFor(client: DeviceApiClient, accountKey: string, approver: Approver, deviceKey = randomUUID()) {
  return client.createDevice(accountKey, {
    device_key: deviceKey,
    session_id: randomUUID(),
    tfa_info: { approver_document_number: approver.document_number, contact_type: 'sms' },
  });
}

/**
 * The full flow, checked step by step: a device created, its code delivered
 * to the fake Twilio and validated (201); another device's code resent, the
 * first code refused and the new one validated.
 */
export async function fullFlow(stack: Stack): Promise<void> {
  const smsTo = (phone: string) => stack.twilio.messages.filter((m) => m.to === phone);
  const waitForSms = async (phone: string, count: number) => {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${smsTo(phone).length} of ${count} messages to the approver within 15 s`));
      }, 15_000);
      const check = () => {
        if (smsTo(phone).length < count) return;
        clearTimeout(timer);
        off();
        resolve();
      };
      const off = stack.twilio.onMessage(check);
      check();
    });
    return smsTo(phone);
  };

  const a = await stack.newDevice('sms');
  const [first] = await waitForSms(a.approver.phone_number, 1);
  const validated = await a.client.validate(a.accountKey, a.deviceKey, codeIn(first.body));
  expect({ status: validated.status, body: validated.body }).toMatchObject({ status: 201, body: { device_key: a.deviceKey, device_status: 'created' } });

  const b = await stack.newDevice('sms');
  const [created] = await waitForSms(b.approver.phone_number, 1);
  const resend = await b.client.resend(b.accountKey, b.deviceKey);
  expect(resend.status).toBe(202);
  const [, resent] = await waitForSms(b.approver.phone_number, 2);
  expect(codeIn(resent.body)).not.toBe(codeIn(created.body));
  const old = await b.client.validate(b.accountKey, b.deviceKey, codeIn(created.body));
  expect(old.status).not.toBe(201);
  const fresh = await b.client.validate(b.accountKey, b.deviceKey, codeIn(resent.body));
  expect({ status: fresh.status, body: fresh.body }).toMatchObject({ status: 201, body: { device_key: b.deviceKey, device_status: 'created' } });
}

/** `count` approvers, each with a phone of its own, on accounts of 50 (the most an account lists). */
export async function approversFor(stack: Stack, client: DeviceApiClient, count: number): Promise<{ accountKey: string; approver: Approver }[]> {
  const out: { accountKey: string; approver: Approver }[] = [];
  for (let a = 0; out.length < count; a += 1) {
    const approvers = Array.from({ length: Math.min(50, count - out.length) }, (_, i) => ({
      ...newApprover(),
      document_number: `7${String(a).padStart(3, '0')}${String(i).padStart(7, '0')}`,
    }));
    const { accountKey } = await stack.newAccount(client.clientKey, { approvers });
    out.push(...approvers.map((approver) => ({ accountKey, approver })));
  }
  return out;
}

export interface StreamAnswer {
  index: number;
  phone: string;
  accountKey: string;
  deviceKey: string;
  /** ms since the stream started. */
  startedAt: number;
  answeredAt: number;
  res: HttpResult;
}

/**
 * One creation every 1000/`perSecond` ms for each target, whatever the
 * previous ones are doing; `fault` runs in the background once `faultAtMs`
 * have passed and resolves with the moment (ms since the start) it struck.
 */
export async function createStream(
  client: DeviceApiClient,
  targets: { accountKey: string; approver: Approver }[],
  perSecond: number,
  faultAtMs: number,
  fault: () => Promise<void>,
): Promise<{ answers: StreamAnswer[]; faultAt: number; faultDone: Promise<void> }> {
  const start = performance.now();
  const now = () => performance.now() - start;
  const answers: StreamAnswer[] = [];
  const inFlight: Promise<void>[] = [];
  let faultAt = -1;
  let faultDone: Promise<void> = Promise.resolve();
  for (let i = 0; i < targets.length; i += 1) {
    const due = (i * 1000) / perSecond;
    if (faultAt < 0 && due >= faultAtMs) {
      faultAt = now();
      faultDone = fault();
    }
    const wait = due - now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const { accountKey, approver } = targets[i];
    const deviceKey = randomUUID();
    const startedAt = now();
    inFlight.push(
      createFor(client, accountKey, approver, deviceKey).then((res) => {
        answers.push({ index: i, phone: approver.phone_number, accountKey, deviceKey, startedAt, answeredAt: now(), res });
      }),
    );
  }
  await Promise.all(inFlight);
  answers.sort((x, y) => x.index - y.index);
  return { answers, faultAt, faultDone };
}

/**
 * Polls `/health/ready` of each app (`name` → base URL) every `everyMs`, one
 * request at a time per app, each bounded, and keeps every answer's status
 * and time (ms on the same clock as `performance.now()`).
 */
export class ReadinessWatch {
  readonly samples = new Map<string, { at: number; status: number }[]>();
  /** The `error` part of each app's first answer other than 200 (what it said was down). */
  readonly reasons = new Map<string, string>();
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    targets: Record<string, string>,
    private readonly everyMs = 100,
  ) {
    this.loops = Object.entries(targets).map(([name, url]) => this.poll(name, url));
  }

  private async poll(name: string, url: string): Promise<void> {
    const samples: { at: number; status: number }[] = [];
    this.samples.set(name, samples);
    while (this.running) {
      let status: number;
      try {
        const res = await http(`${url}/health/ready`, { signal: AbortSignal.timeout(3_000) });
        status = res.status;
        if (status !== 200 && !this.reasons.has(name)) this.reasons.set(name, JSON.stringify(res.body?.error ?? res.text));
      } catch {
        status = 0; // no answer in time
      }
      samples.push({ at: performance.now(), status });
      await new Promise((resolve) => setTimeout(resolve, this.everyMs));
    }
  }

  /** Resolves once `name`'s latest answer is `status` (bounded; polling underneath). */
  async until(name: string, status: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const list = this.samples.get(name) ?? [];
      if (list.length > 0 && list[list.length - 1].status === status) return;
      if (performance.now() > deadline) throw new Error(`${name}: /health/ready not ${status} within ${timeoutMs} ms (${JSON.stringify(list.slice(-5))})`);
      await new Promise((resolve) => setTimeout(resolve, this.everyMs));
    }
  }

  /**
   * For `name`, after `from`: seconds until it first stopped answering 200
   * and seconds until it answered 200 again after that (null if it never did).
   */
  outage(
    name: string,
    from: number,
  ): { not_ready_after_s: number | null; ready_again_after_s: number | null; not_ready_s: number | null; said: string | null } {
    const after = (this.samples.get(name) ?? []).filter((s) => s.at >= from);
    const down = after.find((s) => s.status !== 200);
    const up = down ? after.find((s) => s.at > down.at && s.status === 200) : undefined;
    const s = (ms: number) => Math.round(ms / 100) / 10;
    return {
      not_ready_after_s: down ? s(down.at - from) : null,
      ready_again_after_s: up ? s(up.at - from) : null,
      not_ready_s: down && up ? s(up.at - down.at) : null,
      said: this.reasons.get(name) ?? null,
    };
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

/** What the stream's answers and the provider's messages say, for the figures and the assertions. */
export function streamFigures(stack: Stack, answers: StreamAnswer[], faultAt: number) {
  const smsTo = (phone: string) => stack.twilio.messages.filter((m) => m.to === phone);
  const accepted = answers.filter((a) => a.res.status === 202);
  const refused = answers.filter((a) => a.res.status !== 202);
  const byCode: Record<string, number> = {};
  for (const r of refused) {
    const code = `${r.res.status} ${typeof r.res.body?.code === 'string' ? r.res.body.code : 'no envelope'}`;
    byCode[code] = (byCode[code] ?? 0) + 1;
  }
  const firstAfter = accepted.filter((a) => a.startedAt > faultAt).sort((x, y) => x.answeredAt - y.answeredAt)[0];
  const lastRefused = [...refused].sort((x, y) => y.answeredAt - x.answeredAt)[0];
  const s = (ms: number) => Math.round(ms / 100) / 10;
  const lost = accepted.filter((a) => smsTo(a.phone).length === 0);
  const duplicated = answers.filter((a) => smsTo(a.phone).length > 1);
  const figures: Record<string, FigureValue> = {
    requests: answers.length,
    accepted_202: accepted.length,
    refusals_by_code: byCode,
    refused_but_sent_anyway: refused.filter((r) => smsTo(r.phone).length > 0).length,
    slowest_answer_ms: Math.round(Math.max(...answers.map((a) => a.answeredAt - a.startedAt))),
    kill_to_202s_resume_s: firstAfter ? s(firstAfter.answeredAt - faultAt) : null,
    kill_to_last_refusal_s: lastRefused ? s(lastRefused.answeredAt - faultAt) : null,
    lost: lost.length,
    duplicated: duplicated.length,
  };
  return { figures, accepted, refused, lost, duplicated, smsTo };
}

/** Every line the stack's processes printed, to `test/artifacts/topologies/<file>.log` beside the figures (for a failure's story). */
export function keepOutput(figures: Figures, stack: Stack | undefined): void {
  if (!stack) return;
  const dir = join(__dirname, '..', 'artifacts', figures.suite);
  mkdirSync(dir, { recursive: true });
  const lines = [stack.api, ...stack.workers].flatMap((p, i) => (p ? p.output.map((line) => `${i === 0 ? 'api' : `worker_${i}`} ${line}`) : []));
  writeFileSync(join(dir, `${figures.file}.log`), `${lines.join('\n')}\n`);
}

/** Settings of the stacks this tier starts (on top of the topology's). */
export const TOPOLOGY_STACK_ENV: Record<string, string> = {
  // The full flow's resend is a send of its own, not joined to the creation's.
  RESEND_COALESCE_SECONDS: '0',
  // One account lists 50 approvers; the stream creates one device per approver, several hundred a day per account.
  DEVICE_LIMIT_PER_ACCOUNT: '100000',
  // A job whose worker lost the master mid-job is handed on once its lock expires: seconds, not a minute, so
  // the bounded wait after the stream (DELIVERY_WAIT_MS) covers it.
  WORKER_LOCK_DURATION_MS: '5000',
  WORKER_STALLED_INTERVAL_MS: '2000',
};

const STREAM_PER_SECOND = 20;
const STREAM_REQUESTS = 240; // 12 s
const KILL_AT_MS = 3_000;
/** How long, after the stream, a 202's message may take to reach the provider before it counts as lost. */
const DELIVERY_WAIT_MS = 30_000;
/** How soon after the kill every app must say it is not ready ("within a few seconds"; measured: well under one). */
const NOT_READY_WITHIN_S = 5;

export interface FailoverPlan {
  /** Kills the master; resolves once it has exited. */
  kill: () => Promise<void>;
  /** Resolves once the topology has promoted a replica (its own view: sentinels, cluster state). */
  failedOver: () => Promise<unknown>;
}

/**
 * The tier's test on one topology: the stream of creations, the master
 * killed 3 s in, then every 202 delivered exactly once, every refusal in the
 * contract's envelope, every delivered code valid, every app ready again and
 * no error logged; the figures are recorded on `figures`.
 */
export async function killMasterDuringStream(stack: Stack, figures: Figures, plan: FailoverPlan): Promise<void> {
  const client = await stack.newClient('ed25519');
  const targets = await approversFor(stack, client, STREAM_REQUESTS);
  const apps: Record<string, string> = { api: stack.api.url!, ...Object.fromEntries(stack.workers.map((w, i) => [`worker_${i + 1}`, w.url!])) };
  const watch = new ReadinessWatch(apps);
  try {
    for (const name of Object.keys(apps)) await watch.until(name, 200, 10_000);

    let killedAt = 0;
    let failedOverAt = 0;
    const { answers, faultAt, faultDone } = await createStream(client, targets, STREAM_PER_SECOND, KILL_AT_MS, async () => {
      killedAt = performance.now();
      await plan.kill();
      await plan.failedOver();
      failedOverAt = performance.now();
    });
    await faultDone;
    expect(failedOverAt).toBeGreaterThan(killedAt);
    // Ready again (or why not, asserted once the figures are out).
    const readyAgain = await Promise.all(
      Object.keys(apps).map((name) =>
        watch.until(name, 200, 30_000).then(
          () => true,
          (err: Error) => err.message,
        ),
      ),
    );
    await watch.stop();

    // Every 202 reaches the provider (event-driven, bounded).
    const smsTo = (phone: string) => stack.twilio.messages.filter((m) => m.to === phone);
    const accepted = answers.filter((a) => a.res.status === 202);
    const undelivered = () => accepted.filter((a) => smsTo(a.phone).length === 0);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve();
      }, DELIVERY_WAIT_MS);
      const check = () => {
        if (undelivered().length > 0) return;
        clearTimeout(timer);
        off();
        resolve();
      };
      const off = stack.twilio.onMessage(check);
      check();
    });
    // Then nothing is left to send: no dispatch recorded without its job having run, no job waiting, active or delayed
    // (a refused request's dispatch may still be sent by the repair; a duplicate would come from a job run twice).
    const queues = Object.values(DISPATCH_QUEUES).map((name) => new Queue(name, { connection: stack.redis, prefix: stack.keys.queuePrefix }));
    for (const queue of queues) queue.on('error', () => undefined);
    const drained = await until(
      async () => {
        const pending = await stack.redis.zcard(stack.keys.pendingDispatches);
        const counts = await Promise.all(queues.map((queue) => queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
        return pending === 0 && counts.every((c) => Object.values(c).every((n) => n === 0)) ? true : undefined;
      },
      DELIVERY_WAIT_MS,
      'the queue to drain',
      250,
    ).catch((err: Error) => err.message);
    await Promise.all(queues.map((queue) => queue.close()));

    // Figures first: printed whatever the assertions below say.
    const { figures: stream, lost, duplicated } = streamFigures(stack, answers, faultAt);
    for (const [name, value] of Object.entries(stream)) figures.set(name, value);
    figures.set('failover_s', Math.round((failedOverAt - killedAt) / 100) / 10);
    figures.set('readiness', Object.fromEntries(Object.keys(apps).map((name) => [name, watch.outage(name, killedAt)])));
    figures.detail(
      'answers',
      answers.map((a) => [a.index, Math.round(a.startedAt), Math.round(a.answeredAt - a.startedAt), a.res.status]),
    );

    // Every refusal is the contract's answer to a send Redis could not take: 400 OBD000097, nothing else.
    const unexpected = answers.filter(
      (a) =>
        a.res.status !== 202 &&
        !(
          a.res.status === OBD000097.status &&
          a.res.body?.code === 'OBD000097' &&
          a.res.body.title === OBD000097.title &&
          a.res.body.description === OBD000097.description &&
          a.res.body.translation === OBD000097.translation &&
          /^(redis|queue)_unavailable$/.test(String(a.res.body.extra_fields?.reason))
        ),
    );
    expect(unexpected.map((a) => ({ index: a.index, at_ms: Math.round(a.startedAt), status: a.res.status, body: a.res.text }))).toEqual([]);
    expect(drained).toBe(true);
    expect(readyAgain).toEqual(Object.keys(apps).map(() => true));
    expect({ lost: lost.map((a) => a.index), duplicated: duplicated.map((a) => [a.index, smsTo(a.phone).length]) }).toEqual({ lost: [], duplicated: [] });
    // The outage was real (some creations refused) and the stream ended on a healthy service.
    expect(answers.length - accepted.length).toBeGreaterThan(0);
    expect(answers.slice(-20).map((a) => a.res.status)).toEqual(Array(20).fill(202));

    // Readiness saw it: each app said 503 within a few seconds of the kill, and 200 again after the fail-over.
    for (const name of Object.keys(apps)) {
      const after = (watch.samples.get(name) ?? []).filter((s) => s.at >= killedAt);
      const firstDown = after.find((s) => s.status !== 200);
      expect({ name, status: firstDown?.status }).toEqual({ name, status: 503 });
      expect({ name, within_s: (firstDown!.at - killedAt) / 1000 < NOT_READY_WITHIN_S }).toEqual({ name, within_s: true });
      expect(after.some((s) => s.at > firstDown!.at && s.status === 200)).toBe(true);
    }

    // What the approvers received works: every delivered code approves its device.
    const delivered = answers.filter((a) => smsTo(a.phone).length === 1);
    const validations = await Promise.all(
      delivered.map(async (a) => {
        const res = await client.validate(a.accountKey, a.deviceKey, codeIn(smsTo(a.phone)[0].body));
        return { index: a.index, status: res.status, text: res.text };
      }),
    );
    figures.set('delivered_codes_validated_201', validations.filter((v) => v.status === 201).length);
    expect(validations.filter((v) => v.status !== 201)).toEqual([]);

    // Same processes throughout, none logged a defect.
    expect([stack.api, ...stack.workers].map((p) => p.running)).toEqual([true, ...stack.workers.map(() => true)]);
    expect(errorLines(stack.output)).toEqual([]);
  } finally {
    await watch.stop();
  }
}
