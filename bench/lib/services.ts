/**
 * Processes the bench starts, all on 127.0.0.1 and all stopped at the end: a
 * redis-server of its own (never the shared one on 6379), the built api and
 * worker (dist/), the reference implementations and the fake providers.
 */
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from '../../test/support/dedicated-redis';

export { freePort };

export const ROOT = join(__dirname, '..', '..');

/** The node options the image runs both apps with (the Dockerfile's `ENV NODE_OPTIONS=`), so that the apps are measured as deployed. */
export function imageNodeOptions(): string {
  const line = /^ENV NODE_OPTIONS=(.+)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  if (!line) throw new Error('the Dockerfile sets no NODE_OPTIONS');
  return line[1].trim();
}

/** The secrets of one bench run (random each run). */
export interface BenchSecrets {
  ADMIN_TOKEN: string;
  TOKEN_HASH_SECRET: string;
  BOARD_PASSWORD: string;
}

/**
 * The apps' settings in every bench: production mode with the image's node
 * options and real secrets, and every request doing the whole job: a 1 s
 * coalescing window (a device is asked again only seconds later) and caps far
 * above what a run sends (the store's script still checks and records both).
 */
export function productionEnv(redisUrl: string, keyPrefix: string, secrets: BenchSecrets): Record<string, string> {
  return {
    NODE_ENV: 'production',
    NODE_OPTIONS: imageNodeOptions(),
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: keyPrefix,
    ...secrets,
    BOARD_USERNAME: 'bench',
    RESEND_COALESCE_SECONDS: '1',
    SEND_LIMIT_PER_DEVICE: '1000000',
    SEND_LIMIT_PER_DESTINATION: '1000000',
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A child process whose output goes to a log file (read only when waiting for
 * a line or reporting a failure, so a chatty process under load costs the
 * bench nothing), and whose peak RSS can be read.
 */
/** Every process started and not yet stopped, so an interrupted bench leaves none behind. */
const live = new Set<Proc>();

/** Kills every process still running (SIGKILL): for an interrupted bench. */
/** On SIGINT or SIGTERM: every process the bench started is stopped, then the bench exits. */
export function stopOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench interrupted (${signal}): stopping its processes\n`);
      killAll();
      process.exit(130);
    });
  }
}

export function killAll(): void {
  for (const p of live) if (p.running) p.child.kill('SIGKILL');
}

export class Proc {
  private readonly exited: Promise<number | null>;
  private peakKb = 0;
  private readonly sampler: NodeJS.Timeout;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    live.add(this);
    child.once('exit', () => live.delete(this));
    // VmHWM is the kernel's own high-water mark; sampling keeps the last value
    // read before the process is gone.
    this.sampler = setInterval(() => this.readPeak(), 500);
    this.sampler.unref();
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get output(): string[] {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  tail(n = 20): string {
    return this.output.slice(-n).join('\n');
  }

  private readPeak(): void {
    if (!this.running || this.child.pid === undefined) return;
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      const m = /VmHWM:\s+(\d+)\s+kB/.exec(status);
      if (m) this.peakKb = Math.max(this.peakKb, Number(m[1]));
    } catch {
      // gone meanwhile, or not Linux
    }
  }

  /** CPU time (user + system) used so far, in ms (Linux; 0 elsewhere). */
  cpuMs(): number {
    if (!this.running || this.child.pid === undefined) return 0;
    try {
      const fields = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
      return (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      return 0;
    }
  }

  /** Peak resident set size so far, in MB (Linux). */
  peakRssMb(): number {
    this.readPeak();
    return Math.round((this.peakKb / 1024) * 10) / 10;
  }

  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const line of this.output) {
        const m = line.match(pattern);
        if (m) return m;
      }
      if (!this.running) break;
      await sleep(100);
    }
    throw new Error(`${this.name}: no line matching ${pattern}. Last output:\n${this.tail()}`);
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    clearInterval(this.sampler);
    this.readPeak();
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Where the processes' output goes: a fresh folder per invocation. */
export const LOG_DIR = mkdtempSync(join(tmpdir(), 'device-2fa-bench-'));
let logCounter = 0;
function logFd(name: string): { fd: number; path: string } {
  logCounter += 1;
  const path = join(LOG_DIR, `${String(logCounter).padStart(2, '0')}-${name}.log`);
  return { fd: openSync(path, 'a'), path };
}

const baseEnv = () => ({ PATH: process.env.PATH ?? '', NO_COLOR: '1', HOME: process.env.HOME ?? '/tmp' });

export function startNode(name: string, entry: string, env: Record<string, string>, tsx = false, execArgv: string[] = []): Proc {
  if (!existsSync(entry)) throw new Error(`${entry} is missing${entry.includes('dist') ? ': run `npm run build` first' : ''}`);
  const args = [...execArgv, ...(tsx ? ['--import', 'tsx'] : []), entry];
  const log = logFd(name);
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...baseEnv(), ...env }, stdio: ['ignore', log.fd, log.fd] });
  closeSync(log.fd);
  return new Proc(name, child, log.path);
}

/** Polls until something answers HTTP on the port. */
export async function waitForHttp(url: string, proc: Proc, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running) break;
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${proc.name} did not answer on ${url}. Last output:\n${proc.tail()}`);
}

export interface RedisServer {
  url: string;
  port: number;
  proc: Proc;
  stop(): Promise<void>;
}

/**
 * A throw-away redis-server on a free loopback port, no persistence (the same
 * for the service and the references); `extraArgs` come last and win (e.g.
 * `--replicaof 127.0.0.1 PORT`).
 */
export async function startRedis(extraArgs: string[] = [], name = 'redis'): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  const log = logFd(name);
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', dir, ...extraArgs],
    { stdio: ['ignore', log.fd, log.fd] },
  );
  closeSync(log.fd);
  const proc = new Proc(name, child, log.path);
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (err) {
      if (Date.now() > deadline || !proc.running) throw new Error(`redis-server did not start: ${String(err)}\n${proc.tail()}`, { cause: err });
      probe.disconnect();
      await sleep(100);
    }
  }
  probe.disconnect();
  return {
    url,
    port,
    proc,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ProviderArrival {
  provider: 'twilio' | 'ses';
  to: string;
  /** Epoch ms when the request reached the fake (before its latency). */
  t: number;
}

/** The fake Twilio and SES in a process of their own, so their work is not charged to the load generator. */
export class FakeProviders {
  private constructor(
    readonly proc: Proc,
    readonly twilioUrl: string,
    readonly sesUrl: string,
  ) {}

  static async start(latencyMs: number): Promise<FakeProviders> {
    const log = logFd('fakes');
    const child = fork(join(__dirname, '..', 'fakes-server.ts'), [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      env: { ...baseEnv(), FAKE_LATENCY_MS: String(latencyMs) },
      stdio: ['ignore', log.fd, log.fd, 'ipc'],
    });
    closeSync(log.fd);
    const proc = new Proc('fakes', child, log.path);
    const urls = await new Promise<{ twilio: string; ses: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { twilio: string; ses: string }));
      child.once('exit', (code) => reject(new Error(`fakes exited (${code}): ${proc.tail()}`)));
    });
    return new FakeProviders(proc, urls.twilio, urls.ses);
  }

  /** Arrivals since the last call (and forgets them). */
  collect(): Promise<ProviderArrival[]> {
    const child = this.proc.child;
    return new Promise((resolve) => {
      child.once('message', (m) => resolve(m as ProviderArrival[]));
      child.send('collect');
    });
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }
}
