import Redis, { Cluster } from 'ioredis';
import { createRedis, probeServiceSlot, redisOptions, urlOptions, type RedisClient } from './redis-connection';
import { RedisKeys } from './redis-keys';

describe('Redis connections', () => {
  const base = { url: 'rediss://ops:s%40cret@127.0.0.1:1/2', commandTimeoutMs: 500 };

  it('fails fast for the API and waits for Redis in workers', () => {
    expect(redisOptions('command', base)).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 });
    expect(redisOptions('worker', base)).toMatchObject({ maxRetriesPerRequest: null });
    // Written as they come: an auto-pipeline makes each command wait for the previous batch's answers.
    expect(redisOptions('command', base).enableAutoPipelining).toBe(false);
  });

  it('takes credentials, TLS and database from the URL', () => {
    expect(urlOptions(base.url)).toEqual({ username: 'ops', password: 's@cret', tls: {}, db: 2 });
    expect(urlOptions('redis://127.0.0.1:6379')).toEqual({ username: undefined, password: undefined, tls: undefined, db: undefined });
  });

  it('builds a Sentinel client that asks the sentinels for the named master', () => {
    const client = createRedis('command', { ...base, topology: { mode: 'sentinel', sentinels: [{ host: '127.0.0.1', port: 1 }], name: 'orders' } }, 't');
    try {
      expect(client).toBeInstanceOf(Redis);
      const options = (client as Redis).options;
      expect(options.sentinels).toEqual([{ host: '127.0.0.1', port: 1 }]);
      expect(options.name).toBe('orders');
      expect(options.password).toBe('s@cret');
      expect(options.enableOfflineQueue).toBe(false);
    } finally {
      client.disconnect();
    }
  });

  it('builds a Cluster client from the node list', () => {
    const client = createRedis(
      'worker',
      {
        ...base,
        topology: {
          mode: 'cluster',
          nodes: [
            { host: '127.0.0.1', port: 1 },
            { host: '127.0.0.1', port: 2 },
          ],
        },
      },
      't',
    );
    try {
      expect(client).toBeInstanceOf(Cluster);
      const cluster = client as Cluster;
      expect(cluster.options.redisOptions).toMatchObject({ maxRetriesPerRequest: null, password: 's@cret' });
      expect(cluster.options.redisOptions).not.toHaveProperty('db');
    } finally {
      client.disconnect();
    }
  });

  describe('the readiness probe', () => {
    const keys = new RedisKeys('{dts}');
    const client = (status: string, exists: (key: string) => Promise<number>) =>
      ({ status, exists: jest.fn(exists) }) as unknown as RedisClient & { exists: jest.Mock };

    it("reads a key of the service's, so that in a Cluster it reaches the master of the service's slot", async () => {
      const redis = client('ready', async () => 0);
      await expect(probeServiceSlot(redis, keys)).resolves.toBeUndefined();
      expect(redis.exists).toHaveBeenCalledWith('{dts}:health-probe');
    });

    it('fails with the error of that read (a Cluster whose slot has no master)', async () => {
      const redis = client('ready', async () => {
        throw new Error('CLUSTERDOWN The cluster is down');
      });
      await expect(probeServiceSlot(redis, keys)).rejects.toThrow('CLUSTERDOWN');
    });

    it('fails at once, sending nothing, when the connection is not ready', async () => {
      const redis = client('reconnecting', async () => 0);
      await expect(probeServiceSlot(redis, keys)).rejects.toThrow('connection reconnecting');
      expect(redis.exists).not.toHaveBeenCalled();
    });
  });
});
