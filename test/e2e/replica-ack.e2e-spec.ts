/**
 * "Acknowledged means replicated, when asked": with REDIS_MIN_REPLICAS_ACK=1
 * the api answers 202 only once the request's writes reached a replica. On a
 * master and one replica of this file's own: a send request is 202 while the
 * replica follows; with the replica frozen (SIGSTOP: connected, silent) the
 * same request is OBD000097 within the ack timeout; once it is back, the
 * client's retry (which joins the recorded send) is 202 and the code arrives.
 */
import { DedicatedRedis } from '../support/dedicated-redis';
import { expectError } from '../support/e2e-checks';
import { Figures } from '../support/figures';
import { Stack } from '../support/stack';

const ACK_TIMEOUT_MS = 200;

describe('REDIS_MIN_REPLICAS_ACK: a 202 waits for a replica', () => {
  const figures = new Figures('e2e', __filename);
  let master: DedicatedRedis;
  let replica: DedicatedRedis;
  let stack: Stack;

  beforeAll(async () => {
    master = await DedicatedRedis.create();
    await master.start();
    replica = await DedicatedRedis.create({ replicaOf: master.port });
    await replica.start();
    stack = await Stack.start({
      label: 'replica-ack',
      redisUrl: master.url,
      env: { REDIS_MIN_REPLICAS_ACK: '1', REDIS_REPLICAS_ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS), RESEND_COALESCE_SECONDS: '30' },
    });
  });

  afterAll(async () => {
    figures.write();
    await stack?.stop();
    await replica?.destroy();
    await master?.destroy();
  });

  it('202 with the replica following; OBD000097 with it frozen; 202 again for the retry once it is back, and the code arrives', async () => {
    const d = await stack.newDevice('sms');
    expect(d.created).toMatchObject({ device_status: 'pending_2fa_approval' });
    await stack.twilio.waitForMessages(1, 10_000);

    replica.freeze(true);
    const started = Date.now();
    const refused = await d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'email' });
    const refusedMs = Date.now() - started;
    expectError(refused, 'OBD000097', { reason: 'replication_timeout' });
    expect(refusedMs).toBeGreaterThanOrEqual(ACK_TIMEOUT_MS);

    replica.freeze(false);
    const retried = await d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'email' });
    expect(retried.status).toBe(202);
    const [mail] = await stack.ses.waitForMessages(1, 10_000);
    expect(mail.to).toContain(d.approver.email);
    figures.set('refused_while_frozen_ms', refusedMs);
    figures.set('ack_timeout_ms', ACK_TIMEOUT_MS);
  });
});
