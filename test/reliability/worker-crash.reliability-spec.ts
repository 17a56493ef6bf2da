/**
 * A worker killed with SIGKILL in the middle of a batch of 500 dispatches,
 * then a new worker started: every dispatch is sent (none lost), and only the
 * sends that were in flight at the provider when the process died may go out
 * twice (at-least-once delivery; the crash window). A re-sent dispatch
 * carries the same code (it is derived from the dispatch id), so a duplicate
 * never confuses the approver, and every delivered code registers its device.
 *
 * The killed worker's jobs come back through BullMQ's stalled-job recovery,
 * which waits for their locks to expire: the stack runs with a short
 * WORKER_LOCK_DURATION_MS / WORKER_STALLED_INTERVAL_MS so this takes seconds.
 *
 * Figures: dispatches, delivered, lost, duplicated, in flight at the kill,
 * recovery time.
 */
import { DISPATCH_CHANNELS } from '@lib/dispatch-contract';
import { randomUUID } from 'node:crypto';
import type { FakeEmail, FakeSms } from '../fakes';
import { Figures } from '../support/figures';
import { QueueProbe } from '../support/queue-probe';
import { TEST_REDIS_URL } from '../support/redis';
import { Stack, codeIn, newApprover, type Approver } from '../support/stack';

const DISPATCHES = 500;
const APPROVERS_PER_ACCOUNT = 50;
const CONCURRENCY = 16;
const KILL_AFTER = 200;
const LOCK_MS = 3_000;
const STALLED_MS = 1_000;
const PROVIDER_LATENCY_MS = 40;

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

interface Target {
  accountKey: string;
  deviceKey: string;
  approver: Approver;
  channel: 'sms' | 'email';
  /** Where the message goes: the phone or the e-mail address. */
  destination: string;
  dispatchId?: string;
}

