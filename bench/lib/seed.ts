/**
 * Data for the runs. Client integrations are registered through the admin
 * API (their keys go through the api's own parsing); accounts and devices, by
 * the thousand, through the store's own repositories (the same records and
 * Lua script the api writes), which is much faster than HTTP.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { DEFAULT_DATA_LIFETIMES, DEFAULT_TOKEN_POLICY, TokenCrypto, destinationOf, maskDestination, type Approver } from '@lib/domain';
import { DeviceRepository, DirectoryRepository, RedisKeys, type RedisClient } from '@lib/store';
import { DISPATCH_QUEUES, sendTokenJob } from '@lib/dispatch-contract';
import { generateClientKeyPair, type ClientKeyKind, type RequestSigningAlg } from '@lib/request-signing';
import type { RequestToSign } from './crypto-pool';

export interface BenchClient {
  clientKey: string;
  privateKeyPem: string;
  publicKeyPem: string;
  alg: RequestSigningAlg;
}

export interface BenchDevice {
  client: BenchClient;
  accountKey: string;
  deviceKey: string;
  approver: Approver;
  /** The dispatch recorded when the device was created (its latest one until a resend). */
  dispatchId: string;
}

export async function registerClients(apiUrl: string, adminToken: string, kind: ClientKeyKind, count: number): Promise<BenchClient[]> {
  const clients: BenchClient[] = [];
  for (let i = 0; i < count; i++) {
    const keys = generateClientKeyPair(kind);
    const clientKey = randomUUID();
    const res = await fetch(`${apiUrl}/internal/clients/${clientKey}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `bench ${kind} ${i}`, public_key: keys.publicKeyPem }),
    });
    if (res.status !== 200) throw new Error(`client registration failed: ${res.status} ${await res.text()}`);
    clients.push({ clientKey, privateKeyPem: keys.privateKeyPem, publicKeyPem: keys.publicKeyPem, alg: keys.alg });
  }
  return clients;
}

let approverCounter = 0;
function newApprover(): Approver {
  approverCounter += 1;
  const n = String(approverCounter).padStart(8, '0');
  return {
    document_number: `1${String(approverCounter).padStart(10, '0')}`,
    name: 'Maria Silva',
    phone_number: `+55119${n}`,
    email: `approver.${n}@bench.example.com`,
  };
}

const RETRY = { attempts: 6, backoffMs: 1000 };

/**
 * Creates `count` active accounts with one approver each (unique phone and
 * e-mail) and one pending device each, as the api does: the device and its
 * dispatch in one step, then its first send job. The jobs go to `jobsTo`: the service's queue
 * (paused) when a run is to send them, a parked queue nobody consumes when a
 * run needs the devices only (their first dispatch is then no longer pending,
 * as if a worker had given up on it).
 */
export async function seedDevices(
  redis: RedisClient,
  prefix: string,
  tokenHashSecret: string,
  clients: BenchClient[],
  count: number,
  jobsTo: Queue,
): Promise<BenchDevice[]> {
  const keys = new RedisKeys(prefix);
  const directory = new DirectoryRepository(redis, keys);
  const devices = new DeviceRepository(redis, keys);
  const crypto = new TokenCrypto(tokenHashSecret, DEFAULT_TOKEN_POLICY);
  const out: BenchDevice[] = [];
  const BATCH = 500;
  for (let start = 0; start < count; start += BATCH) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      const client = clients[i % clients.length];
      const approver = newApprover();
      const device: BenchDevice = { client, accountKey: randomUUID(), deviceKey: randomUUID(), approver, dispatchId: randomUUID() };
      out.push(device);
      const destination = destinationOf(approver, 'sms');
      batch.push(
        (async () => {
          await directory.putAccount({ accountKey: device.accountKey, clientKey: client.clientKey, status: 'active', kind: 'regular', approvers: [approver] });
          const requestId = `bench-seed-${i}`;
          const nowMs = Date.now();
          const result = await devices.requestDispatch(
            {
              accountKey: device.accountKey,
              deviceKey: device.deviceKey,
              dispatchId: device.dispatchId,
              requestId,
              channel: 'sms',
              codeNonce: TokenCrypto.newCodeNonce(),
              destinationDigest: crypto.destinationDigest('sms', destination),
              maskedDestination: maskDestination('sms', destination),
              nowMs,
              maxFailedAttempts: DEFAULT_TOKEN_POLICY.maxFailedAttempts,
              coalesceMs: 0,
              perDeviceCap: 1_000_000,
              perDestinationCap: 1_000_000,
              windowMs: 3600_000,
              dispatchTtlSeconds: DEFAULT_DATA_LIFETIMES.dispatchSeconds,
              pendingDeviceTtlSeconds: DEFAULT_DATA_LIFETIMES.pendingDeviceSeconds,
            },
            { sessionId: randomUUID(), contactType: 'sms', approverDocument: approver.document_number, creationCap: 1, creationWindowMs: 3600_000 },
          );
          if (result.outcome !== 'queued') throw new Error(`seeding a device: ${result.outcome}`);
          const job = sendTokenJob({ dispatchId: device.dispatchId, requestId }, RETRY, DEFAULT_DATA_LIFETIMES);
          await jobsTo.add(job.name, job.data, job.opts);
          // A parked first send will never run: drop it from the pending
          // dispatches, or the worker's repair would find it without a job
          // in the service's queue and queue it again, in the middle of a
          // measured run.
          if (PARKED.has(jobsTo)) await devices.dropPending(device.dispatchId, true);
        })(),
      );
    }
    await Promise.all(batch);
  }
  return out;
}

/** Queues made by dispatchQueue(…, parked = true). */
const PARKED = new WeakSet<Queue>();

/** The service's dispatch queue, for seeding jobs and cleaning up between rounds; or, with `parked`, a queue of the same name that nobody consumes. */
export function dispatchQueue(redis: RedisClient, prefix: string, parked = false): Queue {
  const queue = new Queue(DISPATCH_QUEUES.sms, { connection: redis, prefix: new RedisKeys(parked ? `${prefix}-parked` : prefix).queuePrefix });
  queue.on('error', () => undefined);
  if (parked) PARKED.add(queue);
  return queue;
}

/**
 * The same clients, accounts and devices in the key layout of the "typical"
 * reference (bench/references/nest-typical.ts): hashes under `keyPrefix`, one
 * per client, account and device, as that reference reads them.
 */
export async function seedTypicalStore(redis: RedisClient, keyPrefix: string, clients: BenchClient[], devices: BenchDevice[]): Promise<void> {
  const createdAt = new Date().toISOString();
  let pipeline = redis.pipeline();
  for (const c of clients) pipeline.hset(`${keyPrefix}:client:${c.clientKey}`, { client_key: c.clientKey, public_key: c.publicKeyPem, alg: c.alg });
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i];
    pipeline.hset(`${keyPrefix}:account:${d.accountKey}`, {
      client_key: d.client.clientKey,
      status: 'active',
      kind: 'regular',
      approver_document: d.approver.document_number,
      approver_phone: d.approver.phone_number,
      approver_email: d.approver.email,
    });
    pipeline.hset(`${keyPrefix}:device:${d.deviceKey}`, {
      account_key: d.accountKey,
      status: 'pending_2fa_approval',
      contact_type: 'sms',
      failed_attempts: '0',
      created_at: createdAt,
    });
    if (i % 1000 === 999) {
      await pipeline.exec();
      pipeline = redis.pipeline();
    }
  }
  await pipeline.exec();
}

const RESEND_BODY = JSON.stringify({ contact_type: 'sms' });

/** `count` resend requests spread round-robin over the devices, so each device is asked again only after all the others. */
export function resendRequests(devices: BenchDevice[], count: number, cursor: { at: number }): RequestToSign[] {
  const out: RequestToSign[] = [];
  for (let i = 0; i < count; i++) {
    const d = devices[cursor.at++ % devices.length];
    out.push({
      clientKey: d.client.clientKey,
      privateKeyPem: d.client.privateKeyPem,
      alg: d.client.alg,
      method: 'PATCH',
      path: `/account/${d.accountKey}/device/${d.deviceKey}/resend_token`,
      body: RESEND_BODY,
      deviceKey: d.deviceKey,
    });
  }
  return out;
}
