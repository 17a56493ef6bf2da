/**
 * One send-token job: in one Redis script, decide from the store alone
 * whether the job may send and to whom (the job names its dispatch, nothing
 * more: ARM_TOKEN refuses one whose data was edited or forged) and arm the
 * dispatch's code on the device, which invalidates the previous one; derive
 * the code from the dispatch's nonce, hand it to the provider, and record the
 * outcome on the dispatch.
 *
 * Retries of the same job re-derive the same code (see TokenCrypto), so one
 * request never produces two different codes. Failures are never swallowed:
 * a transient one is re-thrown for BullMQ's backoff, a permanent one fails
 * the job at once (UnrecoverableError) and both are recorded on the dispatch.
 * Once the provider has accepted the message the job no longer fails (a
 * retry would send it twice): recording the send is retried for a while, and
 * a send that could not be recorded is logged as a warning.
 *
 * A provider that refuses a send for its rate (ProviderRateLimitError) would
 * refuse the others too: within the retry window the handler asks for that
 * provider's sends to pause (ProviderPause, which the processor turns into
 * BullMQ's rate limit of the channel's queue) and the job waits for it
 * without spending an attempt; past the window the refusal is a failed
 * attempt like any other, so a provider that never lets up still ends it.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import type { WorkerConfig } from '@lib/config';
import { currentAttempt, failsForGood, isSendTokenPayload, maxRetryWindowMs, type SendTokenPayload } from '@lib/dispatch-contract';
import { TokenCrypto, destinationOf, maskDestination, tokenExpiresAt, type ContactType } from '@lib/domain';
import {
  EMAIL_SENDER,
  PermanentSendError,
  ProviderRateLimitError,
  SMS_SENDER,
  TransientSendError,
  renderEmail,
  renderSms,
  ttlMinutes,
  type EmailSender,
  type SendReceipt,
  type SmsSender,
} from '@lib/notifications';
import { DeviceRepository } from '@lib/store';
import { APP_CONFIG } from './worker.tokens';

/** Waits between attempts to record a send the provider accepted (about 8 s in all). */
const RECORD_RETRY_WAITS_MS = [250, 500, 1_000, 2_000, 4_000];

export type SendTokenResult = { outcome: 'sent'; provider: string; provider_message_id: string } | { outcome: 'skipped'; reason: string };

/** A job refused because its data disagrees with the store (edited or forged): it never runs again. */
export class RefusedJobError extends UnrecoverableError {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'RefusedJobError';
  }
}

/** How long a provider's sends pause after a rate refusal without Retry-After, and at most. */
export const DEFAULT_PROVIDER_PAUSE_MS = 1_000;
const MAX_PROVIDER_PAUSE_MS = 60_000;

/** The provider refused a send for its rate: pause its sends for `pauseMs`, and run this job again afterwards without spending an attempt. */
export class ProviderPause extends Error {
  constructor(
    readonly provider: string,
    readonly pauseMs: number,
  ) {
    super(`${provider} rate limit: pausing its sends for ${pauseMs} ms`);
    this.name = 'ProviderPause';
  }
}

/** A string field of untrusted job data ('' if absent or not a short string), to compare with the store. */
const named = (data: unknown, field: string): string => {
  const value = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' && value.length <= 128 ? value : '';
};

/** What the observer learns of a job while it runs: the channel, once the store has said it, and when the send was requested and handed off. */
export interface SendContext {
  channel?: ContactType;
  requestedAtMs?: number;
  handedOffAtMs?: number;
}

@Injectable()
export class SendTokenHandler {
  private readonly logger = new Logger('SendToken');

  constructor(
    @Inject(APP_CONFIG) private readonly config: WorkerConfig,
    private readonly devices: DeviceRepository,
    private readonly crypto: TokenCrypto,
    @Inject(SMS_SENDER) private readonly sms: SmsSender,
    @Inject(EMAIL_SENDER) private readonly email: EmailSender,
  ) {}

