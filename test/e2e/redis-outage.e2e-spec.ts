/**
 * A Redis outage end to end, on a Redis of this file's own (a child
 * `redis-server` on a free port, append-only file in a temporary directory,
 * like docker-compose's Redis), so stopping it disturbs no other test.
 *
 * While Redis is down the API must answer at once, in the contract's
 * envelope: OBD000097 where a token send is requested (create, resend), 503
 * DTS000010 elsewhere; never a 500, never a hanging request. When Redis comes
 * back on the same port, the same api and worker processes (not restarted)
 * must pick up again: a resend is accepted and its message delivered.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Queue, QueueEvents } from 'bullmq';
import { DISPATCH_QUEUES } from '@lib/dispatch-contract';
import { DedicatedRedis } from '../support/dedicated-redis';
import { Stack, codeIn } from '../support/stack';
import type { HttpResult } from '../support/api-client';
import { errorLines } from '../support/logs';

/** The bound for an answer while Redis is unreachable. */
const OUTAGE_ANSWER_BOUND_MS = 1_000;

/** For states with no event to wait on; bounded. */
async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function timed<T>(call: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await call();
  return { result, ms: performance.now() - start };
}

const envelope = (code: string, title: string, description: string, translation: string) => ({
  title,
  description,
  translation,
  code,
  extra_fields: expect.any(Object),
});
const OBD000097 = envelope(
  'OBD000097',
  'Error occurred while sending token',
  'An unexpected error occurred while sending token',
  'Um erro inexperado ocorreu ao tentar enviar token',
);
const DTS000010 = envelope(
  'DTS000010',
  'Service Unavailable',
  'A service dependency is unavailable; try again later',
  'Uma dependência do serviço está indisponível; tente novamente mais tarde',
);

