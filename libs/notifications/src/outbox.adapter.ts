/**
 * Development transport, used when no provider credentials are configured:
 * each message becomes one JSON line appended to a local file, so a developer
 * can read the token without a Twilio or SES account. It writes to that file
 * only (never the console or a logger): the body holds the token. A line
 * names its send (account, device, dispatch) when the sender gave them; the
 * CLI's `outbox` command and `demo --validate` read the file by device.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EmailMessage, EmailSender, MessageReference, SendReceipt, SmsMessage, SmsSender } from './notification.port';

/** One line of the outbox file (JSON), in this order. */
export interface OutboxRecord {
  at: string;
  channel: 'sms' | 'email';
  to: string;
  subject?: string;
  body: string;
  id: string;
  account_key?: string;
  device_key?: string;
  dispatch_id?: string;
}

const referenceFields = (reference: MessageReference | undefined) =>
  reference ? { account_key: reference.accountKey, device_key: reference.deviceKey, dispatch_id: reference.dispatchId } : {};

async function appendRecord(
  path: string,
  record: Pick<OutboxRecord, 'channel' | 'to' | 'subject' | 'body'>,
  reference: MessageReference | undefined,
): Promise<SendReceipt> {
  const line: OutboxRecord = { at: new Date().toISOString(), ...record, id: `outbox-${randomUUID()}`, ...referenceFields(reference) };
  await mkdir(dirname(path), { recursive: true });
  // One write per line with O_APPEND keeps concurrent lines whole; 0600 because the lines hold live tokens.
  await appendFile(path, `${JSON.stringify(line)}\n`, { encoding: 'utf8', mode: 0o600 });
  return { providerMessageId: line.id };
}

export class OutboxSmsAdapter implements SmsSender {
  readonly provider = 'outbox';

  constructor(private readonly path: string) {}

  sendSms(message: SmsMessage): Promise<SendReceipt> {
    return appendRecord(this.path, { channel: 'sms', to: message.to, body: message.body }, message.reference);
  }
}

export class OutboxEmailAdapter implements EmailSender {
  readonly provider = 'outbox';

  constructor(private readonly path: string) {}

  sendEmail(message: EmailMessage): Promise<SendReceipt> {
    return appendRecord(this.path, { channel: 'email', to: message.to, subject: message.subject, body: message.body }, message.reference);
  }
}
