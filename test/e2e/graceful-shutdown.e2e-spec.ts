/**
 * SIGTERM to a worker in the middle of a batch: it takes no new job, finishes
 * the sends in flight and exits; another worker sends the rest. Every token
 * is sent exactly once.
 */
import { QueueProbe } from '../support/queue-probe';
import { TEST_REDIS_URL } from '../support/redis';
import { Stack } from '../support/stack';

describe('worker graceful shutdown', () => {
  let stack: Stack;
  let queues: QueueProbe;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'shutdown', env: { WORKER_CONCURRENCY: '4', WORKER_SHUTDOWN_GRACE_MS: '20000' } });
    queues = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
    // Slow provider, so sends are in flight when the signal arrives.
    stack.twilio.delay(400);
  });

  afterAll(async () => {
    await queues?.close();
    await stack?.stop();
  });

  it('finishes the jobs in flight on SIGTERM and leaves the rest to another worker, sending each once', async () => {
    const first = stack.worker!;
    const devices = [];
    for (let i = 0; i < 16; i += 1) devices.push(await stack.newDevice('sms'));

    // Signal while sends are in flight: requests received but not yet answered.
    await stack.twilio.waitForMessages(1);
    const inFlight = stack.twilio.requests.length - stack.twilio.messages.length;
    expect(inFlight).toBeGreaterThan(0);
    const handedBefore = first.output.filter((l) => l.includes('handed to')).length;
    first.child.kill('SIGTERM');
    await first.waitFor(/stopping on SIGTERM/);

    const second = await stack.startWorker();
    await first.stop();
    // Nest re-raises the signal after closing: exit by SIGTERM, not by the harness's SIGKILL.
    expect(first.child.signalCode ?? first.child.exitCode).toBe('SIGTERM');
    expect(first.output.some((l) => l.includes('stopped: no job in flight'))).toBe(true);
    // It completed what it had started after the signal came.
    expect(first.output.filter((l) => l.includes('handed to')).length).toBeGreaterThan(handedBefore);

    await stack.twilio.waitForMessages(devices.length, 20_000);
    const perPhone = new Map<string, number>();
    for (const m of stack.twilio.messages) perPhone.set(m.to, (perPhone.get(m.to) ?? 0) + 1);
    expect(perPhone.size).toBe(devices.length);
    expect([...perPhone.values()].every((n) => n === 1)).toBe(true);
    expect(stack.twilio.requests).toHaveLength(devices.length);

    for (const d of devices) {
      // A job ends once its send is recorded, just after the provider's answer.
      const { dispatch_id: dispatchId } = (await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch;
      expect(await queues.finished(dispatchId, 10_000)).toBe('completed');
      const q = await d.client.query(d.accountKey, d.deviceKey);
      expect(q.body.token_dispatch).toMatchObject({ state: 'sent', attempts: 1 });
    }
    // Both workers took part.
    expect(second.output.some((l) => l.includes('handed to'))).toBe(true);
  });
});

describe('worker shutdown past its grace period', () => {
  let stack: Stack;
  let queues: QueueProbe;
  const GRACE_MS = 500;
  const PROVIDER_DELAY_MS = 6_000;

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'shutdown-grace',
      // The provider answers after 6 s, within its timeout: only the grace can cut the send short.
      env: { WORKER_SHUTDOWN_GRACE_MS: String(GRACE_MS), WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000', PROVIDER_TIMEOUT_MS: '10000' },
    });
    queues = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
  });

  afterAll(async () => {
    await queues?.close();
    await stack?.stop();
  });

  it('exits once the grace is over, without waiting for the send in flight, and another worker sends the same code', async () => {
    stack.twilio.delay(PROVIDER_DELAY_MS);
    const first = stack.worker!;
    const device = await stack.newDevice('sms');
    // The send is in flight: Twilio has the request and has not answered.
    for (let waited = 0; stack.twilio.requests.length === 0 && waited < 5_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    expect(stack.twilio.requests).toHaveLength(1);
    const signalledAt = Date.now();
    first.child.kill('SIGTERM');
    await first.waitFor(/grace period over/, 5_000);
    // It exits by itself (a second signal would kill it whatever it was doing).
    await first.exit(PROVIDER_DELAY_MS * 2);
    const exitedAfterMs = Date.now() - signalledAt;
    expect(first.child.signalCode ?? first.child.exitCode).toBe('SIGTERM');
    // Well before the provider would have answered.
    expect(exitedAfterMs).toBeLessThan(PROVIDER_DELAY_MS - 2_000);

    stack.twilio.delay(0);
    const { dispatch_id: dispatchId } = (await device.client.query(device.accountKey, device.deviceKey)).body.token_dispatch;
    await stack.startWorker();
    // The job ends once the new worker's send is answered and recorded. The
    // fake still answers the first worker's abandoned request, whenever its
    // delay is over: that copy alone says nothing about the new worker.
    expect(await queues.finished(dispatchId, 15_000)).toBe('completed');
    const codes = new Set(stack.twilio.messages.filter((m) => m.to === device.approver.phone_number).map((m) => m.body));
    expect(codes.size).toBe(1); // however many copies arrive, one code
    const q = await device.client.query(device.accountKey, device.deviceKey);
    expect(q.body.token_dispatch).toMatchObject({ dispatch_id: dispatchId, state: 'sent' });
  });
});