describe('worker SIGKILLed in the middle of a batch', () => {
  const figures = new Figures('reliability', __filename);
  let stack: Stack;
  let probe: QueueProbe;
  let client: Awaited<ReturnType<Stack['newClient']>>;
  const targets: Target[] = [];
  /** Every accepted message with the time it was accepted, by destination. */
  const delivered = new Map<string, { code: string; at: number }[]>();
  let killedAt = 0;

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'crash',
      startWorker: false,
      env: {
        // Hundreds of devices on one account: the load, not the new-device cap, is under test.
        DEVICE_LIMIT_PER_ACCOUNT: '100000',
        WORKER_CONCURRENCY: String(CONCURRENCY),
        WORKER_LOCK_DURATION_MS: String(LOCK_MS),
        WORKER_STALLED_INTERVAL_MS: String(STALLED_MS),
      },
    });
    probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
    stack.twilio.delay(PROVIDER_LATENCY_MS);
    stack.ses.delay(PROVIDER_LATENCY_MS);
    const record = (destination: string, body: string) => {
      const list = delivered.get(destination) ?? [];
      list.push({ code: codeIn(body), at: Date.now() });
      delivered.set(destination, list);
    };
    stack.twilio.onMessage((m: FakeSms) => record(m.to, m.body));
    stack.ses.onMessage((m: FakeEmail) => record(m.to[0], m.body));

    // One client, accounts of 50 approvers each; every device has an approver
    // (so a phone or an address) of its own, half by SMS, half by e-mail.
    client = await stack.newClient('ed25519');
    for (let a = 0; a < DISPATCHES / APPROVERS_PER_ACCOUNT; a += 1) {
      const approvers = Array.from({ length: APPROVERS_PER_ACCOUNT }, (_, i) => ({
        ...newApprover(),
        document_number: `9${String(a).padStart(3, '0')}${String(i).padStart(7, '0')}`,
      }));
      const { accountKey } = await stack.newAccount(client.clientKey, { approvers });
      approvers.forEach((approver, i) => {
        const channel = i % 2 === 0 ? 'sms' : 'email';
        targets.push({ accountKey, deviceKey: randomUUID(), approver, channel, destination: channel === 'sms' ? approver.phone_number : approver.email });
      });
    }
  }, 60_000);

  afterAll(async () => {
    figures.write();
    await probe?.close();
    await stack?.stop();
  });

  it(`queues ${DISPATCHES} dispatches while no worker runs`, async () => {
    const answers = await mapLimit(targets, 20, (t) =>
      client.createDevice(t.accountKey, {
        device_key: t.deviceKey,
        session_id: randomUUID(),
        tfa_info: { approver_document_number: t.approver.document_number, contact_type: t.channel },
      }),
    );
    expect(answers.filter((a) => a.status !== 202).map((a) => a.text)).toEqual([]);
    const queries = await mapLimit(targets, 20, (t) => client.query(t.accountKey, t.deviceKey));
    queries.forEach((q, i) => (targets[i].dispatchId = q.body.token_dispatch.dispatch_id));
    expect(new Set(targets.map((t) => t.dispatchId)).size).toBe(DISPATCHES);
    expect(await probe.counts()).toMatchObject({ wait: DISPATCHES, active: 0, completed: 0, failed: 0 });
    figures.set('dispatches', DISPATCHES);
  }, 60_000);

  it(`a worker is SIGKILLed after ${KILL_AFTER} sends; a new one sends the rest: none lost, duplicates only from the kill window, same code`, async () => {
    const started = Date.now();
    const first = await stack.startWorker();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${count()} messages within 30 s`)), 30_000);
      const count = () => stack.twilio.messages.length + stack.ses.messages.length;
      const onMessage = () => {
        if (count() < KILL_AFTER || killedAt) return;
        // In the provider's callback: the kill lands while other sends are in flight.
        first.child.kill('SIGKILL');
        killedAt = Date.now();
        clearTimeout(timer);
        offSms();
        offMail();
        resolve();
      };
      const offSms = stack.twilio.onMessage(onMessage);
      const offMail = stack.ses.onMessage(onMessage);
    });
    await first.stop();
    expect(first.child.signalCode).toBe('SIGKILL');

    const deliveredBeforeKill = [...delivered.values()].filter((l) => l[0].at <= killedAt).length;
    const requestsBeforeKill = [...stack.twilio.requests, ...stack.ses.requests].filter((r) => r.receivedAt.getTime() <= killedAt).length;
    const counts = await probe.counts();
    figures.set('sent_before_kill', deliveredBeforeKill);
    figures.set('active_jobs_left_by_killed_worker', counts.active);
    expect(counts.active).toBeGreaterThan(0);
    // WORKER_CONCURRENCY is per send queue: SMS and e-mail each.
    expect(counts.active).toBeLessThanOrEqual(CONCURRENCY * DISPATCH_CHANNELS.length);

    const restartAt = Date.now();
    await stack.startWorker();
    // Event-driven: every job, the killed worker's included, ends completed.
    const outcomes = await Promise.all(targets.map((t) => probe.finished(t.dispatchId!, 60_000)));
    figures.set('recovery_ms', Date.now() - restartAt);
    figures.set('batch_ms', Date.now() - started);
    expect(outcomes.filter((o) => o !== 'completed')).toEqual([]);
    expect(await probe.counts()).toMatchObject({ completed: DISPATCHES, failed: 0, active: 0, wait: 0, delayed: 0 });

    // Every job is finished, so nothing more will be sent: count now.
    const lost = targets.filter((t) => !delivered.has(t.destination));
    const duplicated = targets.filter((t) => (delivered.get(t.destination)?.length ?? 0) > 1);
    figures.set('delivered', targets.length - lost.length);
    figures.set('lost', lost.length);
    figures.set('duplicated', duplicated.length);
    figures.set('provider_requests_before_kill', requestsBeforeKill);
    figures.set('in_flight_at_kill', requestsBeforeKill - deliveredBeforeKill);
    expect(lost.map((t) => t.destination)).toEqual([]);

    // A duplicate is a send that was in flight when the worker died: handed to
    // the provider before the kill, and again (same code) after the restart.
    const requestTimes = new Map<string, number[]>();
    for (const r of [...stack.twilio.requests, ...stack.ses.requests]) {
      const body = r.body as { To?: string; Destination?: { ToAddresses?: string[] } };
      const to = body.To ?? body.Destination?.ToAddresses?.[0];
      if (to) requestTimes.set(to, [...(requestTimes.get(to) ?? []), r.receivedAt.getTime()]);
    }
    for (const t of duplicated) {
      const list = delivered.get(t.destination)!;
      const asked = requestTimes.get(t.destination)!;
      expect({ destination: t.destination, copies: list.length, requests: asked.length }).toEqual({ destination: t.destination, copies: 2, requests: 2 });
      // The first request came from the killed worker (the new one starts after restartAt), the second from the new one.
      expect(asked[0]).toBeLessThan(restartAt);
      expect(asked[1]).toBeGreaterThanOrEqual(restartAt);
      expect(list[1].code).toBe(list[0].code);
    }
    // Sends that were not in flight at the kill went out exactly once.
    const notInFlight = targets.filter((t) => !duplicated.includes(t));
    expect(notInFlight.filter((t) => requestTimes.get(t.destination)!.length !== 1).map((t) => t.destination)).toEqual([]);
    expect(duplicated.length).toBeLessThanOrEqual(CONCURRENCY * DISPATCH_CHANNELS.length);
    figures.set(
      'duplicates_first_copy_ms_relative_to_kill',
      duplicated.map((t) => delivered.get(t.destination)![0].at - killedAt).sort((a, b) => a - b),
    );

    // Jobs the killed worker had sent and recorded, but not acknowledged: run
    // again, they find the send on record and do not repeat it.
    const completed = await probe.jobs(['completed']);
    figures.set('resumed_jobs_found_already_sent', completed.filter((j) => (j.returnvalue as { reason?: string } | null)?.reason === 'already_sent').length);

    // The store agrees: every dispatch is recorded as sent, once per device.
    const pipeline = stack.redis.pipeline();
    for (const t of targets) pipeline.hget(stack.keys.dispatch(t.dispatchId!), 'state');
    const states = (await pipeline.exec())!.map(([, v]) => v);
    expect(states.filter((s) => s !== 'sent')).toEqual([]);

    // And every approver's code registers the device.
    const validations = await mapLimit(targets, 20, (t) => client.validate(t.accountKey, t.deviceKey, delivered.get(t.destination)![0].code));
    expect(validations.filter((v) => v.status !== 201).map((v) => v.text)).toEqual([]);
    figures.set('validated', validations.length);
  }, 120_000);
});
