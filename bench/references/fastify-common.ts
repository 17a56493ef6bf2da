/**
 * What the two Fastify references share: a queue with the api's Redis
 * connection settings, queue name and job options; the resend's send job and
 * the 202 the api answers; and their start and stop (listen on PORT, close on
 * SIGTERM).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { createRedis } from '@lib/store';
import { DISPATCH_QUEUES, DispatchJobName, dispatchJobOptions } from '@lib/dispatch-contract';
import { DEFAULT_DATA_LIFETIMES } from '@lib/domain';

const RETRY = { attempts: 6, backoffMs: 1000 };

export interface FastifyReference {
  app: FastifyInstance;
  /** Adds the resend's send job (job id = a new dispatch id) and answers 202 with the api's body. */
  queueAndAccept(
    reply: { code(status: number): { send(body: unknown): unknown } },
    target: { accountKey: string; deviceKey: string; channel: 'sms' | 'email'; requestId: string; at: Date },
  ): Promise<unknown>;
  /** Listens on PORT; closes the server and the queue on SIGTERM. */
  serve(note?: string): void;
}

export function fastifyReference(connectionName: string, defaultQueuePrefix: string): FastifyReference {
  const port = Number(process.env.PORT);
  const connection = createRedis('command', { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', commandTimeoutMs: 500 }, connectionName);
  const queue = new Queue(DISPATCH_QUEUES.sms, { connection, prefix: process.env.QUEUE_PREFIX ?? defaultQueuePrefix });
  queue.on('error', () => undefined);
  const app = Fastify({ logger: false });
  return {
    app,
    async queueAndAccept(reply, t) {
      const dispatchId = randomUUID();
      await queue.add(
        DispatchJobName.sendToken,
        { dispatchId, accountKey: t.accountKey, deviceKey: t.deviceKey, channel: t.channel, requestId: t.requestId },
        { ...dispatchJobOptions(RETRY, DEFAULT_DATA_LIFETIMES), jobId: dispatchId },
      );
      return reply.code(202).send({ device_key: t.deviceKey, device_status: 'pending_2fa_approval', created_at: t.at.toISOString() });
    },
    serve(note) {
      void app.listen({ port, host: '127.0.0.1' }).then(() => console.log(`listening on ${port}${note ? ` (${note})` : ''}`));
      process.on(
        'SIGTERM',
        () =>
          void app
            .close()
            .then(() => queue.close())
            .then(() => process.exit(0)),
      );
    },
  };
}
