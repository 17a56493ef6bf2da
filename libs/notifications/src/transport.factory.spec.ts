import { OutboxEmailAdapter, OutboxSmsAdapter } from './outbox.adapter';
import { SesEmailAdapter } from './ses-email.adapter';
import { createEmailSender, createSmsSender } from './transport.factory';
import { TwilioSmsAdapter } from './twilio-sms.adapter';

describe('transport factory', () => {
  it('builds the SMS sender from its kind', () => {
    expect(createSmsSender({ kind: 'outbox', path: '/tmp/x.log' }, 1_000)).toBeInstanceOf(OutboxSmsAdapter);
    const twilio = createSmsSender({ kind: 'twilio', accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'token', fromNumber: '+15005550006' }, 1_000);
    expect(twilio).toBeInstanceOf(TwilioSmsAdapter);
    expect(twilio.provider).toBe('twilio');
  });

  it('builds the e-mail sender from its kind', () => {
    expect(createEmailSender({ kind: 'outbox', path: '/tmp/x.log' }, 1_000)).toBeInstanceOf(OutboxEmailAdapter);
    const ses = createEmailSender({ kind: 'ses', fromAddress: 'no-reply@example.org', region: 'eu-west-1' }, 1_000);
    expect(ses).toBeInstanceOf(SesEmailAdapter);
    expect(ses.provider).toBe('ses');
  });
});
