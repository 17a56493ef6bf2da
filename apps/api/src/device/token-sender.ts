/**
 * Requests a token send for a device: applies coalescing and the send caps
 * and records the dispatch as pending, in one atomic Lua script, then queues
 * its job. Shared by create and resend, which differ only in whether the
 * device is new.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { ApiConfig } from '@lib/config';
import { DomainError, ErrorCodes, TokenCrypto, destinationOf, maskDestination, type Approver, type ContactType } from '@lib/domain';
import { DeviceRepository, type NewDevice } from '@lib/store';
import { DispatchQueue } from '../infrastructure/dispatch-queue';
import { WriteAcknowledgement } from '../infrastructure/write-ack';
import { APP_CONFIG } from '../infrastructure/tokens';
import { ApiMetrics } from '../observability/api-metrics';

export interface SendRequest {
  accountKey: string;
  deviceKey: string;
  approver: Approver;
  channel: ContactType;
  requestId: string;
  /** Present when the device is being created by this request. */
  create?: Pick<NewDevice, 'sessionId' | 'contactType' | 'approverDocument'>;
}

@Injectable()
export class TokenSender {
  private readonly logger = new Logger('TokenSender');

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    private readonly devices: DeviceRepository,
    private readonly queue: DispatchQueue,
    private readonly writes: WriteAcknowledgement,
    private readonly crypto: TokenCrypto,
    private readonly metrics: ApiMetrics,
  ) {}

  /** Returns the device's creation time when the device was created now. */
  async request(req: SendRequest): Promise<{ createdAt?: string }> {
    const destination = destinationOf(req.approver, req.channel);
    const limits = this.config.sendLimits;
    const dispatchId = randomUUID();
    const nowMs = Date.now();
    const result = await this.devices.requestDispatch(
      {
        accountKey: req.accountKey,
        deviceKey: req.deviceKey,
        dispatchId,
        requestId: req.requestId,
        channel: req.channel,
        codeNonce: TokenCrypto.newCodeNonce(),
        destinationDigest: this.crypto.destinationDigest(req.channel, destination),
        maskedDestination: maskDestination(req.channel, destination),
        nowMs,
        maxFailedAttempts: this.config.tokenPolicy.maxFailedAttempts,
        coalesceMs: limits.coalesceWindowSeconds * 1000,
        perDeviceCap: limits.perDevice,
        perDestinationCap: limits.perDestination,
        windowMs: limits.windowSeconds * 1000,
        dispatchTtlSeconds: this.config.lifetimes.dispatchSeconds,
        pendingDeviceTtlSeconds: this.config.lifetimes.pendingDeviceSeconds,
      },
      req.create && {
        ...req.create,
        creationCap: this.config.guessLimits.deviceCreationsPerAccount,
        creationWindowMs: this.config.guessLimits.deviceCreationWindowSeconds * 1000,
      },
    );
    this.metrics.sendRequested(result.outcome);

    switch (result.outcome) {
      case 'queued':
      case 'coalesced':
        // The dispatch is recorded and pending: now its job. On a coalesced
        // request too (same job id, so a no-op when it exists), so a client's
        // retry repairs a job lost to a crash between the two steps. Until the
        // job runs, the worker's repair would add it as well (see
        // PENDING_DISPATCHES): a 202 means the send will happen.
        await this.queue.add({ dispatchId: result.dispatchId, requestId: result.requestId }, result.channel);
        // With REDIS_MIN_REPLICAS_ACK set, a 202 also means the writes are on that many replicas.
        if (!(await this.writes.replicated())) throw new DomainError(ErrorCodes.sendFailed, { reason: 'replication_timeout' });
        return { createdAt: result.createdAt };
      case 'exists':
        throw new DomainError(ErrorCodes.deviceExists);
      case 'not_found':
        throw new DomainError(ErrorCodes.deviceNotFound);
      case 'locked':
        throw new DomainError(ErrorCodes.attemptsExceeded);
      case 'invalid_status':
        throw new DomainError(ErrorCodes.invalidStatus, { device_status: result.status });
      case 'creation_cap':
        this.logger.warn(
          `account ${req.accountKey}: new-device limit reached (${this.config.guessLimits.deviceCreationsPerAccount} in ${this.config.guessLimits.deviceCreationWindowSeconds} s)`,
        );
        throw new DomainError(ErrorCodes.tooManyDevices, {
          limit: 'device_creations_per_account',
          window_seconds: this.config.guessLimits.deviceCreationWindowSeconds,
          retry_after_seconds: Math.ceil(result.retryAfterMs / 1000),
        });
      case 'device_cap':
      case 'destination_cap':
        throw new DomainError(ErrorCodes.tooManyRequests, {
          limit: result.outcome === 'device_cap' ? 'per_device' : 'per_destination',
          window_seconds: limits.windowSeconds,
          retry_after_seconds: Math.ceil(result.retryAfterMs / 1000),
        });
    }
  }
}
