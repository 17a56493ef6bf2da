/**
 * PUT /account/{account_key}/device/{device_key}/validate: check the code.
 *
 * An attempt is reserved atomically before comparing, under every limit at
 * once (the device's failed-attempt limit and the guess budgets of its
 * approver and of its account over a rolling day), so concurrent guesses can
 * never get past one; a match gives the attempt back and registers the
 * device, a miss keeps it counted and, at the device's limit, locks the
 * device. The expected code is re-derived from the dispatch's nonce (kept in
 * the store only) and compared in constant time.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ApiConfig } from '@lib/config';
import { DeviceStatus, DomainError, ErrorCodes, TokenCrypto } from '@lib/domain';
import { DeviceRepository, type AttemptLimits } from '@lib/store';
import { APP_CONFIG } from '../infrastructure/tokens';
import { ApiMetrics } from '../observability/api-metrics';
import { AccountAccess } from './account-access';
import { statusResponse, type DeviceStatusResponse } from './device-response';

export interface ValidateTokenCommand {
  clientKey: string;
  accountKey: string;
  deviceKey: string;
  token: string;
}

@Injectable()
export class ValidateTokenUseCase {
  private readonly logger = new Logger('ValidateToken');
  private readonly limits: AttemptLimits;

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    private readonly accounts: AccountAccess,
    private readonly devices: DeviceRepository,
    private readonly crypto: TokenCrypto,
    private readonly metrics: ApiMetrics,
  ) {
    this.limits = {
      maxFailedAttempts: config.tokenPolicy.maxFailedAttempts,
      perApprover: config.guessLimits.perApprover,
      perAccount: config.guessLimits.perAccount,
      windowMs: config.guessLimits.windowSeconds * 1000,
    };
  }

  async execute(cmd: ValidateTokenCommand): Promise<DeviceStatusResponse> {
    const { length } = this.config.tokenPolicy;
    if (cmd.token.length !== length) {
      throw new DomainError(ErrorCodes.schema, { errors: [{ field: 'token', reason: `must have ${length} characters` }] });
    }
    await this.accounts.require(cmd.clientKey, cmd.accountKey);
    const max = this.limits.maxFailedAttempts;
    const reserved = await this.devices.reserveAttempt(cmd.accountKey, cmd.deviceKey, this.limits, Date.now());
    switch (reserved.outcome) {
      case 'not_found':
        throw new DomainError(ErrorCodes.deviceNotFound);
      case 'locked':
        throw new DomainError(ErrorCodes.attemptsExceeded);
      case 'invalid_status':
        throw new DomainError(ErrorCodes.invalidStatus, { device_status: reserved.status });
      case 'expired':
        throw new DomainError(ErrorCodes.tokenExpired);
      case 'approver_budget':
      case 'account_budget': {
        const perApprover = reserved.outcome === 'approver_budget';
        this.metrics.guessLimitHit(perApprover ? 'per_approver' : 'per_account');
        this.logger.warn(
          `account ${cmd.accountKey}: failed-validation budget ${perApprover ? `of the device's approver (${this.limits.perApprover}` : `of the account (${this.limits.perAccount}`} in ${this.config.guessLimits.windowSeconds} s) reached; device ${cmd.deviceKey} refused`,
        );
        throw new DomainError(ErrorCodes.guessBudgetExhausted, {
          limit: perApprover ? 'failed_validations_per_approver' : 'failed_validations_per_account',
          window_seconds: this.config.guessLimits.windowSeconds,
          retry_after_seconds: Math.ceil(reserved.retryAfterMs / 1000),
        });
      }
      case 'reserved':
        break;
    }

    if (this.crypto.matches(reserved.tokenDispatchId, reserved.codeNonce, cmd.token)) {
      const done = await this.devices.completeValidation(cmd.accountKey, cmd.deviceKey, reserved, Date.now());
      if (done.outcome === 'created') return statusResponse(cmd.deviceKey, DeviceStatus.created, done.createdAt);
      // A resend replaced the code between reservation and completion.
      throw new DomainError(ErrorCodes.incorrectToken, { attempts_remaining: Math.max(0, max - reserved.failedAttempts + 1) });
    }

    const failed = await this.devices.failValidation(cmd.accountKey, cmd.deviceKey, max, Date.now());
    if (failed.locked) throw new DomainError(ErrorCodes.attemptsExceeded, { failed_attempts: failed.failedAttempts });
    throw new DomainError(ErrorCodes.incorrectToken, { attempts_remaining: max - failed.failedAttempts });
  }
}
