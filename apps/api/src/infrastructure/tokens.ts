/** Injection tokens for things that are not classes of our own. */
export const APP_CONFIG = Symbol('ApiConfig');
export const REDIS = Symbol('Redis');
/** The BullMQ Queue's own Redis connection (dashboard, health check, depth gauge; send jobs are added by the store's script). */
export const QUEUE_REDIS = Symbol('QueueRedis');
/** The connection on which the client cache listens for changes. */
export const SUBSCRIBER_REDIS = Symbol('SubscriberRedis');
