/**
 * PUT /account/{account_key}/device/{device_key}/validate: check the token.
 *
 * An attempt is reserved atomically before comparing, so concurrent guesses
 * can never get past the limit; a match gives the attempt back and registers
 * the device, a miss keeps it counted and, at the limit, locks the device.
 * Comparison is of keyed hashes, in constant time.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@lib/config';
import { DeviceStatus, DomainError, ErrorCodes, TokenCrypto } from '@lib/domain';
import { DeviceRepository } from '@lib/store';
import { APP_CONFIG } from '../infrastructure/tokens';
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
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly accounts: AccountAccess,
    private readonly devices: DeviceRepository,
    private readonly crypto: TokenCrypto,
  ) {}

  async execute(cmd: ValidateTokenCommand): Promise<DeviceStatusResponse> {
    const { length } = this.config.tokenPolicy;
    if (cmd.token.length !== length) {
      throw new DomainError(ErrorCodes.schema, { errors: [{ field: 'token', reason: `must have ${length} characters` }] });
    }
    await this.accounts.require(cmd.clientKey, cmd.accountKey);
    const max = this.config.tokenPolicy.maxFailedAttempts;
    const reserved = await this.devices.reserveAttempt(cmd.accountKey, cmd.deviceKey, max, Date.now());
    switch (reserved.outcome) {
      case 'not_found':
        throw new DomainError(ErrorCodes.deviceNotFound);
      case 'locked':
        throw new DomainError(ErrorCodes.attemptsExceeded);
      case 'invalid_status':
        throw new DomainError(ErrorCodes.invalidStatus, { device_status: reserved.status });
      case 'expired':
        throw new DomainError(ErrorCodes.tokenExpired);
      case 'reserved':
        break;
    }

    if (this.crypto.matches(reserved.tokenHash, cmd.deviceKey, cmd.token)) {
      const done = await this.devices.completeValidation(cmd.deviceKey, reserved.tokenDispatchId, Date.now());
      if (done.outcome === 'created') return statusResponse(cmd.deviceKey, DeviceStatus.created, done.createdAt);
      // A resend replaced the token between reservation and completion.
      throw new DomainError(ErrorCodes.incorrectToken, { attempts_remaining: Math.max(0, max - reserved.failedAttempts + 1) });
    }

    const failed = await this.devices.failValidation(cmd.deviceKey, max, Date.now());
    if (failed.locked) throw new DomainError(ErrorCodes.attemptsExceeded, { failed_attempts: failed.failedAttempts });
    throw new DomainError(ErrorCodes.incorrectToken, { attempts_remaining: max - failed.failedAttempts });
  }
}
