export * from './error-catalog';
export * from './domain-error';
export * from './device-status';
export * from './contact';
export * from './token-policy';
export * from './send-limit-policy';
export * from './token-crypto';
export * from './secret-compare';
