/** GET /account/{account_key}/device/{device_key}: status, history and the latest dispatch. Never the token. */
import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCodes } from '@lib/domain';
import { DeviceRepository } from '@lib/store';
import { AccountAccess } from './account-access';
import { detailsResponse, type DeviceDetailsResponse } from './device-response';

@Injectable()
export class QueryDeviceUseCase {
  constructor(
    private readonly accounts: AccountAccess,
    private readonly devices: DeviceRepository,
  ) {}

  async execute(cmd: { clientKey: string; accountKey: string; deviceKey: string }): Promise<DeviceDetailsResponse> {
    await this.accounts.require(cmd.clientKey, cmd.accountKey);
    const view = await this.devices.view(cmd.accountKey, cmd.deviceKey);
    if (!view || view.device.accountKey !== cmd.accountKey) throw new DomainError(ErrorCodes.deviceNotFound);
    return detailsResponse(view);
  }
}
