export * from './logging';
export * from './metrics-registry';
export * from './metrics-auth';
export * from './metrics.controller';
export * from './health';
export * from './timeout';
export * from './observability.module';
export * from './process-warnings';
