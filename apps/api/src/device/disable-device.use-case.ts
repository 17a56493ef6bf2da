/**
 * DELETE /account/{account_key}/device/{device_key}/disable. Idempotent (ours):
 * disabling a disabled device answers 200 again without a new status event.
 */
import { Injectable } from '@nestjs/common';
import { DeviceStatus, DomainError, ErrorCodes } from '@lib/domain';
import { DeviceRepository } from '@lib/store';
import { AccountAccess } from './account-access';
import { statusResponse, type DeviceStatusResponse } from './device-response';

@Injectable()
export class DisableDeviceUseCase {
  constructor(
    private readonly accounts: AccountAccess,
    private readonly devices: DeviceRepository,
  ) {}

  async execute(cmd: { clientKey: string; accountKey: string; deviceKey: string }): Promise<DeviceStatusResponse> {
    await this.accounts.require(cmd.clientKey, cmd.accountKey);
    const result = await this.devices.disable(cmd.accountKey, cmd.deviceKey, Date.now());
    if (result.outcome === 'not_found') throw new DomainError(ErrorCodes.deviceNotFound);
    return statusResponse(cmd.deviceKey, DeviceStatus.disabled, result.createdAt);
  }
}
