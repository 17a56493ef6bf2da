/**
 * `npm run bench:replica-ack`: what REDIS_MIN_REPLICAS_ACK=1 costs the resend
 * endpoint. Starts on 127.0.0.1 a Redis primary and one replica of its own
 * (no persistence; on Redis 7.2 and later, where the api sends WAITAOF, the
 * replica runs with `appendonly yes`, as WAITAOF needs), and two built apis
 * (dist/: `npm run build` first) against the primary, one with
 * REDIS_MIN_REPLICAS_ACK=0 and one with =1, over the same seeded clients and
 * devices. Each round runs the signed resend requests closed-loop (autocannon)
 * at high concurrency (throughput) and at one connection (latency), each
 * setting in turn, the one going first alternating between rounds; every 202
 * must have queued a job of its own. Prints one table of medians (for =1 also
 * the median of each round's own ratio and difference to =0: the two runs of
 * a round are seconds apart, so they share the machine's load of the moment)
 * and writes bench/results/replica-ack.json. Bounded in time; stops by itself.
 *
 *   npm run bench:replica-ack
 *   npm run bench:replica-ack -- --rounds 5 --seconds 6 --connections 50,1
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import type { Queue } from 'bullmq';
import { CryptoPool } from './lib/crypto-pool';
import { closedLoop, type ClosedLoopResult } from './lib/load';
import {
  LOG_DIR,
  ROOT,
  freePort,
  killAll,
  productionEnv,
  stopOnSignals,
  sleep,
  startNode,
  startRedis,
  waitForHttp,
  type Proc,
  type RedisServer,
} from './lib/services';
import { dispatchQueue, registerClients, resendRequests, seedDevices, type BenchDevice } from './lib/seed';

// ---------------------------------------------------------------- options ---

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '50,1' },
    devices: { type: 'string', default: '12000' },
    'ack-timeout-ms': { type: 'string', default: '200' },
    'max-seconds': { type: 'string', default: '600' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results', 'replica-ack.json') },
    dist: { type: 'string', default: join(ROOT, 'dist') },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  process.stdout.write(
    [
      'npm run bench:replica-ack -- [options]   (measures dist/: npm run build first)',
      '  --rounds N            rounds (default 3; median reported)',
      '  --seconds S           target length of one load run (default 4)',
      '  --connections LIST    autocannon connections, one load per entry (default 50,1)',
      '  --devices N           seeded devices the requests cycle through (default 12000)',
      '  --ack-timeout-ms MS   REDIS_REPLICAS_ACK_TIMEOUT_MS of the waiting api (default 200)',
      '  --max-seconds S       the whole run is stopped after this long (default 600)',
      '  --out FILE            JSON output (default bench/results/replica-ack.json)',
      '  --dist DIR            built apps to measure (default dist/)',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const opt = {
  rounds: Number(flags.rounds),
  seconds: Number(flags.seconds),
  connections: flags.connections!.split(',').map(Number),
  devices: Number(flags.devices),
  ackTimeoutMs: Number(flags['ack-timeout-ms']),
  maxSeconds: Number(flags['max-seconds']),
  dist: flags.dist!,
};

const SETTINGS = [0, 1] as const;
type Setting = (typeof SETTINGS)[number];
const CORES = availableParallelism();
// Drawn per run: the api runs under production rules, which refuse any value published in the repository.
const ADMIN_TOKEN = randomBytes(32).toString('hex');
const TOKEN_HASH_SECRET = randomBytes(32).toString('hex');
const BOARD_PASSWORD = randomBytes(32).toString('hex');
const PREFIX = 'bench';

const log = (msg: string) => process.stdout.write(`[replica-ack ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const median = (xs: number[]) => {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round2 = (x: number) => Math.round(x * 100) / 100;

// --------------------------------------------------------------- the Redis ---

async function info(redis: Redis, section: string): Promise<Record<string, string>> {
  const text = await redis.info(section);
  return Object.fromEntries(
    text
      .split('\r\n')
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
  );
}

/** Until the replica's link is up and the primary counts it online. */
async function waitForLink(primary: Redis, replica: Redis, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [r, p] = await Promise.all([info(replica, 'replication'), info(primary, 'replication')]);
    if (r.master_link_status === 'up' && p.connected_slaves === '1' && /state=online/.test(p.slave0 ?? '')) return;
    await sleep(100);
  }
  throw new Error('the replica did not link up with the primary in time');
}

// ------------------------------------------------------------------ the apis ---

interface Api {
  setting: Setting;
  proc: Proc;
  url: string;
}

