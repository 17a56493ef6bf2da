/**
 * Reference for case 1b, "the floor": a minimal Fastify server whose resend
 * route only calls BullMQ queue.add (the cost of accepting a request and
 * queueing it durably) and answers 202. No authentication, no checks, no
 * logging: nothing the service must do beyond accepting and queueing. Same
 * Redis connection settings, queue name and job options as the api.
 */
import Fastify from 'fastify';
import { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { createRedis } from '@lib/store';
import { DISPATCH_QUEUES, DispatchJobName, dispatchJobOptions } from '@lib/dispatch-contract';
import { DEFAULT_DATA_LIFETIMES } from '@lib/domain';

const port = Number(process.env.PORT);
const connection = createRedis('command', { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', commandTimeoutMs: 500 }, 'bench-fastify-floor');
const queue = new Queue(DISPATCH_QUEUES.sms, { connection, prefix: process.env.QUEUE_PREFIX ?? 'bench-floor:bull' });
queue.on('error', () => undefined);
const retry = { attempts: 6, backoffMs: 1000 };

const app = Fastify({ logger: false });
app.patch<{ Params: { account_key: string; device_key: string }; Body: { contact_type?: 'sms' | 'email' } }>(
  '/account/:account_key/device/:device_key/resend_token',
  async (req, reply) => {
    const dispatchId = randomUUID();
    await queue.add(
      DispatchJobName.sendToken,
      { dispatchId, accountKey: req.params.account_key, deviceKey: req.params.device_key, channel: req.body?.contact_type ?? 'sms', requestId: req.id },
      { ...dispatchJobOptions(retry, DEFAULT_DATA_LIFETIMES), jobId: dispatchId },
    );
    return reply.code(202).send({ device_key: req.params.device_key, device_status: 'pending_2fa_approval', created_at: new Date().toISOString() });
  },
);

app.listen({ port, host: '127.0.0.1' }).then(() => console.log(`listening on ${port}`));
process.on(
  'SIGTERM',
  () =>
    void app
      .close()
      .then(() => queue.close())
      .then(() => process.exit(0)),
);
