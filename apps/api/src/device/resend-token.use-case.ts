/**
 * PATCH /account/{account_key}/device/{device_key}/resend_token: queue a new
 * token for a device waiting for approval, and answer at once (202). The
 * worker generates and sends the token; the previous one stops working then.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { ApiConfig } from '@lib/config';
import { DeviceStatus, DomainError, ErrorCodes, type ContactType } from '@lib/domain';
import { DeviceRepository, DirectoryRepository, type RecordsReadWithReplayCheck } from '@lib/store';
import { APP_CONFIG } from '../infrastructure/tokens';
import { checkAccount } from './account-access';
import { statusResponse, type DeviceStatusResponse } from './device-response';
import { TokenSender } from './token-sender';

export interface ResendTokenCommand {
  clientKey: string;
  accountKey: string;
  deviceKey: string;
  /** Absent: the channel the device was created with. */
  contactType?: ContactType;
  requestId: string;
  /** The account and device as authentication read them (the replay check's round trip); read here when absent. */
  read?: RecordsReadWithReplayCheck;
}

@Injectable()
export class ResendTokenUseCase {
  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    private readonly directory: DirectoryRepository,
    private readonly devices: DeviceRepository,
    private readonly sender: TokenSender,
  ) {}

  async execute(cmd: ResendTokenCommand): Promise<DeviceStatusResponse> {
    const [accountRecord, device] =
      cmd.read && cmd.read.accountKey === cmd.accountKey && cmd.read.deviceKey === cmd.deviceKey
        ? [cmd.read.account, cmd.read.device]
        : // Both reads are in flight at once.
          await Promise.all([this.directory.getAccount(cmd.accountKey), this.devices.get(cmd.accountKey, cmd.deviceKey)]);
    const account = checkAccount(accountRecord, cmd.clientKey);
    if (!device || device.accountKey !== cmd.accountKey) throw new DomainError(ErrorCodes.deviceNotFound);
    // Early answers for the common refusals; the send request re-checks atomically.
    if (device.status === DeviceStatus.rejected || device.failedAttempts >= this.config.tokenPolicy.maxFailedAttempts) {
      throw new DomainError(ErrorCodes.attemptsExceeded);
    }
    if (device.status !== DeviceStatus.pending) throw new DomainError(ErrorCodes.invalidStatus, { device_status: device.status });

    const approver = account.approvers.find((a) => a.document_number === device.approverDocument);
    if (!approver) throw new DomainError(ErrorCodes.sendFailed, { reason: 'approver no longer registered on the account' });

    await this.sender.request({
      accountKey: cmd.accountKey,
      deviceKey: cmd.deviceKey,
      approver,
      channel: cmd.contactType ?? device.contactType,
      requestId: cmd.requestId,
    });
    return statusResponse(cmd.deviceKey, DeviceStatus.pending, device.createdAt);
  }
}
