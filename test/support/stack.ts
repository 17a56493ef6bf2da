/**
 * A whole running system for end-to-end tests: fake Twilio and SES on
 * loopback, the built api and worker as processes pointed at them (real
 * SDKs, real HTTP), a real Redis under a unique key prefix, and helpers to
 * set up clients, accounts and devices the way an operator and a client would.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { generateClientKeyPair, type ClientKeyKind } from '@lib/request-signing';
import { DISPATCH_QUEUES } from '@lib/dispatch-contract';
import { RedisKeys, createRedis, whenReady, type RedisClient, type RedisTopologySettings } from '@lib/store';
import { FAKE_TWILIO_ACCOUNT_SID, FAKE_TWILIO_AUTH_TOKEN, FakeSes, FakeTwilio } from '../fakes';
import { AdminClient, DeviceApiClient } from './api-client';
import { ServiceProcess } from './processes';
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from './redis';

export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';
export const TOKEN_HASH_SECRET = 'e2e-token-hash-secret-0123456789abcdef';
export const SES_FROM = 'no-reply@tokens.example.com';
export const TWILIO_FROM = '+15005550006';

/** A Redis other than a standalone one (test/support/topologies.ts): how the apps reach it, and how the stack's own client does. */
export interface StackRedisTopology {
  /** The apps' settings for it (REDIS_MODE and its node lists). */
  readonly env: Record<string, string>;
  readonly topology: RedisTopologySettings;
}

export interface StackOptions {
  label: string;
  /** A standalone Redis (default TEST_REDIS_URL); with `topology`, only its credentials and database count. */
  redisUrl?: string;
  /** Sentinel or Cluster: the apps get its settings, the stack reads through the project's own client for it, and in a Cluster the key prefix is a hash tag. */
  topology?: StackRedisTopology;
  /** Extra environment for both processes (limits, retry timings…); `undefined` leaves a variable unset (e.g. NODE_ENV). */
  env?: Record<string, string | undefined>;
  startWorker?: boolean;
}

export interface Approver {
  document_number: string;
  name: string;
  phone_number: string;
  email: string;
}

let phoneCounter = Math.floor(Math.random() * 1e6);

/** A valid-looking approver with a phone and e-mail unique to this run. */
export function newApprover(): Approver {
  phoneCounter += 1;
  const n = String(phoneCounter).padStart(8, '0').slice(-8);
  return {
    document_number: `${Math.floor(1e10 + Math.random() * 8.9e10)}`.slice(0, 11),
    name: 'Maria Silva',
    phone_number: `+55119${n}`,
    email: `approver.${n}.${randomUUID().slice(0, 8)}@example.com`,
  };
}

export class Stack {
  readonly prefix: string;
  /** The service's key layout under this stack's prefix (tests never spell a key out themselves). */
  readonly keys: RedisKeys;
  readonly twilio = new FakeTwilio();
  readonly ses = new FakeSes();
  /** The stack's own reads and clean-up: a plain connection, or on a topology the project's client for it (createRedis). */
  readonly redis: RedisClient;
  api!: ServiceProcess;
  /** Every worker started, oldest first. */
  readonly workers: ServiceProcess[] = [];
  /** Api processes started besides the first one (same Redis and prefix), oldest first. */
  readonly extraApis: ServiceProcess[] = [];
  apiUrl!: string;
  admin!: AdminClient;
  private env!: Record<string, string>;

  constructor(private readonly options: StackOptions) {
    const topology = options.topology?.topology;
    // In a Cluster every key of the service must hash to one slot (REDIS_KEY_PREFIX must be a hash tag).
    this.prefix = topology?.mode === 'cluster' ? `{${uniquePrefix(options.label)}}` : uniquePrefix(options.label);
    this.keys = new RedisKeys(this.prefix);
    const url = options.redisUrl ?? TEST_REDIS_URL;
    if (topology) {
      // Fails fast (no offline queue, a command timeout), like the api's own: a read during a fail-over errors rather than hangs.
      this.redis = createRedis('command', { url, commandTimeoutMs: 2000, topology }, `e2e-stack-${options.label}`);
    } else {
      this.redis = new Redis(url, { maxRetriesPerRequest: 1 });
      this.redis.on('error', () => undefined);
    }
  }

  static async start(options: StackOptions): Promise<Stack> {
    const stack = new Stack(options);
    try {
      await stack.boot();
    } catch (err) {
      // The caller never gets the stack to stop: whatever already runs stops here.
      await stack.stop().catch(() => undefined);
      throw err;
    }
    return stack;
  }

