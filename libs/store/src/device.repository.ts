/**
 * Devices, their status history, token state and send bookkeeping. Every
 * check-then-write runs as one Lua script (see device.scripts.ts).
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient as Redis } from './redis-connection';
import { DeviceStatus, isDeviceStatus, type Approver, type ContactType, type StatusEvent } from '@lib/domain';
import {
  ARM_TOKEN,
  COMPLETE_VALIDATION,
  DISABLE_DEVICE,
  DROP_PENDING,
  FAIL_VALIDATION,
  MARK_FAILURE,
  MARK_SENT,
  RECORD_DELIVERY,
  PENDING_DISPATCHES,
  REQUEST_DISPATCH,
  RESERVE_ATTEMPT,
} from './device.scripts';
import type { Device, DeviceView, Dispatch, DispatchState } from './records';
import type { RedisKeys } from './redis-keys';
import { ScriptBatch, redisCall } from './lua-script';

export interface DispatchRequest {
  accountKey: string;
  deviceKey: string;
  dispatchId: string;
  requestId: string;
  channel: ContactType;
  /** The dispatch's code nonce (TokenCrypto.newCodeNonce): kept on the dispatch record only. */
  codeNonce: string;
  /** Keyed digest of the destination address, for the per-destination cap. */
  destinationDigest: string;
  maskedDestination: string;
  nowMs: number;
  maxFailedAttempts: number;
  coalesceMs: number;
  perDeviceCap: number;
  perDestinationCap: number;
  windowMs: number;
  /** The dispatch record's lifetime (DataLifetimes.dispatchSeconds). */
  dispatchTtlSeconds: number;
  /** A device not validated yet lives this long after each send request (DataLifetimes.pendingDeviceSeconds). */
  pendingDeviceTtlSeconds: number;
}

export interface NewDevice {
  sessionId: string;
  contactType: ContactType;
  approverDocument: string;
  /** Devices the account may create within `creationWindowMs`. */
  creationCap: number;
  creationWindowMs: number;
}

export type DispatchRequestResult =
  | { outcome: 'queued' | 'coalesced'; dispatchId: string; channel: ContactType; requestId: string; createdAt?: string }
  | { outcome: 'exists' | 'not_found' | 'locked' }
  | { outcome: 'invalid_status'; status: string }
  | { outcome: 'device_cap' | 'destination_cap' | 'creation_cap'; retryAfterMs: number };

/** Limits a validation attempt is reserved under (see RESERVE_ATTEMPT). */
export interface AttemptLimits {
  maxFailedAttempts: number;
  perApprover: number;
  perAccount: number;
  windowMs: number;
}

export type ReserveResult =
  | { outcome: 'reserved'; tokenDispatchId: string; codeNonce: string; failedAttempts: number; reservation: string }
  | { outcome: 'not_found' | 'locked' | 'expired' }
  | { outcome: 'invalid_status'; status: string }
  | { outcome: 'approver_budget' | 'account_budget'; retryAfterMs: number };

/** A send job as the worker received it: its id and its data, unchecked. */
export interface ArmRequest {
  jobId: string;
  /**
   * What the job's data says: the dispatch it names and its request id ('' where the data has none),
   * and whether the data has exactly the payload's shape.
   */
  data: { dispatchId: string; requestId: string; wellFormed: boolean };
  expiresAtMs: number;
  attempt: number;
  smsAllowedCountryCodes: readonly string[];
  /** The channel whose queue the job was taken from. */
  queueChannel: ContactType;
}

/**
 * What the worker may do with a job (see ARM_TOKEN). Only `armed` sends: it
 * carries everything the send needs, read from the store.
 */
export type ArmResult =
  | { outcome: 'armed'; accountKey: string; deviceKey: string; channel: ContactType; codeNonce: string; approver: Approver; requestedAtMs: number }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'approver_missing' | 'country_not_allowed' | 'already_sent' | 'gone' | 'not_pending' | 'superseded' };

/** ARM_TOKEN's placeholders for the account key (\x01) and the device key (\x02) in a key template. */
const ACCOUNT_SLOT = '\x01';
const DEVICE_SLOT = '\x02';
/** PENDING_DISPATCHES's placeholder for a dispatch id. */
const ID_SLOT = '\x01';

/** A dispatch recorded but not taken up by a worker yet (see REQUEST_DISPATCH). */
export interface PendingDispatch {
  dispatchId: string;
  requestId: string;
  channel: ContactType;
  requestedAtMs: number;
}

export type DeliveryRecordResult = 'recorded' | 'stale' | 'gone' | 'mismatch';

