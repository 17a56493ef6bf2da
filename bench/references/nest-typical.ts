/**
 * Reference for cases 1a and 1b, "the service a competent team builds
 * first": NestJS on its default Express adapter, @nestjs/bullmq for the
 * queue, jose for the JWT, ioredis for the store, each step the obvious way.
 *
 * - An auth guard reads the client's public key from Redis (`typ:client:{id}`,
 *   a hash with `public_key` and `alg`), imports it with jose's importSPKI
 *   (cached by PEM), verifies the JWT with jwtVerify, then checks
 *   payload_md5 (of the raw body; md5 of `{}` or of nothing, or no claim, for
 *   a bodiless request), method, uri and the timestamp window, and remembers
 *   the signature (SET NX EX on its SHA-256) so it is accepted once.
 * - The handler reads the account and the device (`typ:account:{key}`,
 *   `typ:device:{key}` hashes), refuses what the contract refuses, coalesces
 *   resends within a window (SET NX PX per device), counts sends per device
 *   in an hourly window (INCR + EXPIRE), queues the job and answers 202.
 *
 * Its keys and its queue prefix are its own (the bench seeds them for the
 * same accounts and devices as the api's); its settings come from the
 * environment: REDIS_URL, KEY_PREFIX, QUEUE_PREFIX, PORT,
 * AUTH_MAX_CLOCK_SKEW_SECONDS, COALESCE_MS, SEND_CAP_PER_HOUR.
 */
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import {
  Body,
  CanActivate,
  Controller,
  ExecutionContext,
  HttpCode,
  HttpException,
  Inject,
  Injectable,
  Module,
  Param,
  Patch,
  Req,
  UseGuards,
  type RawBodyRequest,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { importSPKI, jwtVerify, type CryptoKey } from 'jose';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const { hostname: REDIS_HOST, port: REDIS_PORT } = new URL(REDIS_URL);
const KEY_PREFIX = process.env.KEY_PREFIX ?? 'typ';
const QUEUE_NAME = 'token-sends';
const MAX_SKEW_S = Number(process.env.AUTH_MAX_CLOCK_SKEW_SECONDS ?? 300);
const COALESCE_MS = Number(process.env.COALESCE_MS ?? 1000);
const SEND_CAP_PER_HOUR = Number(process.env.SEND_CAP_PER_HOUR ?? 10);
const MAX_FAILED_ATTEMPTS = 5;
const REDIS = Symbol('redis');

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');
const BODILESS_MD5S = [md5('{}'), md5('')];

function fail(status: number, code: string, title: string, description: string, extra: Record<string, unknown> = {}): HttpException {
  return new HttpException({ title, description, translation: description, code, extra_fields: extra }, status);
}
const unauthenticated = (reason: string) =>
  fail(401, 'GDF000014', 'QI Unauthenticated', `Please provide valid credentials as part of the request. Details: ${reason}`, { reason });

interface ExpressLikeRequest {
  method: string;
  originalUrl: string;
  headers: Record<string, string | string[] | undefined>;
  clientKey?: string;
}

/** A timestamp claim as ISO-8601; one without a zone is UTC. */
function parseTimestamp(value: unknown): number {
  if (typeof value !== 'string') return NaN;
  return Date.parse(/(Z|[+-]\d{2}:\d{2})$/.test(value) ? value : `${value}Z`);
}

@Injectable()
class ClientAuthGuard implements CanActivate {
  private readonly keys = new Map<string, CryptoKey>();

  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<RawBodyRequest<ExpressLikeRequest>>();
    const clientKey = req.headers['api-client-key'];
    const authorization = req.headers.authorization;
    if (typeof clientKey !== 'string' || clientKey === '') throw fail(400, 'GDF000003', 'Bad Request', 'No API Client Key received');
    const client = await this.redis.hgetall(`${KEY_PREFIX}:client:${clientKey.toLowerCase()}`);
    if (!client.public_key) throw fail(404, 'GDF000018', 'Not Found', `No ClientIntegration found for api_client_key: ${clientKey}.`);
    if (typeof authorization !== 'string') throw unauthenticated('AUTHORIZATION header missing');
    const jwt = authorization.startsWith('Bearer ') ? authorization.slice(7) : authorization;

    let key = this.keys.get(client.public_key);
    if (!key) {
      key = await importSPKI(client.public_key, client.alg);
      this.keys.set(client.public_key, key);
    }
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(jwt, key, { algorithms: [client.alg] }));
    } catch {
      throw unauthenticated('invalid signature');
    }

    const body = req.rawBody;
    const bodyMatches =
      body === undefined || body.length === 0
        ? claims.payload_md5 === undefined || BODILESS_MD5S.includes(claims.payload_md5 as string)
        : claims.payload_md5 === md5(body);
    if (!bodyMatches) throw unauthenticated('payload_md5 does not match the body');
    if (typeof claims.method !== 'string' || claims.method.toUpperCase() !== req.method.toUpperCase()) throw unauthenticated('method does not match');
    if (claims.uri !== req.originalUrl.split('?', 1)[0]) throw unauthenticated('uri does not match');
    const timestamp = parseTimestamp(claims.timestamp);
    if (!(Math.abs(Date.now() - timestamp) <= MAX_SKEW_S * 1000)) throw unauthenticated('timestamp outside the accepted window');

    const signature = jwt.slice(jwt.lastIndexOf('.') + 1);
    const replayKey = `${KEY_PREFIX}:replay:${createHash('sha256').update(signature).digest('hex')}`;
    const first = await this.redis.set(replayKey, '1', 'EX', 2 * MAX_SKEW_S + 60, 'NX');
    if (first !== 'OK') throw unauthenticated('signature already used');
    req.clientKey = client.client_key ?? clientKey.toLowerCase();
    return true;
  }
}

