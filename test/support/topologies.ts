/**
 * Real Redis topologies for the `topologies` tier, built from Debian's
 * `redis-server` on free loopback ports, each process in a temporary
 * directory of its own and nothing persisted (no RDB, no AOF):
 *
 * - `RedisClusterSet`: a Redis Cluster of 3 masters and 3 replicas
 *   (`--cluster-enabled yes`, then `redis-cli --cluster create …
 *   --cluster-replicas 1 --cluster-yes`), ready once every node says
 *   `cluster_state:ok`, knows every other and each replica's link is up.
 * - `RedisSentinelSet`: 1 master, 2 replicas (`--replicaof`) and 3
 *   sentinels (`redis-server sentinel.conf --sentinel`, quorum 2), ready once
 *   every sentinel sees both replicas and the other two sentinels.
 *
 * Both fail over fast (node timeout / down-after 1 s) so a test can kill
 * the master and watch the service ride it out. `stop()` kills every process
 * by pid and removes the directories; a process still running when the Jest
 * worker exits is killed then too.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { RedisTopologySettings } from '@lib/store';

const HOST = '127.0.0.1';

/** Every redis process this Jest worker started and has not seen exit: killed if the worker exits first. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** `count` distinct ports that were free on 127.0.0.1 a moment ago (all held open until each is known). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const server = createServer();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, HOST, () => resolve((server.address() as { port: number }).port));
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** Polls `check` (a state with no event to wait on) until it returns a value, bounded by `timeoutMs`. */
export async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** One `redis-server` (data node or sentinel) child process on a loopback port. */
export class RedisProcess {
  readonly output: string[] = [];
  private readonly exited: Promise<void>;

  private constructor(
    readonly role: string,
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    live.add(child);
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        live.delete(child);
        resolve();
      }),
    );
    const keep = (chunk: Buffer) => this.output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  /**
   * Starts `redis-server args…` and resolves once it says it listens (a data
   * node: `Ready to accept connections`; a sentinel: `Sentinel ID is`);
   * rejects if it exits first or after `timeoutMs`.
   */
  static async start(role: string, port: number, args: string[], timeoutMs = 10_000): Promise<RedisProcess> {
    const ready = args.includes('--sentinel') ? /Sentinel ID is/ : /Ready to accept connections/;
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const node = new RedisProcess(role, port, child);
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        reject(new Error(`${role} on port ${port} ${why}:\n${node.output.join('\n')}`));
      };
      const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
      const onData = () => {
        if (!node.output.some((l) => ready.test(l))) return;
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        resolve();
      };
      const onExit = (code: number | null) => fail(`exited (${code})`);
      child.once('error', (err) => fail(`could not start (${err.message})`));
      child.once('exit', onExit);
      child.stdout!.on('data', onData);
    });
    return node;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get address(): string {
    return `${HOST}:${this.port}`;
  }

  /** Sends `signal` (SIGKILL: the process dies at once, as a lost host) and resolves once it has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.running) this.child.kill(signal);
    await this.exited;
  }

  /** Runs one command on this process alone (a connection of its own, closed after; fails rather than retries). */
  async call(...args: (string | number)[]): Promise<unknown> {
    const redis = new Redis({
      host: HOST,
      port: this.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 1000,
      commandTimeout: 2000,
    });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await redis.call(String(args[0]), ...args.slice(1).map(String));
    } finally {
      redis.disconnect();
    }
  }

  /** `INFO <section>` (or `CLUSTER INFO`) as a map of its `field:value` lines. */
  async info(...command: string[]): Promise<Map<string, string>> {
    const text = String(await this.call(...(command.length > 0 ? command : ['INFO'])));
    return new Map(
      text
        .split(/\r?\n/)
        .map((line) => line.match(/^([^#:][^:]*):(.*)$/))
        .filter((m): m is RegExpMatchArray => m !== null)
        .map((m) => [m[1], m[2]]),
    );
  }
}

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The settings every data node shares: loopback only, nothing written but in its own directory, no persistence. */
function dataNodeArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'no',
    '--maxmemory-policy',
    'noeviction',
  ];
}

/** A topology's processes and directory, and how they are stopped. */
abstract class RedisSet {
  protected readonly processes: RedisProcess[] = [];

  protected constructor(readonly dir: string) {}

  protected async add(role: string, port: number, args: string[]): Promise<RedisProcess> {
    const node = await RedisProcess.start(role, port, args);
    this.processes.push(node);
    return node;
  }

  /** Every process this set started, with its pid (for reports). */
  get pids(): { role: string; port: number; pid?: number; running: boolean }[] {
    return this.processes.map((p) => ({ role: p.role, port: p.port, pid: p.pid, running: p.running }));
  }

  /** Kills every process by pid (SIGKILL: nothing to flush) and removes the directory. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.kill('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Kills what started so far when start-up itself fails, then rethrows. */
  protected static async startOrClean<T extends RedisSet>(set: T, boot: () => Promise<void>): Promise<T> {
    try {
      await boot();
      return set;
    } catch (err) {
      await set.stop();
      throw err;
    }
  }
}

export interface ClusterSetOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a master may be unreachable before its replica takes over. */
  nodeTimeoutMs?: number;
}