async function startApi(redisUrl: string, setting: Setting): Promise<Api> {
  const port = await freePort();
  const proc = startNode(`api-ack${setting}`, join(opt.dist, 'apps', 'api', 'main.js'), {
    ...productionEnv(redisUrl, PREFIX, { ADMIN_TOKEN, TOKEN_HASH_SECRET, BOARD_PASSWORD }),
    PORT: String(port),
    REDIS_MIN_REPLICAS_ACK: String(setting),
    REDIS_REPLICAS_ACK_TIMEOUT_MS: String(opt.ackTimeoutMs),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/internal/clients`, proc);
  return { setting, proc, url };
}

// ------------------------------------------------------------------- a run ---

interface RunFigures {
  setting: Setting;
  connections: number;
  round: number;
  requests: number;
  ok: number;
  queued: number;
  statusCodes: Record<string, number>;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  /** Mean time per request in ms (connections × duration / requests): finer than autocannon's whole-ms percentiles. */
  meanMs: number;
  /** CPU per request in µs: the api, the primary, the replica. */
  cpuUs: { api: number; primary: number; replica: number };
}

interface Ctx {
  primary: RedisServer;
  replica: RedisServer;
  pool: CryptoPool;
  devices: BenchDevice[];
  cursor: { at: number };
  queue: Queue;
}

async function run(ctx: Ctx, api: Api, connections: number, count: number, round: number): Promise<RunFigures> {
  const signed = await ctx.pool.sign(resendRequests(ctx.devices, count, ctx.cursor));
  const cpu0 = [api.proc.cpuMs(), ctx.primary.proc.cpuMs(), ctx.replica.proc.cpuMs()];
  const r: ClosedLoopResult = await closedLoop(api.url, signed, connections);
  const cpu = [api.proc.cpuMs() - cpu0[0], ctx.primary.proc.cpuMs() - cpu0[1], ctx.replica.proc.cpuMs() - cpu0[2]].map((ms) => (ms * 1000) / r.requests);
  // Each request asks for a device not asked within the coalescing window:
  // every 202 added a job of its own, which the queue must now hold.
  const queued = await ctx.queue.getJobCountByTypes('waiting', 'prioritized', 'delayed');
  await ctx.queue.obliterate({ force: true });
  return {
    setting: api.setting,
    connections,
    round,
    requests: r.requests,
    ok: r.ok,
    queued,
    statusCodes: r.statusCodes,
    errors: r.errors,
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    meanMs: (connections * r.durationS * 1000) / r.requests,
    cpuUs: { api: cpu[0], primary: cpu[1], replica: cpu[2] },
  };
}

/** Answers other than 202 (the api refusing with an envelope error, or no answer): a figure of the setting, not a failure of the bench. */
const refusals = (f: RunFigures): string[] => {
  const out: string[] = [];
  const other = Object.entries(f.statusCodes).filter(([code]) => code !== '202');
  if (other.length) out.push(`answers other than 202: ${other.map(([code, n]) => `${n}×${code}`).join(', ')}`);
  if (f.errors) out.push(`${f.errors} connection errors or timeouts`);
  return out;
};

/** A 202 without its job is a failure of the bench (a refused request's writes may still have queued one: its retry would join it). */
const missingJobs = (f: RunFigures): string | undefined => (f.queued < f.ok ? `${f.ok} answers 202 but only ${f.queued} jobs queued` : undefined);

// ------------------------------------------------------------------ report ---

interface Summary {
  connections: number;
  setting: Setting;
  rps: number;
  p50: number;
  p99: number;
  meanMs: number;
  cpuUs: { api: number; primary: number; replica: number };
  /** Requests sent over the counted rounds, and how many were not answered 202. */
  requests: number;
  refused: number;
  /** ACK=1 beside ACK=0 at the same connections: req/s ratio (of the medians, and the median of each round's own ratio), and latency differences in ms. */
  rpsRatio?: number;
  pairedRpsRatio?: number;
  p50DiffMs?: number;
  p99DiffMs?: number;
  /** The median of each round's own difference of mean time per request. */
  pairedMeanDiffMs?: number;
}

function summarise(figures: RunFigures[]): Summary[] {
  const out: Summary[] = [];
  for (const connections of opt.connections) {
    const base: Summary[] = [];
    for (const setting of SETTINGS) {
      const fs = figures.filter((f) => f.connections === connections && f.setting === setting);
      const m = (pick: (f: RunFigures) => number) => median(fs.map(pick));
      const s: Summary = {
        connections,
        setting,
        rps: m((f) => f.rps),
        p50: m((f) => f.p50),
        p99: m((f) => f.p99),
        meanMs: round2(m((f) => f.meanMs)),
        cpuUs: { api: Math.round(m((f) => f.cpuUs.api)), primary: Math.round(m((f) => f.cpuUs.primary)), replica: Math.round(m((f) => f.cpuUs.replica)) },
        requests: fs.reduce((n, f) => n + f.requests, 0),
        refused: fs.reduce((n, f) => n + (f.requests - f.ok) + f.errors, 0),
      };
      if (setting === 1 && base[0]) {
        s.rpsRatio = round2(s.rps / base[0].rps);
        const pairs = fs.map((f) => f.rps / (figures.find((g) => g.connections === connections && g.setting === 0 && g.round === f.round)?.rps ?? NaN));
        s.pairedRpsRatio = round2(median(pairs));
        s.p50DiffMs = s.p50 - base[0].p50;
        s.p99DiffMs = s.p99 - base[0].p99;
        // The mean time per request is fine-grained enough to compare round by round, as the req/s are.
        const diffs = fs.map((f) => f.meanMs - (figures.find((g) => g.connections === connections && g.setting === 0 && g.round === f.round)?.meanMs ?? NaN));
        s.pairedMeanDiffMs = round2(median(diffs));
      }
      base.push(s);
      out.push({ ...s, rps: Math.round(s.rps) });
    }
  }
  return out;
}

function table(summary: Summary[]): string {
  const signed = (x: number | undefined, digits = 0) => (x === undefined ? '' : `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`);
  const header = [
    'connections',
    'setting',
    'req/s',
    'p50 ms',
    'p99 ms',
    'mean ms',
    'req/s ratio',
    'paired ratio',
    'Δ p50',
    'Δ p99',
    'paired Δ mean',
    'CPU µs/req api/primary/replica',
    'not 202',
  ];
  const body = summary.map((s) => [
    String(s.connections),
    `REDIS_MIN_REPLICAS_ACK=${s.setting}`,
    String(s.rps),
    String(s.p50),
    String(s.p99),
    s.meanMs.toFixed(2),
    s.rpsRatio === undefined ? '' : `${s.rpsRatio.toFixed(2)}×`,
    s.pairedRpsRatio === undefined ? '' : `${s.pairedRpsRatio.toFixed(2)}×`,
    signed(s.p50DiffMs),
    signed(s.p99DiffMs),
    signed(s.pairedMeanDiffMs, 2),
    `${s.cpuUs.api}/${s.cpuUs.primary}/${s.cpuUs.replica}`,
    `${s.refused} of ${s.requests}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

// -------------------------------------------------------------------- main ---

async function main(): Promise<void> {
  const started = Date.now();
  // The machine's 1-minute load average before and after: how much else ran meanwhile.
  const loadBefore = round2(loadavg()[0]);
  log(`machine: ${CORES} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}; process logs in ${LOG_DIR} (removed after a successful run)`);
  log(`options: ${JSON.stringify(opt)}`);
  const primary = await startRedis([], 'redis-primary');
  const primaryClient = new Redis(primary.url, { maxRetriesPerRequest: null });
  const redisVersion = (await info(primaryClient, 'server')).redis_version;
  // The api sends WAITAOF where the server has it, and WAITAOF counts only replicas that write an append-only file.
  const waitAof = ((await primaryClient.call('COMMAND', 'INFO', 'WAITAOF')) as unknown[])[0] !== null;
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(primary.port), ...(waitAof ? ['--appendonly', 'yes'] : [])], 'redis-replica');
  const replicaClient = new Redis(replica.url, { maxRetriesPerRequest: null });
  const pool = new CryptoPool(CORES);
  const apis: Api[] = [];
  const figures: RunFigures[] = [];
  const notes: string[] = [];
  let failed: unknown;
  try {
    await waitForLink(primaryClient, replicaClient);
    log(`Redis ${redisVersion}: primary :${primary.port}, replica :${replica.port} linked; the waiting api sends ${waitAof ? 'WAITAOF' : 'WAIT'}`);
    for (const setting of SETTINGS) apis.push(await startApi(primary.url, setting));
    const queue = dispatchQueue(primaryClient, PREFIX);
    const parked = dispatchQueue(primaryClient, PREFIX, true);
    const clients = await registerClients(apis[0].url, ADMIN_TOKEN, 'p256', 4);
    log(`seeding ${opt.devices} devices`);
    const devices = await seedDevices(primaryClient, PREFIX, TOKEN_HASH_SECRET, clients, opt.devices, parked);
    await parked.obliterate({ force: true });
    const ctx: Ctx = { primary, replica, pool, devices, cursor: { at: 0 }, queue };

    // Warm-up (not counted), and first estimates of each run's rate.
    const estimate = new Map<string, number>();
    const key = (setting: Setting, connections: number) => `${setting}/${connections}`;
    for (const api of apis) {
      for (const c of opt.connections) {
        const f = await run(ctx, api, c, c > 1 ? 1500 : 300, 0);
        estimate.set(key(api.setting, c), f.rps);
        for (const fault of [...refusals(f), missingJobs(f) ?? []].flat()) notes.push(`warm-up, ACK=${api.setting}, ${c} connections: ${fault}`);
      }
    }
    for (let round = 1; round <= opt.rounds; round++) {
      // The setting going first alternates between rounds.
      const order = round % 2 === 1 ? apis : [...apis].reverse();
      for (const c of opt.connections) {
        const line: string[] = [];
        for (const api of order) {
          const count = Math.max(c > 1 ? 1000 : 200, Math.round(estimate.get(key(api.setting, c))! * opt.seconds));
          const f = await run(ctx, api, c, count, round);
          figures.push(f);
          estimate.set(key(api.setting, c), f.rps);
          for (const fault of [...refusals(f), missingJobs(f) ?? []].flat()) notes.push(`round ${round}, ACK=${api.setting}, ${c} connections: ${fault}`);
          line.push(
            `ACK=${api.setting} ${f.rps.toFixed(0)} req/s p50 ${f.p50} p99 ${f.p99} mean ${f.meanMs.toFixed(2)} ms (${f.ok}/${f.requests} 202, ${f.queued} queued)`,
          );
        }
        log(`round ${round}, ${c} connections: ${line.join(' | ')}`);
      }
    }
    await Promise.all([queue.close(), parked.close()]);
  } catch (err) {
    failed = err;
  } finally {
    for (const api of apis) await api.proc.stop();
    await pool.close();
    primaryClient.disconnect();
    replicaClient.disconnect();
    await replica.stop();
    await primary.stop();
  }

  // Why requests were refused, as far as the api's log tells: a Redis command
  // that timed out (REDIS_COMMAND_TIMEOUT_MS) is logged; a replication
  // timeout (REDIS_REPLICAS_ACK_TIMEOUT_MS) is an answer like any other.
  const commandTimeouts = Object.fromEntries(
    apis.map((a) => [`ack${a.setting}`, (readFileSync(a.proc.logFile, 'utf8').match(/redis unavailable \(Command timed out\)/g) ?? []).length]),
  );
  const summary = summarise(figures);
  const checked = figures.length > 0 && figures.every((f) => missingJobs(f) === undefined);
  const out = {
    date: new Date().toISOString(),
    machine: {
      cores: CORES,
      cpu: cpus()[0]?.model ?? '',
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
      redis: redisVersion,
      loadAverage1m: { before: loadBefore, after: round2(loadavg()[0]) },
    },
    options: { ...opt, ackCommand: waitAof ? 'WAITAOF' : 'WAIT', replicaAppendonly: waitAof },
    durationS: Math.round((Date.now() - started) / 1000),
    every202QueuedItsJob: checked,
    summary,
    /** Requests the api refused because a Redis command timed out (its log's lines, warm-up included). */
    commandTimeouts,
    runs: figures,
    notes,
    error: failed ? String(failed instanceof Error ? failed.stack : failed) : undefined,
  };
  mkdirSync(join(flags.out!, '..'), { recursive: true });
  writeFileSync(flags.out!, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`\n${table(summary)}\n\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(`api log, requests refused on a Redis command timeout (warm-up included): ${JSON.stringify(commandTimeouts)}\n`);
  process.stdout.write(
    `${checked ? 'every 202 queued a job of its own' : 'NOT every 202 queued a job of its own (see the notes)'}; ` +
      `median of ${opt.rounds} round(s); ${out.durationS} s; written to ${flags.out}\n`,
  );
  if (failed || !checked) {
    if (failed) process.stderr.write(`bench failed: ${out.error}\n`);
    process.stderr.write(`process logs kept in ${LOG_DIR}\n`);
    process.exit(1);
  }
  rmSync(LOG_DIR, { recursive: true, force: true });
  process.exit(0);
}

stopOnSignals();
// A hard bound on the whole run, whatever happens.
setTimeout(() => {
  process.stderr.write(`bench stopped after ${opt.maxSeconds} s: stopping its processes (logs in ${LOG_DIR})\n`);
  killAll();
  process.exit(1);
}, opt.maxSeconds * 1000).unref();

void main();
