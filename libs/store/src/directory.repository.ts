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

  async putClient(client: ClientIntegration): Promise<void> {
    await redisCall(() =>
      this.redis.hset(this.keys.client(client.clientKey), {
        name: client.name,
        public_key: client.publicKey,
        updated_at: new Date().toISOString(),
      }),
    );
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