  private async boot(): Promise<void> {
    await Promise.all([this.twilio.start(), this.ses.start(), this.options.topology ? whenReady(this.redis, 10_000) : undefined]);
    const env: Record<string, string | undefined> = {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      REDIS_URL: this.options.redisUrl ?? TEST_REDIS_URL,
      REDIS_KEY_PREFIX: this.prefix,
      ADMIN_TOKEN,
      TOKEN_HASH_SECRET,
      TWILIO_ACCOUNT_SID: FAKE_TWILIO_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: FAKE_TWILIO_AUTH_TOKEN,
      TWILIO_FROM_NUMBER: TWILIO_FROM,
      TWILIO_API_URL: this.twilio.url,
      SES_FROM_ADDRESS: SES_FROM,
      SES_ENDPOINT: this.ses.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKE0000',
      AWS_SECRET_ACCESS_KEY: 'fake-aws-secret-key-0123456789abcdefghij',
      DISPATCH_BACKOFF_MS: '50',
      PROVIDER_TIMEOUT_MS: '2000',
      WORKER_HTTP_HOST: '127.0.0.1',
      WORKER_HTTP_PORT: '0',
      ...this.options.topology?.env,
      ...this.options.env,
    };
    this.env = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
    this.api = ServiceProcess.start('api', this.env);
    const [, url] = await this.api.waitFor(/listening on (http:\/\/[^\s"]+)/);
    this.apiUrl = url;
    this.api.url = url;
    this.admin = new AdminClient(url, this.env.ADMIN_TOKEN ?? ADMIN_TOKEN);
    if (this.options.startWorker !== false) await this.startWorker();
  }

  async startWorker(extraEnv: Record<string, string> = {}): Promise<ServiceProcess> {
    const worker = ServiceProcess.start('worker', { ...this.env, ...extraEnv });
    this.workers.push(worker);
    // Both send queues (the JSON log line escapes the quotes: `consuming \"token-dispatch-sms\"`).
    for (const queue of Object.values(DISPATCH_QUEUES)) await worker.waitFor(new RegExp(`consuming \\\\?"${queue}\\\\?"`));
    const [, url] = await worker.waitFor(/health listening on (http:\/\/[^\s"]+)/);
    worker.url = url;
    return worker;
  }

  /**
   * Another api process on the same Redis and key prefix (a second
   * instance behind a load balancer), with `extraEnv` on top of the stack's.
   */
  async startApi(extraEnv: Record<string, string> = {}): Promise<ServiceProcess> {
    const api = ServiceProcess.start('api', { ...this.env, ...extraEnv });
    this.extraApis.push(api);
    const [, url] = await api.waitFor(/listening on (http:\/\/[^\s"]+)/);
    api.url = url;
    return api;
  }

  /** The most recently started worker. */
  get worker(): ServiceProcess | undefined {
    return this.workers[this.workers.length - 1];
  }

  /** Base URL of the most recently started worker's health and metrics listener. */
  get workerUrl(): string | undefined {
    return this.worker?.url;
  }

  /** All lines printed by the processes of this stack. */
  get output(): string[] {
    return [...(this.api?.output ?? []), ...this.extraApis.flatMap((a) => a.output), ...this.workers.flatMap((w) => w.output)];
  }

  /** Registers a client integration with a fresh key pair and returns its signed client. */
  async newClient(kind: ClientKeyKind = 'p256'): Promise<DeviceApiClient & { publicKeyPem: string }> {
    const keys = generateClientKeyPair(kind);
    const clientKey = randomUUID();
    const res = await this.admin.put(`/internal/clients/${clientKey}`, { name: `client ${kind}`, public_key: keys.publicKeyPem });
    if (res.status !== 200) throw new Error(`client registration failed: ${res.status} ${res.text}`);
    return Object.assign(new DeviceApiClient(this.apiUrl, clientKey, keys.privateKeyPem), { publicKeyPem: keys.publicKeyPem });
  }

  async newAccount(
    clientKey: string,
    overrides: { status?: string; kind?: string; approvers?: Approver[] } = {},
  ): Promise<{ accountKey: string; approver: Approver }> {
    const accountKey = randomUUID();
    const approvers = overrides.approvers ?? [newApprover()];
    const res = await this.admin.put(`/internal/accounts/${accountKey}`, {
      client_key: clientKey,
      status: overrides.status ?? 'active',
      kind: overrides.kind ?? 'regular',
      approvers,
    });
    if (res.status !== 200) throw new Error(`account registration failed: ${res.status} ${res.text}`);
    return { accountKey, approver: approvers[0] };
  }

  /**
   * A client, an account and a device created by SMS or e-mail (its first
   * send queued). `beforeCreate` runs once the approver exists, before the
   * device is created (e.g. to script the fake provider for that address).
   */
  async newDevice(channel: 'sms' | 'email' = 'sms', kind: ClientKeyKind = 'p256', beforeCreate?: (approver: Approver) => void) {
    const client = await this.newClient(kind);
    const { accountKey, approver } = await this.newAccount(client.clientKey);
    beforeCreate?.(approver);
    const deviceKey = randomUUID();
    const res = await client.createDevice(accountKey, {
      device_key: deviceKey,
      session_id: randomUUID(),
      tfa_info: { approver_document_number: approver.document_number, contact_type: channel },
    });
    if (res.status !== 202) throw new Error(`device creation failed: ${res.status} ${res.text}`);
    return { client, accountKey, approver, deviceKey, created: res.body };
  }

  async stop(): Promise<void> {
    await Promise.all([this.api?.stop(), ...this.extraApis.map((a) => a.stop()), ...this.workers.map((w) => w.stop())]);
    await Promise.all([this.twilio.stop(), this.ses.stop()]);
    await deleteKeys(this.redis, this.prefix).catch(() => undefined);
    this.redis.disconnect();
  }
}

/** The 6-digit code in a delivered message text. */
export function codeIn(text: string): string {
  const m = text.match(/\b(\d{6})\b/);
  if (!m) throw new Error('no 6-digit code in the message');
  return m[1];
}
