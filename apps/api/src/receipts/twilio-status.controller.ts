/**
 * Twilio's delivery receipts (ours): `POST /webhooks/twilio/status`, the
 * `StatusCallback` the worker gives Twilio with every SMS. Signed by Twilio,
 * not by a client, so the device API's authentication does not apply.
 * Answers 204 to every authentic receipt, known message or not, so Twilio
 * never retries one.
 */
import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ZodPipe } from '../http/zod-pipe';
import { AcceptsFormBody } from './form-body';
import { RecordDeliveryReceiptUseCase } from './record-delivery-receipt.use-case';
import { TwilioSignatureGuard } from './twilio-signature.guard';
import { TwilioStatusCallbackBody } from './twilio-status-callback';

@Controller('webhooks/twilio')
@UseGuards(TwilioSignatureGuard)
export class TwilioStatusController {
  constructor(private readonly recordReceipt: RecordDeliveryReceiptUseCase) {}

  @Post('status')
  @HttpCode(204)
  @AcceptsFormBody()
  async status(@Body(new ZodPipe(TwilioStatusCallbackBody, '')) body: TwilioStatusCallbackBody, @Req() req: FastifyRequest): Promise<void> {
    await this.recordReceipt.execute({
      messageSid: body.MessageSid,
      status: body.MessageStatus,
      errorCode: body.ErrorCode || undefined,
      requestId: req.id,
    });
  }
}
