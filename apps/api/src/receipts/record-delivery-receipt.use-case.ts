/**
 * Records a delivery receipt on the dispatch whose message it reports, so the
 * query endpoint's `token_dispatch` shows whether the token reached the phone.
 * A receipt for a message we cannot trace (sent before the id was kept, over
 * 7 days ago, or another system's) is acknowledged and ignored: Twilio should
 * stop sending it, and there is nothing to record it on.
 */
import { Injectable, Logger } from '@nestjs/common';
import { DeviceRepository } from '@lib/store';
import { twilioStatusRank } from './twilio-status-callback';

/**
 * The provider name the worker records Twilio sends under (`TWILIO_PROVIDER`
 * in @lib/notifications, not imported: that lib would load the provider SDKs
 * into the api).
 */
const TWILIO_PROVIDER = 'twilio';

export interface TwilioReceipt {
  messageSid: string;
  status: string;
  /** Twilio's numeric error code, when the message failed. */
  errorCode?: string;
  requestId: string;
}

export type ReceiptOutcome = 'recorded' | 'stale' | 'unknown_message';

@Injectable()
export class RecordDeliveryReceiptUseCase {
  private readonly logger = new Logger('DeliveryReceipts');

  constructor(private readonly devices: DeviceRepository) {}

  async execute(receipt: TwilioReceipt): Promise<ReceiptOutcome> {
    const { messageSid, status, requestId } = receipt;
    const dispatchId = await this.devices.dispatchIdForProviderMessage(TWILIO_PROVIDER, messageSid);
    if (!dispatchId) {
      this.logger.warn({ requestId }, `[request ${requestId}] receipt for unknown message ${messageSid} (${status}): ignored`);
      return 'unknown_message';
    }
    const errorCode = receipt.errorCode ? `twilio_${receipt.errorCode}` : undefined;
    const result = await this.devices.recordDelivery(dispatchId, {
      provider: TWILIO_PROVIDER,
      providerMessageId: messageSid,
      status,
      rank: twilioStatusRank(status),
      errorCode,
      atMs: Date.now(),
    });
    const what = `[request ${requestId}] [dispatch ${dispatchId}] message ${messageSid} ${status}${errorCode ? ` (${errorCode})` : ''}`;
    switch (result) {
      case 'recorded':
        this.logger.log({ requestId, dispatchId }, `${what}: recorded`);
        return 'recorded';
      case 'stale':
        this.logger.log({ requestId, dispatchId }, `${what}: ignored, a later status is already recorded`);
        return 'stale';
      default:
        // The dispatch expired, or it no longer names this message.
        this.logger.warn({ requestId, dispatchId }, `${what}: ignored, ${result === 'gone' ? 'the dispatch is gone' : 'the dispatch carried another message'}`);
        return 'unknown_message';
    }
  }
}
