export * from './client-keys';
export * from './payload-md5';
export * from './request-signer';
export * from './signature-claims';
