/** POST /account/{account_key}/device: register a device and send its first token. */
import { Injectable } from '@nestjs/common';
import { DeviceStatus, DomainError, ErrorCodes } from '@lib/domain';
import { AccountAccess } from './account-access';
import type { CreateDeviceBody } from './device.schemas';
import { statusResponse, type DeviceStatusResponse } from './device-response';
import { TokenSender } from './token-sender';

export interface CreateDeviceCommand {
  clientKey: string;
  accountKey: string;
  body: CreateDeviceBody;
  requestId: string;
}

@Injectable()
export class CreateDeviceUseCase {
  constructor(
    private readonly accounts: AccountAccess,
    private readonly sender: TokenSender,
  ) {}

  async execute(cmd: CreateDeviceCommand): Promise<DeviceStatusResponse> {
    const account = await this.accounts.require(cmd.clientKey, cmd.accountKey);
    const { approver_document_number: document, contact_type: channel } = cmd.body.tfa_info;
    const approver = account.approvers.find((a) => a.document_number === document);
    if (!approver) throw new DomainError(ErrorCodes.notAnApprover);

    const { createdAt } = await this.sender.request({
      accountKey: cmd.accountKey,
      deviceKey: cmd.body.device_key,
      approver,
      channel,
      requestId: cmd.requestId,
      create: { sessionId: cmd.body.session_id, contactType: channel, approverDocument: document },
    });
    return statusResponse(cmd.body.device_key, DeviceStatus.pending, createdAt!);
  }
}