/** A Redis Cluster of `masters` masters with `replicasPerMaster` replicas each. */
export class RedisClusterSet extends RedisSet {
  readonly nodes: RedisProcess[] = [];

  private constructor(dir: string) {
    super(dir);
  }

  static async start(options: ClusterSetOptions = {}): Promise<RedisClusterSet> {
    const masters = options.masters ?? 3;
    const replicas = options.replicasPerMaster ?? 1;
    const count = masters * (1 + replicas);
    const set = new RedisClusterSet(mkdtempSync(join(tmpdir(), 'topology-cluster-')));
    return RedisSet.startOrClean(set, async () => {
      // A bus port of its own per node (`cluster-port`), rather than port + 10000, which may be taken or out of range.
      const ports = await freePorts(count * 2);
      const started = await Promise.all(
        Array.from({ length: count }, (_, i) => {
          const [port, busPort] = [ports[2 * i], ports[2 * i + 1]];
          const dir = join(set.dir, `node-${port}`);
          mkdirSync(dir);
          return set.add(i < masters ? 'cluster-master' : 'cluster-replica', port, [
            ...dataNodeArgs(port, dir),
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, 'nodes.conf'),
            '--cluster-port',
            String(busPort),
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 1000),
            // A replica takes over however long it was cut off (the test kills the master once it is in sync anyway).
            '--cluster-replica-validity-factor',
            '0',
          ]);
        }),
      );
      set.nodes.push(...started);
      // The first `masters` addresses become masters, the rest their replicas.
      await run('redis-cli', ['--cluster', 'create', ...started.map((n) => n.address), '--cluster-replicas', String(replicas), '--cluster-yes'], 30_000);
      await until(() => set.settled(count), 20_000, 'the new cluster to settle');
    });
  }

  /** True once every live node is `cluster_state:ok`, knows `count` nodes, and every replica's link to its master is up. */
  private async settled(count: number, nodes = this.nodes.filter((n) => n.running)): Promise<true | undefined> {
    for (const node of nodes) {
      const info = await node.info('CLUSTER', 'INFO');
      if (info.get('cluster_state') !== 'ok' || Number(info.get('cluster_known_nodes')) !== count) return undefined;
      const replication = await node.info('INFO', 'replication');
      if (replication.get('role') === 'slave' && replication.get('master_link_status') !== 'up') return undefined;
    }
    return true;
  }

  /** The seed list the apps take (`REDIS_CLUSTER_NODES`). */
  get topology(): RedisTopologySettings {
    return { mode: 'cluster', nodes: this.nodes.map((n) => ({ host: HOST, port: n.port })) };
  }

  get env(): Record<string, string> {
    return { REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: this.nodes.map((n) => n.address).join(',') };
  }

  /** The node serving `key`'s slot as master, as the live nodes see it (all must agree). */
  async masterOf(key: string): Promise<RedisProcess | undefined> {
    const nodes = this.nodes.filter((n) => n.running);
    const slot = Number(await nodes[0].call('CLUSTER', 'KEYSLOT', key));
    const owners = new Set<number>();
    for (const node of nodes) {
      const ranges = (await node.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) return undefined;
      owners.add(Number(range[2][1]));
    }
    if (owners.size !== 1) return undefined;
    const [port] = owners;
    return this.nodes.find((n) => n.port === port);
  }

  /**
   * Waits until another, live node serves `key`'s slot as master, and every
   * live node says `cluster_state:ok`; resolves with the new master.
   */
  async failedOver(key: string, from: RedisProcess, timeoutMs = 30_000): Promise<RedisProcess> {
    return until(
      async () => {
        const master = await this.masterOf(key);
        if (!master || master === from || !master.running) return undefined;
        for (const node of this.nodes.filter((n) => n.running)) {
          if ((await node.info('CLUSTER', 'INFO')).get('cluster_state') !== 'ok') return undefined;
        }
        return master;
      },
      timeoutMs,
      `a replica to take over ${key}'s slot from port ${from.port}`,
    );
  }
}

export interface SentinelSetOptions {
  replicas?: number;
  sentinels?: number;
  quorum?: number;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}

/** One master, its replicas, and the sentinels that watch it under `name`. */
export class RedisSentinelSet extends RedisSet {
  readonly replicas: RedisProcess[] = [];
  readonly sentinels: RedisProcess[] = [];
  master!: RedisProcess;

  private constructor(
    dir: string,
    readonly name: string,
  ) {
    super(dir);
  }