export interface DeliveryReceipt {
  provider: string;
  providerMessageId: string;
  status: string;
  /** Position of `status` in a message's life; a receipt never replaces a later one. */
  rank: number;
  errorCode?: string;
  atMs: number;
}

const eventJson = (status: DeviceStatus, at: string) => JSON.stringify({ new_status: status, event_date: at } satisfies StatusEvent);

export class DeviceRepository {
  // The scripts every send runs, batched (ScriptBatch): concurrent requests
  // in the api and concurrent jobs in the worker share their invocations.
  private readonly dispatches: ScriptBatch;
  private readonly arms: ScriptBatch;
  private readonly sends: ScriptBatch;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.dispatches = new ScriptBatch(REQUEST_DISPATCH, redis);
    this.arms = new ScriptBatch(ARM_TOKEN, redis);
    this.sends = new ScriptBatch(MARK_SENT, redis);
  }

  /**
   * Creates the device and records its first send, atomically; or resends.
   * A queued (or coalesced) dispatch is pending until its job runs: the
   * caller adds the job next (see PENDING_DISPATCHES for when it does not).
   */
  async requestDispatch(req: DispatchRequest, create?: NewDevice): Promise<DispatchRequestResult> {
    const nowIso = new Date(req.nowMs).toISOString();
    const reply = (await this.dispatches.run(
      [
        this.keys.device(req.accountKey, req.deviceKey),
        this.keys.deviceEvents(req.accountKey, req.deviceKey),
        this.keys.coalesce(req.accountKey, req.deviceKey),
        this.keys.deviceSends(req.accountKey, req.deviceKey),
        this.keys.destinationSends(req.destinationDigest),
        this.keys.dispatch(req.dispatchId),
        this.keys.deviceCreations(req.accountKey),
        this.keys.pendingDispatches,
      ],
      [
        create ? 'create' : 'resend',
        req.accountKey,
        req.nowMs,
        nowIso,
        req.coalesceMs,
        req.perDeviceCap,
        req.perDestinationCap,
        req.windowMs,
        req.dispatchId,
        req.channel,
        req.maskedDestination,
        req.maxFailedAttempts,
        req.dispatchTtlSeconds,
        req.requestId,
        create?.sessionId ?? '',
        create?.contactType ?? '',
        create?.approverDocument ?? '',
        eventJson(DeviceStatus.pending, nowIso),
        req.codeNonce,
        req.deviceKey,
        create?.creationCap ?? 0,
        create?.creationWindowMs ?? 0,
        req.pendingDeviceTtlSeconds,
      ],
    )) as string[];
    const [outcome, a, b, c] = reply;
    switch (outcome) {
      case 'queued':
      case 'coalesced':
        return { outcome, dispatchId: a, channel: b as ContactType, requestId: c, createdAt: create ? nowIso : undefined };
      case 'invalid_status':
        return { outcome, status: a };
      case 'device_cap':
      case 'destination_cap':
      case 'creation_cap':
        return { outcome, retryAfterMs: Number(a) };
      case 'exists':
      case 'not_found':
      case 'locked':
        return { outcome };
      default:
        throw new Error(`unexpected reply from ${REQUEST_DISPATCH.name}: ${outcome}`);
    }
  }

  async get(accountKey: string, deviceKey: string): Promise<Device | undefined> {
    const raw = await redisCall(() => this.redis.hgetall(this.keys.device(accountKey, deviceKey)));
    return toDevice(deviceKey, raw);
  }

  /** Device, status history and latest dispatch, in two round trips at most. */
  async view(accountKey: string, deviceKey: string): Promise<DeviceView | undefined> {
    const results = await redisCall(() =>
      this.redis.multi().hgetall(this.keys.device(accountKey, deviceKey)).lrange(this.keys.deviceEvents(accountKey, deviceKey), 0, -1).exec(),
    );
    if (!results) throw new Error('device view transaction aborted');
    const [[e1, raw], [e2, events]] = results as [[Error | null, Record<string, string>], [Error | null, string[]]];
    if (e1 || e2) throw e1 ?? e2;
    const device = toDevice(deviceKey, raw);
    if (!device) return undefined;
    const dispatch = device.latestDispatchId ? await this.dispatch(device.latestDispatchId) : undefined;
    return { device, events: events.map((e) => JSON.parse(e) as StatusEvent), dispatch };
  }

  async dispatch(dispatchId: string): Promise<Dispatch | undefined> {
    const raw = await redisCall(() => this.redis.hgetall(this.keys.dispatch(dispatchId)));
    return toDispatch(raw);
  }

  async reserveAttempt(accountKey: string, deviceKey: string, limits: AttemptLimits, nowMs: number): Promise<ReserveResult> {
    const [outcome, a, b, c, d] = (await RESERVE_ATTEMPT.run(
      this.redis,
      [this.keys.device(accountKey, deviceKey), this.keys.guesses(accountKey)],
      [accountKey, limits.maxFailedAttempts, nowMs, limits.perApprover, limits.perAccount, limits.windowMs, randomUUID()],
    )) as string[];
    switch (outcome) {
      case 'reserved':
        return { outcome, tokenDispatchId: a, codeNonce: b, failedAttempts: Number(c), reservation: d };
      case 'invalid_status':
        return { outcome, status: a };
      case 'approver_budget':
      case 'account_budget':
        return { outcome, retryAfterMs: Number(a) };
      case 'not_found':
      case 'locked':
      case 'expired':
        return { outcome };
      default:
        throw new Error(`unexpected reply from ${RESERVE_ATTEMPT.name}: ${outcome}`);
    }
  }

  /** The reserved attempt matched: `reservation` is given back. */
  async completeValidation(
    accountKey: string,
    deviceKey: string,
    reserved: { tokenDispatchId: string; reservation: string },
    nowMs: number,
  ): Promise<{ outcome: 'created'; createdAt: string } | { outcome: 'changed' }> {
    const [outcome, createdAt] = (await COMPLETE_VALIDATION.run(
      this.redis,
      [this.keys.device(accountKey, deviceKey), this.keys.deviceEvents(accountKey, deviceKey), this.keys.guesses(accountKey)],
      [reserved.tokenDispatchId, eventJson(DeviceStatus.created, new Date(nowMs).toISOString()), reserved.reservation],
    )) as string[];
    return outcome === 'created' ? { outcome, createdAt } : { outcome: 'changed' };
  }

  async failValidation(accountKey: string, deviceKey: string, maxFailedAttempts: number, nowMs: number): Promise<{ locked: boolean; failedAttempts: number }> {
    const [outcome, n] = (await FAIL_VALIDATION.run(
      this.redis,
      [this.keys.device(accountKey, deviceKey), this.keys.deviceEvents(accountKey, deviceKey)],
      [maxFailedAttempts, eventJson(DeviceStatus.rejected, new Date(nowMs).toISOString())],
    )) as string[];
    return { locked: outcome === 'locked', failedAttempts: Number(n) };
  }

  async disable(
    accountKey: string,
    deviceKey: string,
    nowMs: number,
  ): Promise<{ outcome: 'disabled' | 'already'; createdAt: string } | { outcome: 'not_found' }> {
    const [outcome, createdAt] = (await DISABLE_DEVICE.run(
      this.redis,
      [this.keys.device(accountKey, deviceKey), this.keys.deviceEvents(accountKey, deviceKey)],
      [accountKey, eventJson(DeviceStatus.disabled, new Date(nowMs).toISOString())],
    )) as string[];
    if (outcome === 'not_found') return { outcome };
    return { outcome: outcome as 'disabled' | 'already', createdAt };
  }

  // --- worker side -----------------------------------------------------------

  /**
   * Decides from the store whether a send job may send and arms its code
   * (ARM_TOKEN); refusals, skips and permanent failures are recorded on the
   * dispatch by the script.
   */
  async armToken(req: ArmRequest): Promise<ArmResult> {
    const [outcome, a, b, c, d, e, f] = (await this.arms.run(
      [this.keys.dispatch(req.jobId), this.keys.dispatch(req.data.dispatchId || req.jobId), this.keys.pendingDispatches],
      [
        req.jobId,
        req.data.dispatchId,
        req.data.requestId,
        req.data.wellFormed ? '1' : '0',
        new Date().toISOString(),
        req.expiresAtMs,
        req.attempt,
        this.keys.account(ACCOUNT_SLOT),
        this.keys.device(ACCOUNT_SLOT, DEVICE_SLOT),
        req.smsAllowedCountryCodes.join(','),
        req.queueChannel,
      ],
    )) as string[];
    switch (outcome) {
      case 'armed':
        return {
          outcome,
          accountKey: a,
          deviceKey: b,
          channel: c as ContactType,
          codeNonce: d,
          approver: JSON.parse(e) as Approver,
          requestedAtMs: Date.parse(f),
        };
      case 'refused':
        return { outcome, reason: a };
      case 'approver_missing':
      case 'country_not_allowed':
      case 'already_sent':
      case 'gone':
      case 'not_pending':
      case 'superseded':
        return { outcome };
      default:
        throw new Error(`unexpected reply from ${ARM_TOKEN.name}: ${outcome}`);
    }
  }

  /** `sent.ttlSeconds`: how long the provider's message id leads back to the dispatch (DataLifetimes.providerMessageSeconds). */
  async markSent(
    target: { accountKey: string; deviceKey: string; dispatchId: string },
    sent: { provider: string; providerMessageId: string; ttlSeconds: number },
    expiresAtMs: number,
    attempt: number,
  ): Promise<void> {
    const { provider, providerMessageId } = sent;
    await this.sends.run(
      [this.keys.device(target.accountKey, target.deviceKey), this.keys.dispatch(target.dispatchId), this.keys.providerMessage(provider, providerMessageId)],
      [target.dispatchId, providerMessageId, new Date().toISOString(), expiresAtMs, attempt, provider, sent.ttlSeconds],
    );
  }

  /** Dispatches pending since before `olderThanMs` (their job not taken up yet), oldest first, at most `limit`. */
  async pendingDispatches(olderThanMs: number, limit: number): Promise<PendingDispatch[]> {
    const flat = (await PENDING_DISPATCHES.run(this.redis, [this.keys.pendingDispatches], [olderThanMs, limit, this.keys.dispatch(ID_SLOT)])) as string[];
    const out: PendingDispatch[] = [];
    for (let i = 0; i < flat.length; i += 4) {
      out.push({ dispatchId: flat[i], requestId: flat[i + 1], channel: flat[i + 2] as ContactType, requestedAtMs: Number(flat[i + 3]) });
    }
    return out;
  }

  /** Stops tracking a pending dispatch (DROP_PENDING); one that never got a job is recorded as failed. */
  async dropPending(dispatchId: string, hasJob: boolean): Promise<void> {
    await DROP_PENDING.run(
      this.redis,
      [this.keys.pendingDispatches, this.keys.dispatch(dispatchId)],
      [dispatchId, hasJob ? '0' : '1', new Date().toISOString()],
    );
  }

  // --- delivery receipts (api) -----------------------------------------------

  /** The dispatch that carried a provider's message, if it was sent within the mapping's lifetime (see markSent). */
  async dispatchIdForProviderMessage(provider: string, providerMessageId: string): Promise<string | undefined> {
    const id = await redisCall(() => this.redis.get(this.keys.providerMessage(provider, providerMessageId)));
    return id ?? undefined;
  }

  async recordDelivery(dispatchId: string, receipt: DeliveryReceipt): Promise<DeliveryRecordResult> {
    return (await RECORD_DELIVERY.run(
      this.redis,
      [this.keys.dispatch(dispatchId)],
      [receipt.providerMessageId, receipt.status, receipt.rank, receipt.errorCode ?? '', new Date(receipt.atMs).toISOString()],
    )) as DeliveryRecordResult;
  }

  async markFailure(dispatchId: string, state: Extract<DispatchState, 'retrying' | 'failed'>, errorCode: string, attempt: number): Promise<void> {
    await MARK_FAILURE.run(this.redis, [this.keys.dispatch(dispatchId)], [state, errorCode, attempt, new Date().toISOString()]);
  }
}

