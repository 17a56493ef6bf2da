/**
 * With the default job lock and stalled-job check (no setting given here):
 * 1. a worker SIGKILLed with sends in flight leaves them to the other worker,
 *    which sends them within seconds (lock + stalled check), each with the
 *    code of the first attempt;
 * 2. a healthy send slower than half the lock is not taken over: BullMQ
 *    renews the lock every half lock, so it completes once, from one worker.
 * The figures (takeover time, duplicates) are printed; the takeover is
 * asserted against the bound the defaults promise (lock + stalled interval +
 * a send), not as a speed measurement.
 */
import { loadConfig } from '@lib/config';
import { Figures } from '../support/figures';
import { QueueProbe } from '../support/queue-probe';
import { TEST_REDIS_URL } from '../support/redis';
import { Stack, TOKEN_HASH_SECRET, codeIn } from '../support/stack';

const defaults = loadConfig({ NODE_ENV: 'test', TOKEN_HASH_SECRET }, 'worker').worker;

describe('a killed worker’s sends are taken over within seconds; a slow healthy send is not', () => {
  const figures = new Figures('reliability', __filename);
  let stack: Stack;
  let probe: QueueProbe;

  beforeAll(async () => {
    // Two workers; the provider timeout well above the slow send below.
    stack = await Stack.start({ label: 'takeover', startWorker: false, env: { PROVIDER_TIMEOUT_MS: '15000', WORKER_CONCURRENCY: '4' } });
    await stack.startWorker();
    await stack.startWorker();
    probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
    figures.set('lock_ms', defaults.lockDurationMs);
    figures.set('stalled_interval_ms', defaults.stalledIntervalMs);
  });

  afterAll(async () => {
    figures.write();
    await probe?.close();
    await stack?.stop();
  });

  it('SIGKILL with sends in flight: the other worker sends them, same code, within lock + stalled check', async () => {
    // Slow enough that both workers hold sends when one of them dies.
    stack.twilio.delay(1_500);
    const devices = [];
    for (let i = 0; i < 6; i += 1) devices.push(await stack.newDevice('sms'));
    const ids: string[] = [];
    for (const d of devices) ids.push((await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch.dispatch_id);
    // Both workers are mid-send (the fake has requests it has not answered).
    for (let waited = 0; stack.twilio.requests.length < devices.length && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    const [victim, survivor] = stack.workers;
    const activeAtKill = (await probe.jobs(['active'])).length;
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    await victim.exit(5_000);
    stack.twilio.delay(0);

    const outcomes = await Promise.all(ids.map((id) => probe.finished(id, 60_000)));
    const takeoverMs = Date.now() - killedAt;
    expect(outcomes).toEqual(ids.map(() => 'completed'));
    // Every approver has their code; a copy carries the same code.
    const duplicated = devices.filter(
      (d) => new Set(stack.twilio.messages.filter((m) => m.to === d.approver.phone_number).map((m) => codeIn(m.body))).size > 1,
    );
    expect(duplicated).toEqual([]);
    for (const d of devices) expect(stack.twilio.messages.some((m) => m.to === d.approver.phone_number)).toBe(true);
    expect(survivor.running).toBe(true);
    figures.set('active_jobs_at_kill', activeAtKill);
    figures.set('takeover_ms', takeoverMs);
    figures.set('messages_for_6_devices', stack.twilio.messages.length);
    // The defaults' promise: an expired lock is seen at the next stalled check.
    expect(takeoverMs).toBeLessThan(defaults.lockDurationMs + defaults.stalledIntervalMs + 2_000);
  }, 90_000);

  it('a send slower than half the lock completes once, from one worker', async () => {
    if (stack.workers.filter((w) => w.running).length < 2) await stack.startWorker();
    const slowMs = Math.round(defaults.lockDurationMs * 0.6);
    stack.twilio.delay(slowMs);
    const before = stack.twilio.requests.length;
    const d = await stack.newDevice('sms');
    const id = (await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch.dispatch_id;
    expect(await probe.finished(id, slowMs + 20_000)).toBe('completed');
    stack.twilio.delay(0);
    // Past another stalled check: nobody took it over.
    await new Promise((r) => setTimeout(r, defaults.stalledIntervalMs));
    expect(stack.twilio.requests.length - before).toBe(1);
    expect((await probe.job(id))?.attemptsMade).toBe(1);
    figures.set('slow_send_ms', slowMs);
    figures.set('slow_send_provider_requests', stack.twilio.requests.length - before);
  }, 60_000);
});
