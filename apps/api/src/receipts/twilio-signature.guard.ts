/**
 * Accepts a delivery receipt only when `X-Twilio-Signature` proves Twilio sent
 * it: HMAC-SHA1, keyed by our auth token, over the callback URL and the sorted
 * form fields, checked by the Twilio SDK's own `validateRequest`. The URL is
 * the configured public one (TWILIO_STATUS_CALLBACK_URL), not the one this
 * process sees behind a proxy: that is the URL Twilio signed.
 * A refusal is 403 DTS000012 and changes nothing.
 */
import { Inject, Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
// The SDK's own `twilio.validateRequest`, from its module: loading the whole
// SDK (its REST client) would add a quarter of a second to the api's start.
import twilio from 'twilio';
import type { ApiConfig } from '@lib/config';
import { DomainError, ErrorCodes } from '@lib/domain';
import { APP_CONFIG } from '../infrastructure/tokens';

@Injectable()
export class TwilioSignatureGuard implements CanActivate {
  private readonly logger = new Logger('DeliveryReceipts');
  private readonly authToken?: string;
  private readonly url?: string;

  constructor(@Inject(APP_CONFIG) config: ApiConfig) {
    this.authToken = config.receipts?.authToken;
    this.url = config.receipts?.callbackUrl;
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const header = req.headers['x-twilio-signature'];
    const signature = Array.isArray(header) ? header[0] : header;
    if (!signature) throw new DomainError(ErrorCodes.webhookSignatureInvalid, { reason: 'X-Twilio-Signature header missing' });

    if (!this.authToken || !this.url) {
      // Without both there is nothing to check the signature against.
      this.logger.warn(
        { requestId: req.id },
        `request ${req.id}: delivery receipt refused: set TWILIO_STATUS_CALLBACK_URL and TWILIO_AUTH_TOKEN to accept receipts`,
      );
      throw new DomainError(ErrorCodes.webhookSignatureInvalid);
    }
    const params = typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
    if (!twilio.validateRequest(this.authToken, signature, this.url, params)) {
      this.logger.warn(
        { requestId: req.id },
        `request ${req.id}: delivery receipt refused: the signature does not match (is TWILIO_STATUS_CALLBACK_URL the URL Twilio calls?)`,
      );
      throw new DomainError(ErrorCodes.webhookSignatureInvalid);
    }
    return true;
  }
}
