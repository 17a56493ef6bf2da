/** Delivery receipts from the SMS provider (Twilio status callbacks). */
import { Module } from '@nestjs/common';
import { RecordDeliveryReceiptUseCase } from './record-delivery-receipt.use-case';
import { TwilioSignatureGuard } from './twilio-signature.guard';
import { TwilioStatusController } from './twilio-status.controller';

@Module({
  controllers: [TwilioStatusController],
  providers: [TwilioSignatureGuard, RecordDeliveryReceiptUseCase],
})
export class ReceiptsModule {}
