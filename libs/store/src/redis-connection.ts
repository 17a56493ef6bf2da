/**
 * Redis connections, tuned per role.
 *
 * - `command`: used by the API for reads, scripts and queue producers. It
 *   never buffers commands while disconnected (`enableOfflineQueue: false`),
 *   and every command has a timeout, so a Redis outage becomes a fast, clear
 *   error (OBD000097 / DTS000010) instead of a hanging request.
 * - `worker`: used by BullMQ workers, which must wait for Redis to come back
 *   rather than fail (`maxRetriesPerRequest: null`, as BullMQ requires).
 */
import Redis, { type RedisOptions } from 'ioredis';

export type RedisRole = 'command' | 'worker';

export interface RedisConnectionSettings {
  url: string;
  commandTimeoutMs: number;
}

const reconnect = (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000);

export function redisOptions(role: RedisRole, settings: RedisConnectionSettings): RedisOptions {
  if (role === 'worker') {
    return { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: reconnect };
  }
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: settings.commandTimeoutMs,
    connectTimeout: Math.max(settings.commandTimeoutMs, 1000),
    // Commands issued in the same tick go out as one pipeline.
    enableAutoPipelining: true,
    enableReadyCheck: true,
    retryStrategy: reconnect,
  };
}

export function createRedis(role: RedisRole, settings: RedisConnectionSettings, connectionName: string): Redis {
  const redis = new Redis(settings.url, { ...redisOptions(role, settings), connectionName });
  // Without a listener ioredis prints every reconnect failure as an
  // unhandled error; outages are reported through health and request errors.
  redis.on('error', () => undefined);
  return redis;
}

/** Resolves once the connection is ready (or rejects after `timeoutMs`). */
export function whenReady(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
