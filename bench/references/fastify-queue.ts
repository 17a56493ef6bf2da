/**
 * Reference for case 1b, "the floor": a minimal Fastify server whose resend
 * route only calls BullMQ queue.add (the cost of accepting a request and
 * queueing it durably) and answers 202. No authentication, no checks, no
 * logging: nothing the service must do beyond accepting and queueing. Same
 * Redis connection settings, queue name and job options as the api.
 */
import { fastifyReference } from './fastify-common';

const { app, queueAndAccept, serve } = fastifyReference('bench-fastify-floor', 'bench-floor:bull');
app.patch<{ Params: { account_key: string; device_key: string }; Body: { contact_type?: 'sms' | 'email' } }>(
  '/account/:account_key/device/:device_key/resend_token',
  async (req, reply) =>
    queueAndAccept(reply, {
      accountKey: req.params.account_key,
      deviceKey: req.params.device_key,
      channel: req.body?.contact_type ?? 'sms',
      requestId: req.id,
      at: new Date(),
    }),
);

serve();
