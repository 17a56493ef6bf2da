/**
 * The crash window between the api's two steps (record the dispatch, then add
 * its job) is closed: a dispatch recorded whose job was never added is sent
 * anyway, exactly once, within the repair time (DISPATCH_REPAIR_INTERVAL_MS,
 * twice over at most, plus the send). The api's first step is taken here
 * exactly as the api takes it (the store's request script, through
 * DeviceRepository) and the second is skipped: what a crash between them
 * leaves. And a client's retry of the request inside the coalescing window
 * adds a lost job back at once.
 */
import { randomUUID } from 'node:crypto';
import { DEFAULT_TOKEN_POLICY, DEFAULT_DATA_LIFETIMES, DEFAULT_GUESS_LIMIT_POLICY, DEFAULT_SEND_LIMIT_POLICY, TokenCrypto, maskDestination } from '@lib/domain';
import { DeviceRepository } from '@lib/store';
import { Figures } from '../support/figures';
import { QueueProbe } from '../support/queue-probe';
import { TEST_REDIS_URL } from '../support/redis';
import { Stack, TOKEN_HASH_SECRET, codeIn, newApprover } from '../support/stack';

const REPAIR_INTERVAL_MS = 1_000;

describe('a dispatch recorded but never queued is sent anyway, once', () => {
  const figures = new Figures('e2e', __filename);
  let stack: Stack;
  let probe: QueueProbe;
  let devices: DeviceRepository;
  const crypto = new TokenCrypto(TOKEN_HASH_SECRET, DEFAULT_TOKEN_POLICY);

  beforeAll(async () => {
    stack = await Stack.start({ label: 'repair', env: { DISPATCH_REPAIR_INTERVAL_MS: String(REPAIR_INTERVAL_MS), RESEND_COALESCE_SECONDS: '30' } });
    probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
    devices = new DeviceRepository(stack.redis, stack.keys);
  });

  afterAll(async () => {
    figures.write();
    await probe?.close();
    await stack?.stop();
  });

  it('the api recorded the dispatch and died before adding its job: the worker queues it and the code is delivered once', async () => {
    const client = await stack.newClient();
    const approver = newApprover();
    const { accountKey } = await stack.newAccount(client.clientKey, { approvers: [approver] });
    const deviceKey = randomUUID();
    const dispatchId = randomUUID();
    const startedAt = Date.now();
    // The api's first step, as it takes it; the second (adding the job) never happens.
    const recorded = await devices.requestDispatch(
      {
        accountKey,
        deviceKey,
        dispatchId,
        requestId: `crash-${randomUUID()}`,
        channel: 'sms',
        codeNonce: TokenCrypto.newCodeNonce(),
        destinationDigest: crypto.destinationDigest('sms', approver.phone_number),
        maskedDestination: maskDestination('sms', approver.phone_number),
        nowMs: startedAt,
        maxFailedAttempts: DEFAULT_TOKEN_POLICY.maxFailedAttempts,
        coalesceMs: 30_000,
        perDeviceCap: 5,
        perDestinationCap: 10,
        windowMs: DEFAULT_SEND_LIMIT_POLICY.windowSeconds * 1000,
        dispatchTtlSeconds: DEFAULT_DATA_LIFETIMES.dispatchSeconds,
        pendingDeviceTtlSeconds: DEFAULT_DATA_LIFETIMES.pendingDeviceSeconds,
      },
      {
        sessionId: randomUUID(),
        contactType: 'sms',
        approverDocument: approver.document_number,
        creationCap: 20,
        creationWindowMs: DEFAULT_GUESS_LIMIT_POLICY.windowSeconds * 1000,
      },
    );
    expect(recorded.outcome).toBe('queued');
    expect(await probe.job(dispatchId)).toBeUndefined();

    const [sms] = await stack.twilio.waitForMessages(stack.twilio.messages.length + 1, 10_000).then((all) => all.filter((m) => m.to === approver.phone_number));
    const repairedMs = Date.now() - startedAt;
    expect(sms).toBeDefined();
    expect(repairedMs).toBeLessThan(10_000);
    expect(await probe.finished(dispatchId)).toBe('completed');
    await stack.worker!.waitFor(new RegExp(`\\[dispatch ${dispatchId}\\] its job was missing: queued again`));

    // Three more repair intervals: nothing is sent a second time.
    await new Promise((resolve) => setTimeout(resolve, 3 * REPAIR_INTERVAL_MS));
    expect(stack.twilio.messages.filter((m) => m.to === approver.phone_number)).toHaveLength(1);
    expect((await client.query(accountKey, deviceKey)).body.token_dispatch).toMatchObject({ dispatch_id: dispatchId, state: 'sent' });
    expect(await stack.redis.zscore(stack.keys.pendingDispatches, dispatchId)).toBeNull();
    // And the code it got works.
    expect((await client.validate(accountKey, deviceKey, codeIn(sms.body))).status).toBe(201);
    figures.set('recorded_never_queued', { delivered: 1, duplicates: 0, ms_until_delivered: repairedMs, repair_interval_ms: REPAIR_INTERVAL_MS });
  });

  it("a lost job is added back by the client's retry inside the coalescing window, with the same id, once", async () => {
    await Promise.all(stack.workers.map((w) => w.stop()));
    const { client, accountKey, approver, deviceKey } = await stack.newDevice('sms');
    const dispatchId: string = (await client.query(accountKey, deviceKey)).body.token_dispatch.dispatch_id;
    await (await probe.job(dispatchId))!.remove(); // the job is lost
    expect(await probe.job(dispatchId)).toBeUndefined();
    expect((await client.resend(accountKey, deviceKey)).status).toBe(202); // coalesced: the same dispatch
    expect((await probe.job(dispatchId))?.data).toMatchObject({ dispatchId });
    await stack.startWorker();
    expect(await probe.finished(dispatchId)).toBe('completed');
    await new Promise((resolve) => setTimeout(resolve, 2 * REPAIR_INTERVAL_MS));
    expect(stack.twilio.messages.filter((m) => m.to === approver.phone_number)).toHaveLength(1);
  });
});
