/**
 * Chooses the delivery adapter from the validated configuration: the
 * provider when its settings are present, the development outbox otherwise
 * (config refuses the outbox in production).
 */
import type { SmsTransportConfig, EmailTransportConfig } from '@lib/config';
import type { EmailSender, SmsSender } from './notification.port';
import { OutboxEmailAdapter, OutboxSmsAdapter } from './outbox.adapter';
import { SesEmailAdapter } from './ses-email.adapter';
import { TwilioSmsAdapter } from './twilio-sms.adapter';

function unknownKind(kind: never): never {
  throw new Error(`Unknown transport kind: ${String(kind)}`);
}

export interface SmsSenderOptions {
  /** Public URL of the api's delivery-receipt endpoint (`TWILIO_STATUS_CALLBACK_URL`). */
  statusCallbackUrl?: string;
}

export function createSmsSender(config: SmsTransportConfig, timeoutMs: number, options: SmsSenderOptions = {}): SmsSender {
  switch (config.kind) {
    case 'twilio':
      return new TwilioSmsAdapter({ ...config, statusCallback: options.statusCallbackUrl }, timeoutMs);
    case 'outbox':
      return new OutboxSmsAdapter(config.path);
    default:
      return unknownKind(config);
  }
}

export function createEmailSender(config: EmailTransportConfig, timeoutMs: number): EmailSender {
  switch (config.kind) {
    case 'ses':
      return new SesEmailAdapter(config, timeoutMs);
    case 'outbox':
      return new OutboxEmailAdapter(config.path);
    default:
      return unknownKind(config);
  }
}