describe('Redis outage', () => {
  let redis: DedicatedRedis;
  let stack: Stack;
  let device: Awaited<ReturnType<Stack['newDevice']>>;
  const latencies: Record<string, number[]> = {};

  const record = (name: string, ms: number) => (latencies[name] ??= []).push(Math.round(ms));

  const smsTo = (phone: string) => stack.twilio.messages.filter((m) => m.to === phone);

  beforeAll(async () => {
    redis = await DedicatedRedis.create();
    await redis.start();
    stack = await Stack.start({
      label: 'outage',
      redisUrl: redis.url,
      env: {
        // The resend after the outage must be a new send, not joined to the creation's.
        RESEND_COALESCE_SECONDS: '0',
        SEND_LIMIT_PER_DEVICE: '50',
        SEND_LIMIT_PER_DESTINATION: '50',
      },
    });
    device = await stack.newDevice('sms');
    await stack.twilio.waitForMessages(1);
  }, 60_000);

  afterAll(async () => {
    // Whatever happened, the stack's clean-up needs Redis up.
    await redis?.start().catch(() => undefined);
    await stack?.stop();
    await redis?.destroy();
    // Figures for the report; not assertions.
    process.stdout.write(`redis-outage latencies (ms): ${JSON.stringify(latencies)}\n`);
  }, 60_000);

  it('with Redis down: create and resend → 400 OBD000097, query/validate/disable → 503 DTS000010, each in under 1 s, none a 500', async () => {
    expect(smsTo(device.approver.phone_number)).toHaveLength(1);
    await redis.stop();

    const { client, accountKey, deviceKey, approver } = device;
    const newDeviceBody = () => ({
      device_key: randomUUID(),
      session_id: randomUUID(),
      tfa_info: { approver_document_number: approver.document_number, contact_type: 'sms' },
    });

    // Right after the connection drops, then again while the clients are reconnecting (backoff up to 2 s).
    for (let round = 0; round < 3; round += 1) {
      const calls: [string, () => Promise<HttpResult>, number, object][] = [
        ['resend', () => client.resend(accountKey, deviceKey), 400, OBD000097],
        ['resend email', () => client.resend(accountKey, deviceKey, { contact_type: 'email' }), 400, OBD000097],
        ['create', () => client.createDevice(accountKey, newDeviceBody()), 400, OBD000097],
        ['query', () => client.query(accountKey, deviceKey), 503, DTS000010],
        ['validate', () => client.validate(accountKey, deviceKey, '123456'), 503, DTS000010],
        ['disable', () => client.disable(accountKey, deviceKey), 503, DTS000010],
      ];
      for (const [name, call, status, body] of calls) {
        const { result, ms } = await timed(call);
        record(name, ms);
        expect({ name, status: result.status, body: result.body }).toEqual({ name, status, body });
        expect(result.body.extra_fields).toEqual({ reason: 'redis_unavailable' });
        expect(ms).toBeLessThan(OUTAGE_ANSWER_BOUND_MS);
      }
      // Concurrent requests too: none waits for another.
      const burst = await timed(() => Promise.all(Array.from({ length: 10 }, () => client.resend(accountKey, deviceKey))));
      record('10 concurrent resends', burst.ms);
      expect(burst.result.map((r) => r.body.code)).toEqual(Array(10).fill('OBD000097'));
      expect(burst.ms).toBeLessThan(OUTAGE_ANSWER_BOUND_MS);
      await new Promise((resolve) => setTimeout(resolve, 700));
    }

    expect(stack.api.running).toBe(true);
    expect(stack.worker!.running).toBe(true);
    // Expected outages are warnings; a 500 would have been logged at error level by the envelope filter.
    expect(errorLines(stack.api.output)).toEqual([]);
    expect(stack.api.output.some((line) => /redis unavailable/.test(line))).toBe(true);
    expect(smsTo(approver.phone_number)).toHaveLength(1);
  }, 30_000);

  it('Redis back on the same port and data: without restarting api or worker, a resend is accepted and delivered', async () => {
    const { client, accountKey, deviceKey, approver } = device;
    const startingAt = performance.now();
    await redis.start();
    const restartedAt = performance.now();
    record('redis-server restart', restartedAt - startingAt);

    // Reconnection has no event visible from outside: poll, briefly and boundedly.
    let resend: HttpResult | undefined;
    const statuses: number[] = [];
    for (let i = 0; i < 60 && resend?.status !== 202; i += 1) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 250));
      resend = await client.resend(accountKey, deviceKey);
      statuses.push(resend.status);
    }
    record('api recovery once redis ready', performance.now() - restartedAt);
    expect(resend!.status).toBe(202);
    expect(resend!.body).toEqual({ device_key: deviceKey, device_status: 'pending_2fa_approval', created_at: device.created.created_at });
    // Until it recovered, the api kept answering OBD000097, never a 500.
    expect(statuses.filter((s) => s !== 202 && s !== 400)).toEqual([]);

    await stack.twilio.waitForMessages(2, 20_000);
    record('delivery once redis ready', performance.now() - restartedAt);
    const messages = smsTo(approver.phone_number);
    expect(messages).toHaveLength(2);

    // The device survived the restart and the delivered code is the armed one.
    const ok = await client.validate(accountKey, deviceKey, codeIn(messages[1].body));
    expect(ok.status).toBe(201);
    const query = await client.query(accountKey, deviceKey);
    expect(query.status).toBe(200);
    expect(query.body.device_status).toBe('created');
    expect(query.body.token_dispatch).toMatchObject({ state: 'sent', channel: 'sms', attempts: 1, provider_message_id: messages[1].sid });

    // A brand-new device works end to end as well.
    const fresh = await stack.newDevice('email');
    const mails = await stack.ses.waitForMessages(1, 10_000);
    expect(mails.filter((m) => m.to.includes(fresh.approver.email))).toHaveLength(1);

    expect(stack.api.running).toBe(true);
    expect(stack.worker!.running).toBe(true);
    expect(errorLines(stack.api.output)).toEqual([]);
  }, 60_000);

  it('Redis frozen (connections open, no answers): sends still answered OBD000097 in under 1 s, then all resumes', async () => {
    const d = await stack.newDevice('sms');
    const phone = d.approver.phone_number;
    await until(() => smsTo(phone).length === 1, 10_000, 'the creation SMS');

    redis.freeze(true);
    try {
      const calls: [string, () => Promise<HttpResult>, number, object][] = [
        ['frozen resend', () => d.client.resend(d.accountKey, d.deviceKey), 400, OBD000097],
        [
          'frozen create',
          () =>
            d.client.createDevice(d.accountKey, {
              device_key: randomUUID(),
              session_id: randomUUID(),
              tfa_info: { approver_document_number: d.approver.document_number, contact_type: 'sms' },
            }),
          400,
          OBD000097,
        ],
        ['frozen query', () => d.client.query(d.accountKey, d.deviceKey), 503, DTS000010],
      ];
      for (const [name, call, status, body] of calls) {
        const { result, ms } = await timed(call);
        record(name, ms);
        expect({ name, status: result.status, body: result.body }).toEqual({ name, status, body });
        expect(ms).toBeLessThan(OUTAGE_ANSWER_BOUND_MS);
      }
    } finally {
      redis.freeze(false);
    }

    const resend = await d.client.resend(d.accountKey, d.deviceKey);
    expect(resend.status).toBe(202);
    await until(() => smsTo(phone).length === 2, 10_000, 'the resend SMS');
    expect(errorLines(stack.api.output)).toEqual([]);
  }, 30_000);

  it('Redis going down while the provider is accepting a message: the message is not sent twice', async () => {
    const d = await stack.newDevice('sms');
    const phone = d.approver.phone_number;
    await until(() => smsTo(phone).length === 1, 10_000, 'the creation SMS');

    // The provider takes a while to answer; Redis goes away in the meantime.
    stack.twilio.delay(800);
    const resend = await d.client.resend(d.accountKey, d.deviceKey);
    expect(resend.status).toBe(202);
    const dispatchId: string = (await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch.dispatch_id;
    const requestsTo = () => stack.twilio.requests.filter((r) => (r.body as Record<string, unknown>).To === phone);
    await until(() => requestsTo().length === 2, 10_000, 'the resend to reach the provider');
    await redis.stop();
    await until(() => smsTo(phone).length === 2, 10_000, 'the provider to accept the resend');
    stack.twilio.delay(0);
    await redis.start();

    const opts = { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix: stack.keys.queuePrefix };
    const queue = new Queue(DISPATCH_QUEUES.sms, opts);
    const events = new QueueEvents(DISPATCH_QUEUES.sms, opts);
    try {
      const job = (await queue.getJob(dispatchId))!;
      expect(job).toBeDefined();
      await job.waitUntilFinished(events, 20_000);
      const done = (await queue.getJob(dispatchId))!;
      expect(await done.getState()).toBe('completed');
      expect(done.attemptsMade).toBe(1);
    } finally {
      await events.close();
      await queue.close();
    }

    // One request, one message for the resend; the send is on record.
    expect(requestsTo()).toHaveLength(2);
    const messages = smsTo(phone);
    expect(messages).toHaveLength(2);
    const query = await d.client.query(d.accountKey, d.deviceKey);
    expect(query.body.token_dispatch).toMatchObject({ dispatch_id: dispatchId, state: 'sent', attempts: 1, provider_message_id: messages[1].sid });
    // Log lines are written in blocks (at least every 100 ms): wait for it rather than expect it already out.
    await stack.worker!.waitFor(new RegExp(`\\[dispatch ${dispatchId}\\] sms to .*handed to twilio \\(attempt 1, message ${messages[1].sid}\\)`), 5_000);
    const ok = await d.client.validate(d.accountKey, d.deviceKey, codeIn(messages[1].body));
    expect(ok.status).toBe(201);
  }, 60_000);
});
