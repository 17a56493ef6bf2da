/**
 * Reference for cases 1a and 1b, "the verify-and-enqueue floor": Fastify, the
 * service's request-signature checks, and BullMQ queue.add; nothing else.
 * The client keys are held in memory (BENCH_CLIENTS, JSON given by the bench
 * at start: the same keys it registered with the api), so the only Redis
 * traffic is the job's add. The signature is verified by node:crypto's
 * asynchronous verify (libuv's thread pool, so every core verifies), raw r‖s
 * (`ieee-p1363`) as JWS ES256/ES512 write it; then payload_md5, method, uri
 * and the timestamp window, as the api checks them. No replay guard, no
 * account or device read, no coalescing, no caps, no logging.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { algorithmForKey, parseSignatureTimestamp, payloadMd5Matches, type RequestSigningAlg } from '@lib/request-signing';
import { verifyCompactJwt } from '../lib/compact-jws';
import { fastifyReference } from './fastify-common';

const maxSkewMs = Number(process.env.AUTH_MAX_CLOCK_SKEW_SECONDS ?? 300) * 1000;
const clients = new Map<string, { key: KeyObject; alg: RequestSigningAlg }>(
  (JSON.parse(process.env.BENCH_CLIENTS ?? '[]') as { clientKey: string; publicKeyPem: string }[]).map((c) => {
    const key = createPublicKey(c.publicKeyPem);
    return [c.clientKey.toLowerCase(), { key, alg: algorithmForKey(key) }];
  }),
);
const { app, queueAndAccept, serve } = fastifyReference('bench-verify-floor', 'bench-vfloor:bull');

const unauthenticated = (detail: string) => ({ title: 'QI Unauthenticated', description: detail, code: 'GDF000014', extra_fields: { reason: detail } });

// The body's exact bytes are what payload_md5 covers.
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

app.patch<{ Params: { account_key: string; device_key: string }; Body: Buffer | undefined }>(
  '/account/:account_key/device/:device_key/resend_token',
  async (req, reply) => {
    const client = clients.get(String(req.headers['api-client-key'] ?? '').toLowerCase());
    const authorization = req.headers.authorization;
    if (!client || !authorization) return reply.code(401).send(unauthenticated('unknown client or no AUTHORIZATION'));
    const jwt = authorization.startsWith('Bearer ') ? authorization.slice(7) : authorization;
    const nowMs = Date.now();
    let claims: Record<string, unknown>;
    try {
      claims = await verifyCompactJwt(jwt, client.key, client.alg, nowMs);
    } catch {
      return reply.code(401).send(unauthenticated('invalid signature'));
    }
    const body = req.body;
    if (!payloadMd5Matches(claims.payload_md5, body)) return reply.code(401).send(unauthenticated('payload_md5 does not match the body'));
    if (typeof claims.method !== 'string' || claims.method.toUpperCase() !== req.method) return reply.code(401).send(unauthenticated('method'));
    if (claims.uri !== req.url.split('?', 1)[0]) return reply.code(401).send(unauthenticated('uri'));
    const timestamp = parseSignatureTimestamp(claims.timestamp);
    if (timestamp === undefined || Math.abs(nowMs - timestamp) > maxSkewMs) return reply.code(401).send(unauthenticated('timestamp'));

    let channel: 'sms' | 'email' = 'sms';
    if (body && body.length > 0) {
      try {
        channel = (JSON.parse(body.toString('utf8')) as { contact_type?: 'sms' | 'email' }).contact_type ?? 'sms';
      } catch {
        return reply.code(400).send({ title: 'Bad Request', description: 'Schema Error', code: 'QIT000001', extra_fields: {} });
      }
    }
    return queueAndAccept(reply, { accountKey: req.params.account_key, deviceKey: req.params.device_key, channel, requestId: req.id, at: new Date(nowMs) });
  },
);

serve(`${clients.size} clients`);
