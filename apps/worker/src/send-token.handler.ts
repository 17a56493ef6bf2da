/**
 * One send-token job: make the token, then in one Redis script re-check the
 * device and its approver and store only the token's keyed hash (which
 * invalidates the previous token), hand the token to the provider, and
 * record the outcome on the dispatch.
 *
 * Retries of the same job re-create the same token (see TokenCrypto), so one
 * request never produces two different codes. Failures are never swallowed:
 * a transient one is re-thrown for BullMQ's backoff, a permanent one fails
 * the job at once (UnrecoverableError) and both are recorded on the dispatch.
 * Once the provider has accepted the message the job no longer fails (a
 * retry would send it twice): recording the send is retried for a while, and
 * a send that could not be recorded is logged as a warning.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import type { AppConfig } from '@lib/config';
import type { SendTokenPayload } from '@lib/dispatch-contract';
import { TokenCrypto, destinationOf, maskDestination, tokenExpiresAt } from '@lib/domain';
import {
  EMAIL_SENDER,
  PermanentSendError,
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

export type SendTokenResult =
  | { outcome: 'sent'; provider: string; provider_message_id: string }
  | { outcome: 'skipped'; reason: string };

@Injectable()
export class SendTokenHandler {
  private readonly logger = new Logger('SendToken');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly devices: DeviceRepository,
    private readonly crypto: TokenCrypto,
    @Inject(SMS_SENDER) private readonly sms: SmsSender,
    @Inject(EMAIL_SENDER) private readonly email: EmailSender,
  ) {}

  async handle(job: Job<SendTokenPayload>): Promise<SendTokenResult> {
    const { dispatchId, deviceKey, accountKey, channel, requestId } = job.data;
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const log = (msg: string) => `[request ${requestId}] [dispatch ${dispatchId}] ${msg}`;

    // One round trip: the approver's lookup, the checks and the arming (ARM_TOKEN).
    const token = this.crypto.tokenFor(dispatchId);
    const armed = await this.devices.armToken({
      accountKey,
      deviceKey,
      dispatchId,
      tokenHash: this.crypto.hashToken(deviceKey, token),
      expiresAtMs: tokenExpiresAt(this.config.tokenPolicy, Date.now()),
      attempt,
    });
    if (armed.outcome === 'approver_missing') {
      // Recorded on the dispatch as failed by the script.
      this.logger.warn(log('failed: the approver is no longer registered on the account'));
      throw new UnrecoverableError('approver_missing');
    }
    const approver = armed.outcome === 'armed' ? armed.approver : undefined;
    if (!approver) {
      this.logger.log(log(`skipped: ${armed.outcome}`));
      return { outcome: 'skipped', reason: armed.outcome };
    }

    const destination = destinationOf(approver, channel);
    const masked = maskDestination(channel, destination);
    let receipt: SendReceipt;
    const sender = channel === 'sms' ? this.sms : this.email;
    try {
      const values = { code: token, minutes: ttlMinutes(this.config.tokenPolicy.ttlSeconds), name: approver.name };
      receipt =
        channel === 'sms'
          ? await this.sms.sendSms({ to: destination, body: renderSms(this.config.messages, values) })
          : await this.email.sendEmail({ to: destination, ...renderEmail(this.config.messages, values) });
    } catch (err) {
      const permanent = err instanceof PermanentSendError;
      const code = err instanceof PermanentSendError || err instanceof TransientSendError ? err.code : 'unexpected_error';
      const final = permanent || attempt >= maxAttempts;
      await this.devices.markFailure(dispatchId, final ? 'failed' : 'retrying', code, attempt);
      this.logger.warn(log(`${channel} to ${masked} via ${sender.provider} failed (attempt ${attempt}/${maxAttempts}, ${code}${final ? ', giving up' : ', will retry'})`));
      if (permanent) throw new UnrecoverableError(code);
      if (err instanceof TransientSendError) throw err;
      // Unknown failures are retried too, but without their text, which could echo request data.
      throw new TransientSendError(code, `unexpected ${err instanceof Error ? err.name : 'error'} from ${sender.provider}`);
    }

    // The provider has the message now: from here on the job must not fail, or
    // its retry would send the same token a second time. A Redis outage only
    // delays (and at worst loses) the record of the send.
    const handed = `${channel} to ${masked} handed to ${sender.provider} (attempt ${attempt}, message ${receipt.providerMessageId})`;
    const recorded = await this.recordSent(() =>
      this.devices.markSent(deviceKey, dispatchId, sender.provider, receipt.providerMessageId, tokenExpiresAt(this.config.tokenPolicy, Date.now()), attempt),
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
