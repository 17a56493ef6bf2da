/**
 * Client integrations as the api's authentication reads them on every
 * request, kept in memory so a request does not wait on Redis for them.
 *
 * A client's record changes only through DirectoryRepository.putClient,
 * which announces the change on a Redis channel; every api process listens
 * and drops its copy, so a replaced public key stops working at once
 * everywhere (the process that made the change drops its copy before
 * answering, the others within a round trip). While the listening connection
 * is not subscribed (starting, reconnecting) nothing is cached and every read
 * goes to Redis, and each (re)subscription starts from an empty cache, since
 * announcements may have been missed meanwhile. Entries also expire after
 * `maxAgeMs`, a bound on staleness should an announcement ever be lost
 * without the connection noticing. Unknown keys are never cached (a flood of
 * made-up keys cannot fill the cache).
 */
import type { ClientIntegration } from './records';
import type { DirectoryRepository } from './directory.repository';
import type { RedisClient } from './redis-connection';
import type { RedisKeys } from './redis-keys';

export interface ClientCacheOptions {
  maxAgeMs: number;
  maxEntries: number;
}

export class ClientCache {
  private readonly entries = new Map<string, { client: ClientIntegration; expiresAt: number }>();
  /** Bumped by every change: a read that started before one does not store what it read. */
  private generation = 0;
  private subscribed = false;

  constructor(
    private readonly directory: DirectoryRepository,
    private readonly subscriber: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: ClientCacheOptions = { maxAgeMs: 60_000, maxEntries: 10_000 },
  ) {}

  /** Starts listening for changes; caching starts once subscribed. */
  start(): void {
    this.subscriber.on('message', (channel: string, clientKey: string) => {
      if (channel === this.keys.clientChanges) this.forget(clientKey);
    });
    this.subscriber.on('close', () => {
      this.subscribed = false;
      this.clear();
    });
    // On every (re)connection: subscribe (ioredis also re-subscribes by itself;
    // subscribing twice is harmless), and cache again only once Redis confirmed.
    this.subscriber.on('ready', () => void this.subscribe());
    if (this.subscriber.status === 'ready') void this.subscribe();
  }

  /** Whether reads are being cached (subscribed to changes). */
  get active(): boolean {
    return this.subscribed;
  }

  async get(clientKey: string): Promise<ClientIntegration | undefined> {
    const hit = this.entries.get(clientKey);
    if (hit && hit.expiresAt > Date.now()) return hit.client;
    const generation = this.generation;
    const client = await this.directory.getClient(clientKey);
    if (client && this.subscribed && generation === this.generation) {
      if (this.entries.size >= this.options.maxEntries) this.entries.clear();
      this.entries.set(clientKey, { client, expiresAt: Date.now() + this.options.maxAgeMs });
    }
    return client;
  }

  /** Drops one client's copy (its record changed). */
  forget(clientKey: string): void {
    this.generation++;
    this.entries.delete(clientKey);
  }

  private clear(): void {
    this.generation++;
    this.entries.clear();
  }

  private async subscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.keys.clientChanges);
    } catch {
      return; // the connection dropped again; its next 'ready' retries
    }
    if (this.subscriber.status !== 'ready') return;
    this.clear();
    this.subscribed = true;
  }
}
