/**
 * SIGTERM to a worker in the middle of a batch: it takes no new job, finishes
 * the sends in flight and exits; another worker sends the rest. Every token
 * is sent exactly once.
 */
import { Stack } from '../support/stack';

describe('worker graceful shutdown', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'shutdown', env: { WORKER_CONCURRENCY: '4', WORKER_SHUTDOWN_GRACE_MS: '20000' } });
    // Slow provider, so sends are in flight when the signal arrives.
    stack.twilio.delay(400);
  });

  afterAll(async () => {
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
      const q = await d.client.query(d.accountKey, d.deviceKey);
      expect(q.body.token_dispatch).toMatchObject({ state: 'sent', attempts: 1 });
    }
    // Both workers took part.
    expect(second.output.some((l) => l.includes('handed to'))).toBe(true);
  });
});