@Injectable()
class ResendService {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @InjectQueue(QUEUE_NAME) private readonly queue: Queue,
  ) {}

  async resend(clientKey: string, accountKey: string, deviceKey: string, contactType: 'sms' | 'email' | undefined) {
    const [account, device] = await Promise.all([
      this.redis.hgetall(`${KEY_PREFIX}:account:${accountKey}`),
      this.redis.hgetall(`${KEY_PREFIX}:device:${deviceKey}`),
    ]);
    if (!account.client_key || account.client_key !== clientKey) throw fail(404, 'OBD000002', 'Not Found', 'Bank account not found');
    if (account.status !== 'active') throw fail(400, 'OBD000088', 'Bad Request', 'Account blocked or closed can not perform this action');
    if (account.kind === 'hub') throw fail(400, 'OBD000089', 'Bad Request', 'Hub account can not perform this action');
    if (!device.account_key || device.account_key !== accountKey) {
      throw fail(404, 'OBD000100', 'Device not found', 'No device is associated with the provided device_key.');
    }
    if (Number(device.failed_attempts ?? 0) >= MAX_FAILED_ATTEMPTS) {
      throw fail(400, 'OBD000099', 'Number of token validation attempts exceeded', 'The maximum number of failed token validation attempts has been reached');
    }
    if (device.status !== 'pending_2fa_approval') throw fail(400, 'DTS000002', 'Invalid Status', 'The device is not waiting for a token');
    const response = { device_key: deviceKey, device_status: 'pending_2fa_approval', created_at: device.created_at };

    // A resend within the window joins the one already queued.
    const fresh = await this.redis.set(`${KEY_PREFIX}:coalesce:${deviceKey}`, '1', 'PX', COALESCE_MS, 'NX');
    if (fresh !== 'OK') return response;
    const hour = Math.floor(Date.now() / 3_600_000);
    const capKey = `${KEY_PREFIX}:cap:${deviceKey}:${hour}`;
    const sends = await this.redis.incr(capKey);
    if (sends === 1) await this.redis.expire(capKey, 3600);
    if (sends > SEND_CAP_PER_HOUR) throw fail(429, 'DTS000004', 'Too Many Requests', 'Too many token requests for this device');

    await this.queue.add(
      'send-token',
      { accountKey, deviceKey, channel: contactType ?? device.contact_type ?? 'sms', requestedAt: Date.now() },
      { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: 1000, removeOnFail: 5000 },
    );
    return response;
  }
}

@Controller('account/:account_key/device')
class DeviceController {
  // tsx (esbuild) emits no decorator metadata: injection tokens are spelt out.
  constructor(@Inject(ResendService) private readonly service: ResendService) {}

  @Patch(':device_key/resend_token')
  @HttpCode(202)
  @UseGuards(ClientAuthGuard)
  resend(
    @Req() req: ExpressLikeRequest,
    @Param('account_key') accountKey: string,
    @Param('device_key') deviceKey: string,
    @Body() body: { contact_type?: unknown } | undefined,
  ) {
    const contactType = body?.contact_type;
    if (contactType !== undefined && contactType !== 'sms' && contactType !== 'email') {
      throw fail(400, 'QIT000001', 'Bad Request', 'Schema Error', { field: 'contact_type' });
    }
    return this.service.resend(req.clientKey!, accountKey, deviceKey, contactType);
  }
}

@Module({
  imports: [
    BullModule.forRoot({ connection: { host: REDIS_HOST, port: Number(REDIS_PORT) }, prefix: process.env.QUEUE_PREFIX ?? 'bench-typical:bull' }),
    BullModule.registerQueue({ name: QUEUE_NAME }),
  ],
  controllers: [DeviceController],
  providers: [{ provide: REDIS, useFactory: () => new Redis(REDIS_URL, { maxRetriesPerRequest: 2 }) }, ClientAuthGuard, ResendService],
})
class TypicalModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(TypicalModule, { logger: ['error'], rawBody: true });
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  console.log(`listening on ${process.env.PORT}`);
}
void main();
