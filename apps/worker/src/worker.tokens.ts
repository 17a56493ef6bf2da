export const APP_CONFIG = Symbol('AppConfig');
export const REDIS = Symbol('Redis');
/** The store's fail-fast, auto-pipelined connection (the repositories). */
export const STORE = Symbol('StoreRedis');
/**
 * The queue-depth gauge's fail-fast connection, apart from the store's: BullMQ
 * defines its scripts as commands on the connection its Queue is given, and
 * ioredis copies them onto every auto-pipeline of that connection, which the
 * store's connection builds for every job (see redis-connection.ts).
 */
export const METRICS_REDIS = Symbol('MetricsRedis');
