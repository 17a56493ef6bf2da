/**
 * Client integrations and accounts (with their approvers), as managed by the
 * internal admin API and the CLI.
 */
import type { RedisClient as Redis } from './redis-connection';
import type { Account, ClientIntegration } from './records';
import type { RedisKeys } from './redis-keys';
import { redisCall } from './lua-script';

export class DirectoryRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** Creates or replaces a client integration, and announces the change to the api processes' caches (ClientCache). */
  async putClient(client: ClientIntegration): Promise<void> {
    await redisCall(async () => {
      const results = await this.redis
        .multi()
        .hset(this.keys.client(client.clientKey), {
          name: client.name,
          public_key: client.publicKey,
          updated_at: new Date().toISOString(),
        })
        .publish(this.keys.clientChanges, client.clientKey)
        .exec();
      const failed = results?.find(([err]) => err)?.[0];
      if (!results || failed) throw failed ?? new Error('client update transaction aborted');
    });
  }

  async getClient(clientKey: string): Promise<ClientIntegration | undefined> {
    const [name, publicKey] = await redisCall(() => this.redis.hmget(this.keys.client(clientKey), 'name', 'public_key'));
    if (name === null || publicKey === null) return undefined;
    return { clientKey, name, publicKey };
  }

  async putAccount(account: Account): Promise<void> {
    await redisCall(() => this.redis.set(this.keys.account(account.accountKey), JSON.stringify(account)));
  }

  async getAccount(accountKey: string): Promise<Account | undefined> {
    const raw = await redisCall(() => this.redis.get(this.keys.account(accountKey)));
    return raw === null ? undefined : (JSON.parse(raw) as Account);
  }
}
