/** Injection tokens for things that are not classes of our own. */
export const APP_CONFIG = Symbol('AppConfig');
export const REDIS = Symbol('Redis');
