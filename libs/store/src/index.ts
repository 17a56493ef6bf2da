export * from './records';
export * from './redis-keys';
export * from './redis-connection';
export * from './lua-script';
export * from './directory.repository';
export * from './device.repository';
export * from './replay-guard';
export * from './client-cache';
