/**
 * What Twilio posts to a message's `StatusCallback`, and how its statuses
 * order. Twilio sends more fields (To, From, ApiVersion, SmsSid, SmsStatus…);
 * they are accepted and ignored. `To` is contact data: never log the body.
 */
import { z } from 'zod';

export const TwilioStatusCallbackBody = z
  .object({
    MessageSid: z.string().regex(/^[A-Z]{2}[0-9a-f]{32}$/, 'must be a Twilio message SID'),
    MessageStatus: z.string().regex(/^[a-z_]{1,32}$/, 'must be a Twilio message status'),
    /** Twilio's error code for `failed` / `undelivered` (e.g. 30003: unreachable handset). */
    ErrorCode: z
      .string()
      .regex(/^\d{0,10}$/, 'must be a Twilio error code')
      .optional(),
    AccountSid: z.string().max(64).optional(),
  })
  .loose();
export type TwilioStatusCallbackBody = z.infer<typeof TwilioStatusCallbackBody>;

/**
 * A message's life: queued → sending → sent → delivered | undelivered | failed
 * (→ read, on channels that report it). Callbacks can arrive out of order, so
 * a receipt never replaces one further along. Statuses Twilio may add later
 * rank lowest: recorded, but never over a known one.
 */
const RANK: Readonly<Record<string, number>> = {
  accepted: 1,
  scheduled: 1,
  queued: 1,
  sending: 2,
  sent: 3,
  delivered: 4,
  undelivered: 4,
  failed: 4,
  canceled: 4,
  partially_delivered: 4,
  read: 5,
};

export function twilioStatusRank(status: string): number {
  return Object.prototype.hasOwnProperty.call(RANK, status) ? RANK[status] : 0;
}
