export const APP_CONFIG = Symbol('AppConfig');
export const REDIS = Symbol('Redis');
