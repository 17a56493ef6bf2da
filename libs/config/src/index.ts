export * from './app-config';
export * from './published-secrets';
export * from './secret-rules';
