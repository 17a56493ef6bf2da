/**
 * Redis connections, tuned per role and built for the configured topology
 * (standalone, Sentinel or Cluster).
 *
 * - `command`: reads, the store's scripts and the api's BullMQ Queue. It
 *   never buffers commands while disconnected (`enableOfflineQueue: false`),
 *   and every command has a timeout, so a Redis outage becomes a fast, clear
 *   error (OBD000097 / DTS000010) instead of a hanging request. Commands are
 *   written as they come, without ioredis's auto-pipelining: that keeps one
 *   pipeline in flight per connection, so every command waits for the
 *   previous batch's answers, and it copies each command defined on the
 *   connection (BullMQ defines ~40) onto every pipeline. Measured slower in
 *   the api and in the worker (`npm run bench`).
 * - `worker`: used by BullMQ workers, which must wait for Redis to come back
 *   rather than fail (`maxRetriesPerRequest: null`, as BullMQ requires).
 * - `subscriber`: a pub/sub listener (ClientCache); like `worker`, it waits
 *   for Redis and re-subscribes after a reconnect.
 *
 * Every connection speaks RESP2 (`protocol: 2`), deliberately, although
 * ioredis 6 defaults to RESP3: BullMQ's ioredis client passes replies such
 * as ZRANGE … WITHSCORES and XREAD through as RESP2 shapes, which RESP3
 * changes (pairs instead of a flat list, maps instead of arrays); the
 * service uses nothing RESP3 adds (client-side caching, push messages on a
 * command connection); and RESP2 is what every topology (Sentinel, Cluster,
 * managed Redis and its proxies) speaks alike.
 */
import Redis, { Cluster, type RedisOptions } from 'ioredis';
import type { RedisKeys } from './redis-keys';

/** A standalone/Sentinel connection or a Cluster client: both speak the same commands. */
export type RedisClient = Redis | Cluster;

export type RedisRole = 'command' | 'worker' | 'subscriber';

export type RedisTopologySettings =
  | { mode: 'standalone' }
  | { mode: 'sentinel'; sentinels: { host: string; port: number }[]; name: string }
  | { mode: 'cluster'; nodes: { host: string; port: number }[] };

export interface RedisConnectionSettings {
  url: string;
  commandTimeoutMs: number;
  topology?: RedisTopologySettings;
}

const reconnect = (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000);

/** The wire protocol of every connection (see above). */
export const REDIS_PROTOCOL = 2;

export function redisOptions(role: RedisRole, settings: RedisConnectionSettings): RedisOptions {
  if (role === 'worker' || role === 'subscriber') {
    return { protocol: REDIS_PROTOCOL, maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: reconnect };
  }
  return {
    protocol: REDIS_PROTOCOL,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: settings.commandTimeoutMs,
    connectTimeout: Math.max(settings.commandTimeoutMs, 1000),
    enableAutoPipelining: false,
    enableReadyCheck: true,
    retryStrategy: reconnect,
  };
}

/** Password, username, TLS and database from the URL, for the modes that list nodes separately. */
export function urlOptions(url: string): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  return {
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    db: Number.isInteger(db) ? db : undefined,
  };
}

export function createRedis(role: RedisRole, settings: RedisConnectionSettings, connectionName: string): RedisClient {
  const topology = settings.topology ?? { mode: 'standalone' };
  const options = { ...redisOptions(role, settings), connectionName };
  let client: RedisClient;
  if (topology.mode === 'sentinel') {
    const fromUrl = urlOptions(settings.url);
    client = new Redis({
      ...options,
      ...fromUrl,
      sentinels: topology.sentinels,
      name: topology.name,
      sentinelPassword: fromUrl.password,
    });
  } else if (topology.mode === 'cluster') {
    const { db: _db, ...fromUrl } = urlOptions(settings.url);
    client = new Cluster(topology.nodes, {
      redisOptions: { ...options, ...fromUrl },
      enableOfflineQueue: options.enableOfflineQueue ?? true,
      enableReadyCheck: true,
      clusterRetryStrategy: reconnect,
    });
  } else {
    client = new Redis(settings.url, options);
  }
  // Without a listener ioredis prints every reconnect failure as an
  // unhandled error; outages are reported through health and request errors.
  client.on('error', () => undefined);
  return client;
}

/** Resolves once the connection is ready (or rejects after `timeoutMs`). */
export function whenReady(redis: RedisClient, timeoutMs = 5000): Promise<void> {
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

/**
 * Resolves once `redis` answers a read of a key of the service's
 * (`keys.healthProbe`, never written): the readiness checks' probe. Not PING,
 * nor the client's `status`: a Cluster client stays `ready` and sends a
 * keyless command to any node, both of which hold while the master of the
 * service's slot is gone; a key of the service's goes to that master (reads
 * are not scaled to replicas). A standalone or Sentinel connection that is
 * not ready fails at once rather than queue the read behind the outage. The
 * caller bounds it in time (REDIS_COMMAND_TIMEOUT_MS).
 */
export async function probeServiceSlot(redis: RedisClient, keys: RedisKeys): Promise<void> {
  if (redis.status !== 'ready') throw new Error(`connection ${redis.status}`);
  await redis.exists(keys.healthProbe);
}
