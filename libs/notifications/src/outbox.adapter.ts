/**
 * Development transport, used when no provider credentials are configured:
 * each message becomes one JSON line appended to a local file, so a developer
 * can read the token without a Twilio or SES account. It writes to that file
 * only (never the console or a logger): the body holds the token.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EmailMessage, EmailSender, SendReceipt, SmsMessage, SmsSender } from './notification.port';

export interface OutboxRecord {
  at: string;
  channel: 'sms' | 'email';
  to: string;
  subject?: string;
  body: string;
  id: string;
}

async function appendRecord(path: string, record: Omit<OutboxRecord, 'at' | 'id'>): Promise<SendReceipt> {
  const line: OutboxRecord = { at: new Date().toISOString(), ...record, id: `outbox-${randomUUID()}` };
  await mkdir(dirname(path), { recursive: true });
  // One write per line with O_APPEND keeps concurrent lines whole; 0600 because the lines hold live tokens.
  await appendFile(path, `${JSON.stringify(line)}\n`, { encoding: 'utf8', mode: 0o600 });
  return { providerMessageId: line.id };
}

export class OutboxSmsAdapter implements SmsSender {
  readonly provider = 'outbox';

  constructor(private readonly path: string) {}

  sendSms(message: SmsMessage): Promise<SendReceipt> {
    return appendRecord(this.path, { channel: 'sms', to: message.to, body: message.body });
  }
}

export class OutboxEmailAdapter implements EmailSender {
  readonly provider = 'outbox';

  constructor(private readonly path: string) {}

  sendEmail(message: EmailMessage): Promise<SendReceipt> {
    return appendRecord(this.path, { channel: 'email', to: message.to, subject: message.subject, body: message.body });
  }
}
