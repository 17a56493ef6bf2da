/** Decorators of the SMS and e-mail ports that time every provider request (see WorkerMetrics). */
import type { EmailSender, SmsSender } from '@lib/notifications';
import type { WorkerMetrics } from './worker-metrics';

export function timedSmsSender(sender: SmsSender, metrics: WorkerMetrics): SmsSender {
  return {
    provider: sender.provider,
    sendSms: (message) => metrics.timeProviderRequest(sender.provider, 'sms', () => sender.sendSms(message)),
  };
}

export function timedEmailSender(sender: EmailSender, metrics: WorkerMetrics): EmailSender {
  return {
    provider: sender.provider,
    sendEmail: (message) => metrics.timeProviderRequest(sender.provider, 'email', () => sender.sendEmail(message)),
  };
}