/** A device from its hash's fields (HGETALL); undefined when there is no such device. */
export function toDevice(deviceKey: string, raw: Record<string, string>): Device | undefined {
  if (!raw.account_key || !isDeviceStatus(raw.status)) return undefined;
  return {
    deviceKey,
    accountKey: raw.account_key,
    sessionId: raw.session_id,
    status: raw.status,
    contactType: raw.contact_type as ContactType,
    approverDocument: raw.approver_document,
    createdAt: raw.created_at,
    failedAttempts: Number(raw.failed_attempts ?? 0),
    latestDispatchId: raw.latest_dispatch_id || undefined,
  };
}

function toDispatch(raw: Record<string, string>): Dispatch | undefined {
  if (!raw.dispatch_id) return undefined;
  return {
    dispatchId: raw.dispatch_id,
    accountKey: raw.account_key,
    deviceKey: raw.device_key,
    channel: raw.channel as ContactType,
    state: raw.state as DispatchState,
    attempts: Number(raw.attempts ?? 0),
    destination: raw.destination,
    provider: raw.provider || undefined,
    providerMessageId: raw.provider_message_id || undefined,
    lastErrorCode: raw.last_error_code || undefined,
    requestedAt: raw.requested_at,
    sentAt: raw.sent_at || undefined,
    updatedAt: raw.updated_at,
    deliveryStatus: raw.delivery_status || undefined,
    deliveryErrorCode: raw.delivery_error_code || undefined,
    deliveryUpdatedAt: raw.delivery_updated_at || undefined,
    refusedJobs: Number(raw.refused_jobs ?? 0),
  };
}
