/**
 * Ports for delivering a token to an approver. The worker depends on these
 * interfaces only; Twilio, SES and the development outbox are adapters.
 * Adapters are stateless per call and safe under concurrency.
 */
export interface SendReceipt {
  /** The provider's id for the message (Twilio SID, SES MessageId, outbox id). */
  providerMessageId: string;
}

/**
 * Which send a message is: ids only, no contact data and no code. The
 * development outbox writes them beside the message, so the CLI can find a
 * device's latest code (`npm run cli -- outbox --device KEY`); the providers
 * ignore them.
 */
export interface MessageReference {
  accountKey: string;
  deviceKey: string;
  dispatchId: string;
}

export interface SmsMessage {
  /** E.164 phone number. */
  to: string;
  body: string;
  reference?: MessageReference;
}

export interface EmailMessage {
  to: string;
  subject: string;
  body: string;
  reference?: MessageReference;
}

export interface SmsSender {
  readonly provider: string;
  sendSms(message: SmsMessage): Promise<SendReceipt>;
}

export interface EmailSender {
  readonly provider: string;
  sendEmail(message: EmailMessage): Promise<SendReceipt>;
}

export const SMS_SENDER = Symbol('SmsSender');
export const EMAIL_SENDER = Symbol('EmailSender');

/**
 * A failure worth retrying: network error, timeout, 5xx, 429/throttling.
 * `code` is short, stable and free of personal data (e.g. `http_503`,
 * `network_ECONNRESET`, `timeout`, `twilio_20429`, `ses_TooManyRequestsException`).
 */
export class TransientSendError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'TransientSendError';
  }
}

/**
 * The provider refused the send for its rate (Twilio 429 / 20429 / 21611, SES
 * throttling): every other send through it would be refused too, so the
 * worker pauses that provider's sends rather than try them.
 */
export class ProviderRateLimitError extends TransientSendError {
  constructor(code: string, message: string, retryAfterMs?: number) {
    super(code, message, retryAfterMs);
    this.name = 'ProviderRateLimitError';
  }
}

/** A failure that retrying cannot fix: invalid number, rejected address, bad credentials. */
export class PermanentSendError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentSendError';
  }
}

export type SendError = TransientSendError | PermanentSendError;
