/**
 * "Acknowledged means replicated, when asked": after a request's writes, wait
 * until `minReplicas` replicas have them before answering 202 (Redis's
 * replication is asynchronous: a fail-over right after a write can lose it).
 *
 * WAIT counts the writes of the connection it is sent on, so it is sent on
 * each connection that wrote, and, in a Cluster, to the master that holds the
 * service's slot (every key of the service shares one, through its hash-tag
 * prefix) over the very connection that carried the writes. Where the server
 * has WAITAOF (Redis 7.2 and later) it is used instead: the replicas have then
 * also written the commands to their append-only files (they must run with
 * `appendonly yes`, or every request times out: a misconfiguration that shows
 * at once rather than a durability that silently is not there).
 */
import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import type { RedisClient } from './redis-connection';
import { redisCall } from './lua-script';

export interface ReplicaAckPolicy {
  /** Replicas that must have a request's writes before it is acknowledged; 0: no waiting. */
  minReplicas: number;
  timeoutMs: number;
}

export class ReplicaAck {
  /** Whether each server (by node) has WAITAOF, learnt on first use. */
  private readonly waitAof = new WeakMap<object, Promise<boolean>>();

  constructor(
    private readonly policy: ReplicaAckPolicy,
    /** A key of the service's (any: they share one slot), to find the Cluster master that holds it. */
    private readonly slotKey: string,
  ) {}

  get enabled(): boolean {
    return this.policy.minReplicas > 0;
  }

  /** True once every connection's writes reached the replicas asked for, false if any did not within the timeout. */
  async replicated(connections: readonly RedisClient[]): Promise<boolean> {
    if (!this.enabled) return true;
    const acks = await Promise.all(connections.map((c) => this.acknowledged(c)));
    return acks.every(Boolean);
  }

  private async acknowledged(connection: RedisClient): Promise<boolean> {
    const node = connection instanceof Cluster ? this.masterOfSlot(connection) : connection;
    const { minReplicas, timeoutMs } = this.policy;
    return redisCall(async () => {
      if (await this.hasWaitAof(node)) {
        const [, replicas] = (await node.call('WAITAOF', '0', String(minReplicas), String(timeoutMs))) as [number, number];
        return replicas >= minReplicas;
      }
      return Number(await node.call('WAIT', String(minReplicas), String(timeoutMs))) >= minReplicas;
    });
  }

  private hasWaitAof(node: Exclude<RedisClient, Cluster>): Promise<boolean> {
    let known = this.waitAof.get(node);
    if (!known) {
      // COMMAND INFO answers nil for a command the server does not have.
      known = (node.call('COMMAND', 'INFO', 'WAITAOF') as Promise<unknown[]>).then((info) => Array.isArray(info) && info[0] !== null);
      known.catch(() => this.waitAof.delete(node));
      this.waitAof.set(node, known);
    }
    return known;
  }

  private masterOfSlot(cluster: Cluster): Exclude<RedisClient, Cluster> {
    const owner = cluster.slots[calculateSlot(this.slotKey)]?.[0];
    const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
    if (!node) throw new Error('no master known for the service slot');
    return node;
  }
}