  /** `queueChannel`: the channel whose queue the job came from (a job in another channel's queue is refused). */
  async handle(job: Job<SendTokenPayload>, queueChannel: ContactType, context: SendContext = {}): Promise<SendTokenResult> {
    const data: unknown = job.data;
    const wellFormed = isSendTokenPayload(data);
    const dispatchId = job.id ?? '';
    const attempt = currentAttempt(job);
    const maxAttempts = job.opts.attempts;
    const requestId = wellFormed ? data.requestId : 'unknown';
    const log = (msg: string) => `[request ${requestId}] [dispatch ${dispatchId}] ${msg}`;

    // One round trip: the store's checks and the arming (ARM_TOKEN).
    const armed = await this.devices.armToken({
      jobId: dispatchId,
      data: { dispatchId: named(data, 'dispatchId'), requestId: named(data, 'requestId'), wellFormed },
      expiresAtMs: tokenExpiresAt(this.config.tokenPolicy, Date.now()),
      attempt,
      smsAllowedCountryCodes: this.config.smsAllowedCountryCodes,
      queueChannel,
    });
    switch (armed.outcome) {
      case 'armed':
        break;
      case 'refused':
        this.logger.warn(log(`refused: the job's data does not match its dispatch in the store (${armed.reason}); nothing sent`));
        throw new RefusedJobError(armed.reason);
      case 'approver_missing':
      case 'country_not_allowed':
        // Recorded on the dispatch as failed by the script.
        this.logger.warn(
          log(
            armed.outcome === 'approver_missing'
              ? 'failed: the approver is no longer registered on the account'
              : 'failed: SMS to a country calling code not allowed (SMS_ALLOWED_COUNTRY_CODES)',
          ),
        );
        throw new UnrecoverableError(armed.outcome);
      default:
        this.logger.log(log(`skipped: ${armed.outcome}`));
        return { outcome: 'skipped', reason: armed.outcome };
    }

    const { channel, approver } = armed;
    context.channel = channel;
    context.requestedAtMs = armed.requestedAtMs;
    const code = this.crypto.codeFor(dispatchId, armed.codeNonce);
    const destination = destinationOf(approver, channel);
    const masked = maskDestination(channel, destination);
    let receipt: SendReceipt;
    const sender = channel === 'sms' ? this.sms : this.email;
    try {
      const values = { code, minutes: ttlMinutes(this.config.tokenPolicy.ttlSeconds), name: approver.name };
      const reference = { accountKey: armed.accountKey, deviceKey: armed.deviceKey, dispatchId };
      receipt =
        channel === 'sms'
          ? await this.sms.sendSms({ to: destination, body: renderSms(this.config.messages, values), reference })
          : await this.email.sendEmail({ to: destination, ...renderEmail(this.config.messages, values), reference });
    } catch (err) {
      if (err instanceof ProviderRateLimitError && Date.now() - job.timestamp < maxRetryWindowMs(this.config.retry)) {
        const pauseMs = Math.min(err.retryAfterMs ?? DEFAULT_PROVIDER_PAUSE_MS, MAX_PROVIDER_PAUSE_MS);
        await this.devices.markFailure(dispatchId, 'retrying', err.code, attempt).catch(() => undefined);
        this.logger.warn(
          log(`${channel} to ${masked} refused by ${sender.provider} for its rate (${err.code}): its sends pause ${pauseMs} ms, this one waits`),
        );
        throw new ProviderPause(sender.provider, pauseMs);
      }
      const permanent = err instanceof PermanentSendError;
      const errorCode = err instanceof PermanentSendError || err instanceof TransientSendError ? err.code : 'unexpected_error';
      const final = failsForGood(attempt, maxAttempts, permanent);
      // The provider's answer decides what happens to the job; a store that
      // cannot record it (down too) must not turn a permanent failure into a retry.
      await this.devices.markFailure(dispatchId, final ? 'failed' : 'retrying', errorCode, attempt).catch((recordErr: unknown) => {
        this.logger.warn(log(`could not record the failure on the dispatch (${recordErr instanceof Error ? recordErr.name : 'error'}: store unavailable)`));
      });
      this.logger.warn(
        log(
          `${channel} to ${masked} via ${sender.provider} failed (attempt ${attempt}/${maxAttempts ?? 1}, ${errorCode}${final ? ', giving up' : ', will retry'})`,
        ),
      );
      if (permanent) throw new UnrecoverableError(errorCode);
      if (err instanceof TransientSendError) throw err;
      // Unknown failures are retried too, but without their text, which could echo request data.
      throw new TransientSendError(errorCode, `unexpected ${err instanceof Error ? err.name : 'error'} from ${sender.provider}`);
    }

    context.handedOffAtMs = Date.now();
    // The provider has the message now: from here on the job must not fail, or
    // its retry would send the same code a second time. A Redis outage only
    // delays (and at worst loses) the record of the send.
    const handed = `${channel} to ${masked} handed to ${sender.provider} (attempt ${attempt}, message ${receipt.providerMessageId})`;
    const target = { accountKey: armed.accountKey, deviceKey: armed.deviceKey, dispatchId };
    const recorded = await this.recordSent(() =>
      this.devices.markSent(
        target,
        { provider: sender.provider, providerMessageId: receipt.providerMessageId, ttlSeconds: this.config.lifetimes.providerMessageSeconds },
        tokenExpiresAt(this.config.tokenPolicy, Date.now()),
        attempt,
      ),
    );
    if (recorded) this.logger.log(log(handed));
    else this.logger.warn(log(`${handed}, but the send could not be recorded on the dispatch (store unavailable)`));
    return { outcome: 'sent', provider: sender.provider, provider_message_id: receipt.providerMessageId };
  }

  /** Runs `record`, retrying store failures for a few seconds; false if it never succeeded. */
  private async recordSent(record: () => Promise<void>): Promise<boolean> {
    for (const waitMs of [...RECORD_RETRY_WAITS_MS, undefined]) {
      try {
        await record();
        return true;
      } catch {
        if (waitMs === undefined) return false;
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
    return false;
  }
}
