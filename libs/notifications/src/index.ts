export * from './notification.port';
export * from './message-renderer';
export * from './outbox.adapter';
export * from './twilio-sms.adapter';
export * from './ses-email.adapter';
export * from './transport.factory';
