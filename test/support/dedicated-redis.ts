/**
 * A Redis of a test file's own: a child `redis-server` on a free loopback
 * port, append-only file in a temporary directory (like docker-compose's
 * Redis), which the test may stop, freeze and restart on the same port
 * without disturbing any other test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One redis-server child process with AOF persistence, restartable on the same port and directory. */
export class DedicatedRedis {
  private child?: ChildProcess;
  private output: string[] = [];

  private constructor(
    readonly port: number,
    readonly dir: string,
    /** The port of the master this one replicates, if it is a replica. */
    readonly replicaOf?: number,
  ) {}

  static async create(options: { replicaOf?: number } = {}): Promise<DedicatedRedis> {
    return new DedicatedRedis(await freePort(), mkdtempSync(join(tmpdir(), 'e2e-redis-')), options.replicaOf);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(timeoutMs = 10_000): Promise<void> {
    if (this.running) return;
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', this.dir];
    if (this.replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(this.replicaOf));
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.output = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server not ready after ${timeoutMs} ms:\n${this.output.join('')}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        this.output.push(chunk.toString('utf8'));
        // A replica is ready once its first sync from the master is done.
        const ready = this.replicaOf === undefined ? /Ready to accept connections/ : /MASTER <-> REPLICA sync: Finished with success/;
        if (ready.test(this.output.join(''))) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}):\n${this.output.join('')}`));
      });
    });
  }

  /** SIGSTOP / SIGCONT: Redis keeps its connections open but stops answering (a hung server, a partition). */
  freeze(frozen: boolean): void {
    if (!this.child || !this.running) throw new Error('redis-server is not running');
    this.child.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  /** SIGTERM: Redis flushes the append-only file and exits. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async destroy(): Promise<void> {
    if (this.running) this.freeze(false);
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
