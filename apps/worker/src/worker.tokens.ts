export const APP_CONFIG = Symbol('AppConfig');
export const REDIS = Symbol('Redis');
/** The store's fail-fast connection (repositories, scrape-time queue reads). */
export const STORE = Symbol('StoreRedis');