  static async start(options: SentinelSetOptions = {}): Promise<RedisSentinelSet> {
    const replicaCount = options.replicas ?? 2;
    const sentinelCount = options.sentinels ?? 3;
    const set = new RedisSentinelSet(mkdtempSync(join(tmpdir(), 'topology-sentinel-')), `topology-${process.pid}-${Date.now().toString(36)}`);
    return RedisSet.startOrClean(set, async () => {
      const [masterPort, ...ports] = await freePorts(1 + replicaCount + sentinelCount);
      const nodeDir = (port: number) => {
        const dir = join(set.dir, `node-${port}`);
        mkdirSync(dir);
        return dir;
      };
      set.master = await set.add('sentinel-master', masterPort, dataNodeArgs(masterPort, nodeDir(masterPort)));
      set.replicas.push(
        ...(await Promise.all(
          ports
            .slice(0, replicaCount)
            .map((port) => set.add('sentinel-replica', port, [...dataNodeArgs(port, nodeDir(port)), '--replicaof', HOST, String(masterPort)])),
        )),
      );
      await until(() => set.replicasInSync(set.master, set.replicas), 15_000, 'the replicas to sync with the master');
      set.sentinels.push(
        ...(await Promise.all(
          ports.slice(replicaCount).map((port) => {
            const dir = nodeDir(port);
            // Sentinel rewrites its configuration file as it learns: a file of its own, in its directory.
            const conf = join(dir, 'sentinel.conf');
            writeFileSync(
              conf,
              [
                `port ${port}`,
                `bind ${HOST}`,
                'protected-mode no',
                `dir ${dir}`,
                `sentinel monitor ${set.name} ${HOST} ${masterPort} ${options.quorum ?? 2}`,
                `sentinel down-after-milliseconds ${set.name} ${options.downAfterMs ?? 1000}`,
                `sentinel failover-timeout ${set.name} ${options.failoverTimeoutMs ?? 5000}`,
                `sentinel parallel-syncs ${set.name} ${replicaCount}`,
                '',
              ].join('\n'),
            );
            return set.add('sentinel', port, [conf, '--sentinel']);
          }),
        )),
      );
      await until(() => set.sentinelsAgree(set.master), 20_000, 'the sentinels to see every replica and each other');
    });
  }

  private async replicasInSync(master: RedisProcess, replicas: RedisProcess[]): Promise<true | undefined> {
    const info = await master.info('INFO', 'replication');
    if (info.get('role') !== 'master' || Number(info.get('connected_slaves')) !== replicas.length) return undefined;
    for (const replica of replicas) {
      const r = await replica.info('INFO', 'replication');
      if (r.get('master_link_status') !== 'up' || Number(r.get('master_port')) !== master.port) return undefined;
    }
    return true;
  }

  /** True once every live sentinel names `master`, sees the live replicas and the other live sentinels. */
  private async sentinelsAgree(master: RedisProcess): Promise<true | undefined> {
    const sentinels = this.sentinels.filter((s) => s.running);
    const replicas = [this.master, ...this.replicas].filter((n) => n.running && n !== master);
    for (const sentinel of sentinels) {
      const flat = (await sentinel.call('SENTINEL', 'MASTER', this.name)) as string[];
      const fields = new Map(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]] as const] : [])));
      if (Number(fields.get('port')) !== master.port || !/^master$/.test(fields.get('flags') ?? '')) return undefined;
      if (Number(fields.get('num-other-sentinels')) < sentinels.length - 1) return undefined;
      const known = (await sentinel.call('SENTINEL', 'REPLICAS', this.name)) as string[][];
      const up = known
        .map((flatReplica) => new Map(flatReplica.flatMap((v, i) => (i % 2 === 0 ? [[v, flatReplica[i + 1]] as const] : []))))
        .filter((r) => !/s_down|o_down|disconnected/.test(r.get('flags') ?? ''))
        .map((r) => Number(r.get('port')));
      if (replicas.some((r) => !up.includes(r.port))) return undefined;
    }
    return true;
  }

  get topology(): RedisTopologySettings {
    return { mode: 'sentinel', sentinels: this.sentinels.map((s) => ({ host: HOST, port: s.port })), name: this.name };
  }

  get env(): Record<string, string> {
    return { REDIS_MODE: 'sentinel', REDIS_SENTINELS: this.sentinels.map((s) => s.address).join(','), REDIS_SENTINEL_NAME: this.name };
  }

  /** The URL of the current master (credentials and database only, in sentinel mode). */
  get url(): string {
    return `redis://${this.master.address}`;
  }

  /**
   * Waits until every live sentinel names another, live data node as master
   * and that node says it is one; resolves with it (and remembers it as `master`).
   */
  async failedOver(from: RedisProcess, timeoutMs = 30_000): Promise<RedisProcess> {
    const master = await until(
      async () => {
        const named = new Set<number>();
        for (const sentinel of this.sentinels.filter((s) => s.running)) {
          const [, port] = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)) as [string, string];
          named.add(Number(port));
        }
        if (named.size !== 1) return undefined;
        const [port] = named;
        const node = this.replicas.find((r) => r.port === port && r !== from && r.running);
        if (!node || (await node.info('INFO', 'replication')).get('role') !== 'master') return undefined;
        return node;
      },
      timeoutMs,
      `the sentinels to promote a replica of port ${from.port}`,
    );
    this.master = master;
    return master;
  }
}
