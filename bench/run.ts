/**
 * `npm run bench`: the performance suite of issue 4. Starts everything it
 * needs on 127.0.0.1 (a redis-server of its own, the built api and worker,
 * the fake providers, the reference implementations), runs each case side by
 * side with its reference in every round, prints one table of medians and
 * writes it to bench/results/latest.json. Bounded in time; stops by itself.
 *
 *   npm run bench                      # all cases, 3 rounds (a few minutes)
 *   npm run bench -- --quick           # 1 round, short runs (about a minute)
 *   npm run bench -- --cases 1a,1b --rounds 5 --seconds 8
 *   npm run bench -- --latency-ms 50 --concurrency 10,50,200 --connections 50
 *   npm run bench -- --cases 3 --connections 100 --bursts 20
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { Queue } from 'bullmq';
import { DISPATCH_QUEUES } from '@lib/dispatch-contract';
import { RedisKeys } from '@lib/store';
import { CryptoPool, type SignedHttpRequest } from './lib/crypto-pool';
import { BurstClient, closedLoop, describeRefusals, openLoop, type ClosedLoopResult } from './lib/load';
import {
  FakeProviders,
  LOG_DIR,
  ROOT,
  freePort,
  productionEnv,
  stopOnSignals,
  sleep,
  startNode,
  startRedis,
  waitForHttp,
  type Proc,
  type RedisServer,
} from './lib/services';
import { dispatchQueue, registerClients, resendRequests, seedDevices, seedTypicalStore, type BenchClient, type BenchDevice } from './lib/seed';
import { FAKE_TWILIO_ACCOUNT_SID, FAKE_TWILIO_AUTH_TOKEN } from '../test/fakes';

// ---------------------------------------------------------------- options ---

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    cases: { type: 'string', default: '1a,1b,2,3' },
    'latency-ms': { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '10,50,200' },
    connections: { type: 'string', default: '50' },
    'worker-concurrency': { type: 'string', default: '50' },
    bursts: { type: 'string', default: '10' },
    'paced-rate': { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results', 'latest.json') },
    dist: { type: 'string', default: join(ROOT, 'dist') },
    'node-args': { type: 'string', default: '' },
    env: { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  process.stdout.write(
    [
      'npm run bench -- [options]',
      '  --quick                 1 round, short runs',
      '  --rounds N              rounds per case (default 3; median reported)',
      '  --seconds S             target length of one load run (default 5; quick 2)',
      '  --cases LIST            any of 1a,1b,2,3 (default all; 4, memory, is always reported)',
      '  --latency-ms MS         fake provider latency (default 50)',
      '  --concurrency LIST      worker concurrencies for case 2 (default 10,50,200)',
      '  --connections N         autocannon connections for case 1, requests per burst in case 3b (default 50)',
      '  --worker-concurrency N  WORKER_CONCURRENCY of the worker in case 3 (default 50)',
      '  --bursts N              bursts of --connections requests per round in case 3b (default 10)',
      '  --paced-rate R          arrivals per second in case 3a (default: half of min(api, worker) as measured)',
      '  --out FILE              JSON output (default bench/results/latest.json)',
      '  --dist DIR              built apps to measure (default dist/; another build for before/after)',
      '  --node-args=ARGS        extra node options for the api and worker (e.g. --node-args=--cpu-prof)',
      '  --env K=V,K=V           extra environment for the api and worker (e.g. --env LOG_LEVEL=warn)',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const opt = {
  rounds: Number(flags.rounds ?? (flags.quick ? 1 : 3)),
  seconds: Number(flags.seconds ?? (flags.quick ? 2 : 5)),
  cases: new Set(flags.cases!.split(',').map((c) => c.trim())),
  latencyMs: Number(flags['latency-ms']),
  concurrencies: flags.concurrency!.split(',').map(Number),
  connections: Number(flags.connections),
  case3Concurrency: Number(flags['worker-concurrency']),
  bursts: Number(flags.bursts),
  pacedRate: flags['paced-rate'] === undefined ? undefined : Number(flags['paced-rate']),
  dist: flags.dist!,
  nodeArgs: flags['node-args']!.split(' ').filter(Boolean),
  env: Object.fromEntries(
    flags
      .env!.split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  ) as Record<string, string>,
};

const CORES = availableParallelism();
// Drawn per run: the api runs under production rules, which refuse any value published in the repository.
const ADMIN_TOKEN = randomBytes(32).toString('hex');
const TOKEN_HASH_SECRET = randomBytes(32).toString('hex');
const BOARD_PASSWORD = randomBytes(32).toString('hex');
const PREFIX = 'bench';

const log = (msg: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const median = (xs: number[]) => {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
const round1 = (x: number) => Math.round(x * 10) / 10;

// ------------------------------------------------------------- the stack ---

interface Stack {
  redis: RedisServer;
  fakes: FakeProviders;
  serviceEnv: Record<string, string>;
  api?: Proc;
  apiUrl?: string;
  workers: Proc[];
  admin: Redis;
}

async function serviceEnv(redisUrl: string, fakes: FakeProviders): Promise<Record<string, string>> {
  return {
    ...productionEnv(redisUrl, PREFIX, { ADMIN_TOKEN, TOKEN_HASH_SECRET, BOARD_PASSWORD }),
    // Real providers, pointed at the fakes.
    TWILIO_ACCOUNT_SID: FAKE_TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: FAKE_TWILIO_AUTH_TOKEN,
    TWILIO_FROM_NUMBER: '+15005550006',
    TWILIO_API_URL: fakes.twilioUrl,
    SES_FROM_ADDRESS: 'no-reply@tokens.example.com',
    SES_ENDPOINT: fakes.sesUrl,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKE0000',
    AWS_SECRET_ACCESS_KEY: 'fake-aws-secret-key-0123456789abcdefghij',
    WORKER_HTTP_HOST: '127.0.0.1',
    WORKER_HTTP_PORT: String(await freePort()),
    ...opt.env,
  };
}

async function startApi(stack: Stack): Promise<void> {
  const port = await freePort();
  const api = startNode('api', join(opt.dist, 'apps', 'api', 'main.js'), { ...stack.serviceEnv, PORT: String(port) }, false, opt.nodeArgs);
  stack.api = api;
  stack.apiUrl = `http://127.0.0.1:${port}`;
  await waitForHttp(`${stack.apiUrl}/internal/clients`, api);
}

async function startWorker(stack: Stack, concurrency: number): Promise<Proc> {
  const worker = startNode(
    'worker',
    join(opt.dist, 'apps', 'worker', 'main.js'),
    { ...stack.serviceEnv, WORKER_CONCURRENCY: String(concurrency), WORKER_HTTP_PORT: String(await freePort()) },
    false,
    opt.nodeArgs,
  );
  stack.workers.push(worker);
  for (const queue of Object.values(DISPATCH_QUEUES)) await worker.waitFor(new RegExp(`consuming \\\\?"${queue}\\\\?"`));
  return worker;
}

async function startReference(name: string, file: string, env: Record<string, string>): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = startNode(name, join(ROOT, 'bench', 'references', file), { ...env, PORT: String(port) }, true);
  await proc.waitFor(/listening on|consuming/);
  return { proc, url: `http://127.0.0.1:${port}` };
}

// -------------------------------------------------------- request pools ---

/**
 * Empties a queue. For the service's queue (`service`: its Redis), its dispatches leave
 * the pending set too: a pending dispatch whose job is gone is what the
 * worker's repair queues again, which would put one run's discarded work into
 * a later case's measurement.
 */
async function clearQueue(queue: Queue, service?: Redis): Promise<void> {
  await queue.obliterate({ force: true }).catch(async () => {
    // obliterate refuses while a worker holds a job; wait and retry once
    await sleep(1000);
    await queue.obliterate({ force: true });
  });
  if (service) await service.del(new RedisKeys(PREFIX).pendingDispatches);
}

function describeFailures(r: ClosedLoopResult): string {
  return Object.entries(r.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${n}×${code}`)
    .join(', ');
}

// ------------------------------------------------------------------ cases ---

interface Row {
  case: string;
  subject: string;
  metric: string;
  value: number;
  reference?: string;
  referenceValue?: number;
  ratio?: number;
  target?: string;
  met?: boolean;
  rounds: number[];
  referenceRounds?: number[];
}

const rows: Row[] = [];
const notes: string[] = [];

/** A row comparing rounds with reference rounds; with `targetRatio`, whether the ratio meets it. */
function addRatioRow(r: Omit<Row, 'value' | 'referenceValue' | 'ratio' | 'met'>, targetRatio?: number, higherIsBetter = true): Row {
  const value = median(r.rounds);
  const referenceValue = median(r.referenceRounds ?? []);
  const ratio = value / referenceValue;
  const met = targetRatio === undefined ? undefined : higherIsBetter ? ratio >= targetRatio : ratio <= targetRatio;
  const row: Row = { ...r, value, referenceValue, ratio, met };
  rows.push(row);
  return row;
}

/** A server measured in case 1: the api or a reference, and the queue its 202s fill (when it queues anything). */
interface Target {
  id: string;
  label: string;
  url: string;
  proc: Proc;
  queue?: Queue;
}

interface CpuUs {
  /** The target's process, all its threads. */
  target: number;
  redis: number;
  /** This process (autocannon). */
  loadgen: number;
}

/**
 * One closed-loop run against a target. Afterwards its queue is counted and
 * emptied: for a reference, the jobs queued must equal its 202s (it did the
 * work it is measured for), else the bench stops.
 */
async function runTarget(
  stack: Stack,
  t: Target,
  signed: SignedHttpRequest[],
): Promise<{ result: ClosedLoopResult; queued?: number; cpuUs: CpuUs; commands: CommandTime[] }> {
  await stack.admin.config('RESETSTAT');
  const cpu0 = { target: t.proc.cpuMs(), redis: stack.redis.proc.cpuMs(), bench: process.cpuUsage() };
  const result = await closedLoop(t.url, signed, opt.connections);
  const benchCpu = process.cpuUsage(cpu0.bench);
  const commands = commandTimes(await stack.admin.info('commandstats'), result.requests);
  // Where the machine's CPU went, per request: the target (all its threads), redis-server, and this process (autocannon).
  const cpuUs = {
    target: ((t.proc.cpuMs() - cpu0.target) * 1000) / result.requests,
    redis: ((stack.redis.proc.cpuMs() - cpu0.redis) * 1000) / result.requests,
    loadgen: (benchCpu.user + benchCpu.system) / result.requests,
  };
  let queued: number | undefined;
  if (t.queue) {
    // The api's coalesced requests re-add an existing job id (a no-op), so
    // the jobs in the queue count the requests that went through the whole send path.
    queued = await t.queue.getJobCountByTypes('waiting', 'prioritized', 'delayed');
    await clearQueue(t.queue, t.id === 'api' ? stack.admin : undefined);
  }
  if (result.non2xx || result.errors)
    notes.push(`${t.label}, run of ${signed.length}: ${result.non2xx} non-2xx (${describeFailures(result)}), ${result.errors} errors`);
  // A reference refusing valid requests is not doing the job it stands for.
  if (t.id !== 'api' && result.non2xx > 0) throw new Error(`${t.label} refused valid requests: ${describeFailures(result)}`);
  if (t.id !== 'api' && queued !== undefined && queued !== result.ok) {
    throw new Error(`${t.label}: ${result.ok} requests answered 202 but ${queued} jobs were queued; the reference did not do the work it is measured for`);
  }
  return { result, queued, cpuUs, commands };
}

/** One command's calls and Redis's own time in it, per request. */
interface CommandTime {
  command: string;
  calls: number;
  us: number;
}

/** Redis's own time per request in each command (`INFO commandstats` after a `CONFIG RESETSTAT`), largest first. */
function commandTimes(info: string, requests: number): CommandTime[] {
  const rows: CommandTime[] = [];
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    if (m[1] === 'config' || m[1] === 'info') continue;
    rows.push({ command: m[1], calls: Number(m[2]) / requests, us: Number(m[3]) / requests });
  }
  return rows.sort((a, b) => b.us - a.us);
}

/** The commands that took at least 0.5 µs per request, largest first: `evalsha 1.12 calls 116 µs, …`. */
const commandText = (commands: readonly CommandTime[]) =>
  commands
    .filter((x) => x.us >= 0.5)
    .map((x) => `${x.command} ${x.calls.toFixed(2)} calls ${x.us.toFixed(0)} µs`)
    .join(', ');

const cpuText = (c: CpuUs) => `${c.target.toFixed(0)} / redis ${c.redis.toFixed(0)} / autocannon ${c.loadgen.toFixed(0)}`;

/**
 * What each server that checks signatures must refuse before it is measured:
 * the same signed request with one character of its signature changed, and
 * with a body its payload_md5 does not cover. Anything but 401 stops the bench.
 */
async function assertRefusesForgeries(targets: Target[], sample: SignedHttpRequest): Promise<void> {
  const jwt = sample.headers.authorization;
  const at = jwt.lastIndexOf('.') + 10;
  const tampered = `${jwt.slice(0, at)}${jwt[at] === 'A' ? 'B' : 'A'}${jwt.slice(at + 1)}`;
  const forgeries = [
    { what: 'a tampered JWT signature', headers: { ...sample.headers, authorization: tampered }, body: sample.body },
    { what: 'a body its payload_md5 does not cover', headers: sample.headers, body: JSON.stringify({ contact_type: 'email' }) },
  ];
  for (const t of targets) {
    for (const f of forgeries) {
      const res = await fetch(`${t.url}${sample.path}`, { method: sample.method, headers: f.headers, body: f.body, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (res.status !== 401)
        throw new Error(`${t.label} answered ${res.status}, not 401, to a request with ${f.what}: it does not check what it is measured for`);
    }
  }
  log(`  forgeries refused with 401 by ${targets.map((t) => t.label).join(', ')}`);
}

/**
 * Closed-loop rounds over `targets`, all fed the same signed requests: each
 * round signs one pool (fresh devices, round-robin) and each target takes as
 * many from its start as its last rate × the run length; the order rotates
 * each round, so no one always runs on a warmer or cooler machine.
 */
async function measureTargets(
  caseId: string,
  stack: Stack,
  pool: CryptoPool,
  devices: BenchDevice[],
  targets: Target[],
  sizes: { warm: number; min: number },
  beforeRound?: () => Promise<void>,
) {
  const cursor = { at: 0 };
  const results: Record<string, ClosedLoopResult[]> = Object.fromEntries(targets.map((t) => [t.id, []]));
  const cpu: Record<string, CpuUs[]> = Object.fromEntries(targets.map((t) => [t.id, []]));
  const commands: Record<string, CommandTime[]> = {};
  const estimate: Record<string, number> = {};
  const apiQueuedShare: number[] = [];
  // Warm-up (JIT, connections, key caches, the heap's size), then as long a
  // run as a measured one, discarded: the api's larger code takes seconds of
  // load to reach its steady state, a reference's a fraction of one.
  const warm = await pool.sign(resendRequests(devices, sizes.warm, cursor));
  for (const t of targets) estimate[t.id] = (await runTarget(stack, t, warm)).result.rps;
  // A run's requests: what the target's last rate takes in the run's length.
  const runCounts = () => Object.fromEntries(targets.map((t) => [t.id, Math.max(sizes.min, Math.round(estimate[t.id] * opt.seconds))]));
  const steadyCounts = runCounts();
  const steady = await pool.sign(resendRequests(devices, Math.max(...Object.values(steadyCounts)), cursor));
  for (const t of targets) estimate[t.id] = (await runTarget(stack, t, steady.slice(0, steadyCounts[t.id]))).result.rps;
  for (let r = 0; r < opt.rounds; r++) {
    await beforeRound?.();
    const order = [...targets.slice(r % targets.length), ...targets.slice(0, r % targets.length)];
    const counts = runCounts();
    const signed = await pool.sign(resendRequests(devices, Math.max(...Object.values(counts)), cursor));
    for (const t of order) {
      const run = await runTarget(stack, t, signed.slice(0, counts[t.id]));
      results[t.id].push(run.result);
      cpu[t.id].push(run.cpuUs);
      commands[t.id] = run.commands;
      if (t.id === 'api') apiQueuedShare.push((run.queued ?? 0) / Math.max(1, run.result.ok));
      estimate[t.id] = run.result.rps;
    }
    log(`  round ${r + 1}: ` + targets.map((t) => `${t.id} ${results[t.id][r].rps.toFixed(0)} req/s p99 ${results[t.id][r].p99} ms`).join(' | '));
  }
  for (const t of targets) {
    const c = cpu[t.id];
    notes.push(
      `${caseId}, ${t.label}: median CPU µs per request, process / redis / autocannon: ${cpuText({ target: median(c.map((x) => x.target)), redis: median(c.map((x) => x.redis)), loadgen: median(c.map((x) => x.loadgen)) })}`,
    );
    const byCommand = commandText(commands[t.id] ?? []);
    if (byCommand) notes.push(`${caseId}, ${t.label}: Redis's command time per request (last round): ${byCommand}`);
  }
  const rps = (id: string) => results[id].map((x) => x.rps);
  const p50 = (id: string) => results[id].map((x) => x.p50);
  const p99 = (id: string) => results[id].map((x) => x.p99);
  return { rps, p50, p99, apiQueuedShare };
}

/** The verify-and-enqueue floor and the typical NestJS build: references of cases 1a and 1b, with their own queues. */
interface Peers {
  floor: Target;
  typical: Target;
  stop(): Promise<void>;
}

const FLOOR_QUEUE_PREFIX = 'bench-vfloor:bull';
const TYPICAL_KEY_PREFIX = 'typ';
const TYPICAL_QUEUE_PREFIX = 'bench-typical:bull';
/** The queue name bench/references/nest-typical.ts registers. */
const TYPICAL_QUEUE = 'token-sends';

async function startPeers(stack: Stack, clients: BenchClient[]): Promise<Peers> {
  const skew = stack.serviceEnv.AUTH_MAX_CLOCK_SKEW_SECONDS ?? '300';
  const floor = await startReference('fastify-floor', 'fastify-floor.ts', {
    REDIS_URL: stack.redis.url,
    QUEUE_PREFIX: FLOOR_QUEUE_PREFIX,
    AUTH_MAX_CLOCK_SKEW_SECONDS: skew,
    // The keys the api has registered, held in memory: the floor reads nothing else.
    BENCH_CLIENTS: JSON.stringify(clients.map((c) => ({ clientKey: c.clientKey, publicKeyPem: c.publicKeyPem }))),
  });
  const typical = await startReference('nest-typical', 'nest-typical.ts', {
    REDIS_URL: stack.redis.url,
    KEY_PREFIX: TYPICAL_KEY_PREFIX,
    QUEUE_PREFIX: TYPICAL_QUEUE_PREFIX,
    AUTH_MAX_CLOCK_SKEW_SECONDS: skew,
    // As the api's settings: a 1 s coalescing window, a cap far above what a run sends.
    COALESCE_MS: '1000',
    SEND_CAP_PER_HOUR: '1000000',
  });
  const floorQueue = new Queue(DISPATCH_QUEUES.sms, { connection: stack.admin, prefix: FLOOR_QUEUE_PREFIX });
  const typicalQueue = new Queue(TYPICAL_QUEUE, { connection: stack.admin, prefix: TYPICAL_QUEUE_PREFIX });
  for (const q of [floorQueue, typicalQueue]) q.on('error', () => undefined);
  return {
    floor: { id: 'floor', label: 'Fastify verify + queue.add (floor)', url: floor.url, proc: floor.proc, queue: floorQueue },
    typical: { id: 'typical', label: 'NestJS/Express typical build', url: typical.url, proc: typical.proc, queue: typicalQueue },
    stop: async () => {
      await Promise.all([floor.proc.stop(), typical.proc.stop()]);
      await Promise.all([floorQueue.close(), typicalQueue.close()]);
    },
  };
}

/** The api's p50 beside the floor's (no target). */
function floorP50Row(caseId: string, subject: string, m: { p50: (id: string) => number[] }, floorLabel: string): void {
  rows.push({
    case: caseId,
    subject,
    metric: 'p50 ms',
    value: median(m.p50('api')),
    reference: floorLabel,
    referenceValue: median(m.p50('floor')),
    rounds: m.p50('api'),
    referenceRounds: m.p50('floor'),
  });
}

function peerLatencyRows(caseId: string, m: { p50: (id: string) => number[]; p99: (id: string) => number[] }, peers: Target[]): void {
  for (const t of peers) {
    rows.push({ case: caseId, subject: t.label, metric: 'p50 / p99 ms', value: median(m.p50(t.id)), referenceValue: median(m.p99(t.id)), rounds: m.p50(t.id) });
  }
}

/** Case 1a: ES512 through the api vs the floor and the typical build, and the ES512 verification ceiling (one thread's loop × cores). */
async function case1a(stack: Stack, pool: CryptoPool, clients: BenchClient[], devices: BenchDevice[], queue: Queue, peers: Peers) {
  log(`case 1a: ES512 resend vs the verify-and-enqueue floor, the typical NestJS build, and the verify ceiling × ${CORES} cores`);
  const api: Target = { id: 'api', label: 'api', url: stack.apiUrl!, proc: stack.api!, queue };
  const sample = await pool.sign(resendRequests(devices, 64, { at: 0 }));
  await assertRefusesForgeries([api, peers.floor, peers.typical], sample[0]);
  const client = clients[0];
  const sampleJwts = sample.filter((s) => s.headers['api-client-key'] === client.clientKey).map((s) => s.headers.authorization);
  const ceiling: number[] = [];
  const m = await measureTargets('1a', stack, pool, devices, [api, peers.floor, peers.typical], { warm: 600, min: 500 }, async () => {
    ceiling.push((await pool.verifyLoop(client.publicKeyPem, sampleJwts, 2000)) * CORES);
  });
  const subject = 'api resend, ES512';
  const apiRps = m.rps('api');
  addRatioRow(
    { case: '1a', subject, metric: 'req/s', rounds: apiRps, reference: peers.floor.label, referenceRounds: m.rps('floor'), target: '≥ 0.95 × floor' },
    0.95,
  );
  addRatioRow({ case: '1a', subject, metric: 'req/s', rounds: apiRps, reference: peers.typical.label, referenceRounds: m.rps('typical') });
  addRatioRow({ case: '1a', subject, metric: 'req/s', rounds: apiRps, reference: `ES512 verify loop × ${CORES} cores`, referenceRounds: ceiling });
  addRatioRow({ case: '1a', subject, metric: 'p99 ms', rounds: m.p99('api'), reference: peers.floor.label, referenceRounds: m.p99('floor') });
  floorP50Row('1a', subject, m, peers.floor.label);
  peerLatencyRows('1a', m, [peers.floor, peers.typical]);
  notes.push(`1a: ${(median(m.apiQueuedShare) * 100).toFixed(1)}% of the api's 202s queued a new job (the rest were coalesced)`);
}

/**
 * Case 1b: ES256 through the api vs the floor and the typical build (the
 * targets), and, as context, the earlier references that check nothing: a
 * Fastify route calling queue.add, a NestJS-on-Express route answering 202,
 * and the same route calling queue.add.
 */
async function case1b(stack: Stack, pool: CryptoPool, devices: BenchDevice[], queue: Queue, peers: Peers, bestApiRps: { value: number }) {
  log('case 1b: ES256 resend vs the verify-and-enqueue floor and the typical NestJS build (and the unchecked Fastify and NestJS-on-Express routes)');
  const bare = await startReference('fastify-queue', 'fastify-queue.ts', { REDIS_URL: stack.redis.url, QUEUE_PREFIX: 'bench-floor:bull' });
  const express = await startReference('nest-express', 'nest-express.ts', {});
  const expressQ = await startReference('nest-express-queue', 'nest-express.ts', {
    REDIS_URL: stack.redis.url,
    QUEUE_PREFIX: 'bench-express:bull',
    QUEUE_ADD: '1',
  });
  const [bareQueue, expressQueue] = ['bench-floor:bull', 'bench-express:bull'].map((prefix) => {
    const q = new Queue(DISPATCH_QUEUES.sms, { connection: stack.admin, prefix });
    q.on('error', () => undefined);
    return q;
  });
  const api: Target = { id: 'api', label: 'api', url: stack.apiUrl!, proc: stack.api!, queue };
  const context: Target[] = [
    { id: 'bare', label: 'Fastify + queue.add, no checks', url: bare.url, proc: bare.proc, queue: bareQueue },
    { id: 'express', label: 'NestJS-on-Express 202, no checks', url: express.url, proc: express.proc },
    { id: 'expressQ', label: 'NestJS-on-Express + queue.add, no checks', url: expressQ.url, proc: expressQ.proc, queue: expressQueue },
  ];
  let m: Awaited<ReturnType<typeof measureTargets>>;
  try {
    const sample = await pool.sign(resendRequests(devices, 1, { at: 0 }));
    await assertRefusesForgeries([api, peers.floor, peers.typical], sample[0]);
    m = await measureTargets('1b', stack, pool, devices, [api, peers.floor, peers.typical, ...context], { warm: 1500, min: 1000 });
  } finally {
    await Promise.all([bare.proc.stop(), express.proc.stop(), expressQ.proc.stop()]);
    await Promise.all([bareQueue.close(), expressQueue.close()]);
  }
  const subject = 'api resend, ES256';
  const apiRps = m.rps('api');
  addRatioRow(
    { case: '1b', subject, metric: 'req/s', rounds: apiRps, reference: peers.floor.label, referenceRounds: m.rps('floor'), target: '≥ 0.6 × floor' },
    0.6,
  );
  addRatioRow(
    { case: '1b', subject, metric: 'req/s', rounds: apiRps, reference: peers.typical.label, referenceRounds: m.rps('typical'), target: '≥ 1.5 × typical' },
    1.5,
  );
  addRatioRow(
    { case: '1b', subject, metric: 'p99 ms', rounds: m.p99('api'), reference: peers.floor.label, referenceRounds: m.p99('floor'), target: '≤ 2 × floor p99' },
    2,
    false,
  );
  floorP50Row('1b', subject, m, peers.floor.label);
  for (const t of context) addRatioRow({ case: '1b', subject, metric: 'req/s', rounds: apiRps, reference: t.label, referenceRounds: m.rps(t.id) });
  peerLatencyRows('1b', m, [peers.floor, peers.typical, ...context]);
  notes.push(`1b: ${(median(m.apiQueuedShare) * 100).toFixed(1)}% of the api's 202s queued a new job (the rest were coalesced)`);
  bestApiRps.value = median(apiRps);
}

/** Waits until `expected` provider arrivals were seen (collecting them), failing after `stallMs` without progress. */
async function collectArrivals(fakes: FakeProviders, expected: number, stallMs = 30_000) {
  const arrivals: { to: string; t: number }[] = [];
  let lastProgress = Date.now();
  while (arrivals.length < expected) {
    await sleep(100);
    const got = await fakes.collect();
    if (got.length) {
      arrivals.push(...got);
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > stallMs) {
      throw new Error(`only ${arrivals.length} of ${expected} provider requests arrived (no progress for ${stallMs / 1000} s)`);
    }
  }
  return arrivals;
}

async function waitDrained(queue: Queue, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const left = await queue.getJobCountByTypes('waiting', 'active', 'delayed', 'prioritized');
    if (left === 0) return;
    await sleep(100);
  }
  throw new Error('queue not drained in time');
}

const throughput = (arrivals: { t: number }[]) => {
  const ts = arrivals.map((a) => a.t).sort((a, b) => a - b);
  return (ts.length - 1) / ((ts[ts.length - 1] - ts[0]) / 1000);
};

interface DrainRun {
  arrivals: { t: number }[];
  /** CPU µs per job: the consumer's process, redis-server, the fake providers. */
  cpu: number[];
  commands: CommandTime[];
}

/** Releases a paused queue of `count` jobs and waits for all of them at the fake provider and for the queue to drain. */
async function drainPaused(stack: Stack, queue: Queue, consumerCpuMs: () => number, count: number): Promise<DrainRun> {
  await stack.fakes.collect();
  await stack.admin.config('RESETSTAT');
  const cpu0 = [consumerCpuMs(), stack.redis.proc.cpuMs(), stack.fakes.proc.cpuMs()];
  await queue.resume();
  const arrivals = await collectArrivals(stack.fakes, count);
  await waitDrained(queue);
  const cpu = [consumerCpuMs() - cpu0[0], stack.redis.proc.cpuMs() - cpu0[1], stack.fakes.proc.cpuMs() - cpu0[2]].map((ms) => (ms * 1000) / count);
  return { arrivals, cpu, commands: commandTimes(await stack.admin.info('commandstats'), count) };
}

/** Case 2: jobs/s of the worker vs a raw BullMQ worker, same fake latency and concurrency. */
async function case2(stack: Stack, clients: BenchClient[], queue: Queue, workerRps: Map<number, number>) {
  log(`case 2: worker vs raw BullMQ worker, provider latency ${opt.latencyMs} ms`);
  const rawQueue = new Queue('raw-dispatch', { connection: stack.admin, prefix: 'bench-raw:bull' });
  rawQueue.on('error', () => undefined);
  try {
    for (const c of opt.concurrencies) {
      const worker = await startWorker(stack, c);
      const raw = await startReference(`raw-worker-c${c}`, 'raw-worker.ts', {
        REDIS_URL: stack.redis.url,
        QUEUE_PREFIX: 'bench-raw:bull',
        TWILIO_API_URL: stack.fakes.twilioUrl,
        TWILIO_ACCOUNT_SID: FAKE_TWILIO_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: FAKE_TWILIO_AUTH_TOKEN,
        WORKER_CONCURRENCY: String(c),
      });
      const ours: number[] = [];
      const theirs: number[] = [];
      // First size: what the concurrency allows at this latency, within reason.
      let n = Math.min(Math.round(c * (1000 / opt.latencyMs) * opt.seconds * 0.5), 3000);
      n = Math.max(n, 200);
      try {
        for (let r = 0; r < opt.rounds + 1; r++) {
          const warm = r === 0;
          const count = warm ? Math.min(n, 300) : n;
          // Ours: devices waiting for their first token, their jobs queued while paused.
          await queue.pause();
          const devices = await seedDevices(stack.admin, PREFIX, TOKEN_HASH_SECRET, clients, count, queue);
          const runOurs = () => drainPaused(stack, queue, () => worker.cpuMs(), count);
          // Raw: the same number of jobs, each one provider call.
          const runRaw = async () => {
            await rawQueue.pause();
            for (let i = 0; i < count; i += 1000) {
              await rawQueue.addBulk(
                devices.slice(i, i + 1000).map((d) => ({ name: 'send', data: { to: d.approver.phone_number }, opts: { removeOnComplete: true } })),
              );
            }
            return drainPaused(stack, rawQueue, () => raw.proc.cpuMs(), count);
          };
          // Which one goes first alternates between rounds.
          let a: DrainRun;
          let b: DrainRun;
          if (r % 2 === 0) {
            a = await runOurs();
            b = await runRaw();
          } else {
            b = await runRaw();
            a = await runOurs();
          }
          const cpuA = a.cpu;
          const cpuB = b.cpu;
          await clearQueue(queue, stack.admin);
          await clearQueue(rawQueue);
          if (warm) continue;
          ours.push(throughput(a.arrivals));
          theirs.push(throughput(b.arrivals));
          n = Math.max(200, Math.min(20_000, Math.round(ours[ours.length - 1] * opt.seconds)));
          const us = (x: number[]) => `${x.map((v) => v.toFixed(0)).join('/')}`;
          log(
            `  c=${c} round ${r}: worker ${ours[ours.length - 1].toFixed(0)} jobs/s, raw ${theirs[theirs.length - 1].toFixed(0)} jobs/s (${count} jobs; ` +
              `CPU µs per job, process/redis/fakes: worker ${us(cpuA)}, raw ${us(cpuB)})`,
          );
          if (r === opt.rounds)
            for (const [who, run] of [
              ['worker', a],
              ['raw BullMQ worker', b],
            ] as const)
              notes.push(`2, c=${c}, ${who}: Redis's command time per job (last round): ${commandText(run.commands)}`);
        }
      } finally {
        await raw.proc.stop();
        await worker.stop();
      }
      workerRps.set(c, median(ours));
      addRatioRow(
        {
          case: '2',
          subject: `worker, concurrency ${c}`,
          metric: 'jobs/s',
          rounds: ours,
          reference: `raw BullMQ worker, concurrency ${c}`,
          referenceRounds: theirs,
          target: '≥ 0.95 × raw',
        },
        0.95,
      );
    }
  } finally {
    await rawQueue.close();
  }
}

interface BurstRun {
  /** First request sent (or, raw, the jobs' add) → the last provider arrival, ms. */
  drainMs: number;
  /** Per job: the 202 (raw: the add's return) → its provider arrival, ms. */
  handoffs: number[];
  /** First request sent → the last 202 (raw: the add → its return), ms. */
  intakeMs: number;
}

/**
 * Case 3: from the 202 to the provider receiving the request, twice. (a)
 * Poisson arrivals at half the measured maximum throughput (half of
 * min(api, worker)). (b) Bursts: --connections requests fired at once,
 * --bursts times with a pause to drain between, beside a raw BullMQ worker
 * given the same number of jobs at once (addBulk) at the same concurrency and
 * provider latency; who goes first alternates.
 */
/** Requests per second the api and the worker sustain together: `count` resends closed-loop, first request to last provider arrival. */
async function endToEndRate(stack: Stack, pool: CryptoPool, clients: BenchClient[], queue: Queue, parked: Queue, count: number): Promise<number> {
  const devices = await seedDevices(stack.admin, PREFIX, TOKEN_HASH_SECRET, clients, count, parked);
  const signed = await pool.sign(resendRequests(devices, count, { at: 0 }));
  await stack.fakes.collect();
  const startedAt = Date.now();
  const result = await closedLoop(stack.apiUrl!, signed, opt.connections);
  const arrivals = await collectArrivals(stack.fakes, result.ok);
  await waitDrained(queue);
  await clearQueue(queue, stack.admin);
  return result.ok / ((Math.max(...arrivals.map((a) => a.t)) - startedAt) / 1000);
}

async function case3(stack: Stack, pool: CryptoPool, clients: BenchClient[], queue: Queue, parked: Queue, apiRps: number, workerRps: number) {
  const seconds = Math.max(5, opt.seconds * 2);
  const c = opt.case3Concurrency;
  const worker = await startWorker(stack, c);
  // The sustainable rate is the api's and the worker's together, on the same cores: requests fired closed-loop with the
  // worker running, counted from the first request to the last provider arrival (each alone would overstate it).
  const sustainable = await endToEndRate(stack, pool, clients, queue, parked, Math.min(15_000, Math.round(Math.min(apiRps, workerRps) * opt.seconds)));
  const rate = opt.pacedRate ?? Math.max(10, Math.round(sustainable / 2));
  log(
    `case 3a: dispatch latency, Poisson arrivals at ${rate} req/s (half of ${sustainable.toFixed(0)} req/s sustained end to end; alone: api ${apiRps.toFixed(0)}, worker ${workerRps.toFixed(0)}) for ${seconds} s`,
  );
  notes.push(
    `3a: sustained end to end (api and worker together) ${sustainable.toFixed(0)} req/s; alone api ${apiRps.toFixed(0)} req/s, worker ${workerRps.toFixed(0)} jobs/s`,
  );
  const rawPrefix = 'bench-raw3:bull';
  const raw = await startReference(`raw-worker-case3`, 'raw-worker.ts', {
    REDIS_URL: stack.redis.url,
    QUEUE_PREFIX: rawPrefix,
    TWILIO_API_URL: stack.fakes.twilioUrl,
    TWILIO_ACCOUNT_SID: FAKE_TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: FAKE_TWILIO_AUTH_TOKEN,
    WORKER_CONCURRENCY: String(c),
  });
  const rawQueue = new Queue('raw-dispatch', { connection: stack.admin, prefix: rawPrefix });
  rawQueue.on('error', () => undefined);
  const burstClient = new BurstClient(stack.apiUrl!, opt.connections);
  const p50s: number[] = [];
  const p99s: number[] = [];
  const sendP99s: number[] = [];
  const burst = {
    drain: [] as number[],
    intake: [] as number[],
    p50: [] as number[],
    p99: [] as number[],
    rawDrain: [] as number[],
    rawIntake: [] as number[],
    rawP50: [] as number[],
    rawP99: [] as number[],
  };
  try {
    for (let r = 0; r < opt.rounds + 1; r++) {
      const warm = r === 0;
      const count = warm ? Math.min(rate, 300) : rate * seconds;
      // Fresh devices: one resend each, so each provider request maps to one 202.
      const devices = await seedDevices(stack.admin, PREFIX, TOKEN_HASH_SECRET, clients, count, parked);
      const byPhone = new Map(devices.map((d) => [d.approver.phone_number, d.deviceKey]));
      const signed = await pool.sign(resendRequests(devices, count, { at: 0 }));
      await stack.fakes.collect();
      const samples = await openLoop(stack.apiUrl!, signed, rate, { arrivals: 'poisson' });
      const okSamples = samples.filter((s) => s.status === 202);
      const arrivals = await collectArrivals(stack.fakes, okSamples.length);
      await waitDrained(queue);
      await clearQueue(queue, stack.admin);
      if (warm) continue;
      const arrivalByDevice = new Map(arrivals.map((a) => [byPhone.get(a.to), a.t]));
      const latencies = okSamples.map((s) => (arrivalByDevice.get(s.deviceKey) ?? NaN) - s.answeredAt).filter(Number.isFinite);
      const sendLatencies = okSamples.map((s) => (arrivalByDevice.get(s.deviceKey) ?? NaN) - s.sentAt).filter(Number.isFinite);
      if (okSamples.length !== samples.length)
        notes.push(`3a: ${samples.length - okSamples.length} of ${samples.length} requests not 202 (${describeRefusals(samples)})`);
      p50s.push(percentile(latencies, 50));
      p99s.push(percentile(latencies, 99));
      sendP99s.push(percentile(sendLatencies, 99));
      log(
        `  round ${r}: 202 → provider p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms (request → provider p99 ${percentile(sendLatencies, 99)} ms)`,
      );
    }

    log(
      `case 3b: bursts of ${opt.connections} requests at once, ${opt.bursts} per round, worker c=${c} vs a raw BullMQ worker c=${c} given as many jobs at once`,
    );
    for (let r = 0; r < opt.rounds + 1; r++) {
      const warm = r === 0;
      const bursts = warm ? 2 : opt.bursts;
      const devices = await seedDevices(stack.admin, PREFIX, TOKEN_HASH_SECRET, clients, opt.connections * bursts, parked);
      const byPhone = new Map(devices.map((d) => [d.approver.phone_number, d.deviceKey]));
      const signed = await pool.sign(resendRequests(devices, devices.length, { at: 0 }));
      const ours: BurstRun[] = [];
      const theirs: BurstRun[] = [];
      for (let b = 0; b < bursts; b++) {
        const from = b * opt.connections;
        const runOurs = async (): Promise<BurstRun> => {
          await stack.fakes.collect();
          const samples = await burstClient.fire(signed.slice(from, from + opt.connections));
          const ok = samples.filter((s) => s.status === 202);
          if (ok.length !== samples.length)
            notes.push(`3b: ${samples.length - ok.length} of ${samples.length} burst requests not 202 (${describeRefusals(samples)})`);
          const arrivals = await collectArrivals(stack.fakes, ok.length);
          await waitDrained(queue);
          const arrivalByDevice = new Map(arrivals.map((a) => [byPhone.get(a.to), a.t]));
          return {
            drainMs: Math.max(...arrivals.map((a) => a.t)) - Math.min(...samples.map((s) => s.sentAt)),
            intakeMs: Math.max(...ok.map((s) => s.answeredAt)) - Math.min(...samples.map((s) => s.sentAt)),
            handoffs: ok.map((s) => (arrivalByDevice.get(s.deviceKey) ?? NaN) - s.answeredAt).filter(Number.isFinite),
          };
        };
        const runRaw = async (): Promise<BurstRun> => {
          await stack.fakes.collect();
          const jobs = devices
            .slice(from, from + opt.connections)
            .map((d) => ({ name: 'send', data: { to: d.approver.phone_number }, opts: { removeOnComplete: true } }));
          const t0 = Date.now();
          await rawQueue.addBulk(jobs);
          const added = Date.now();
          const arrivals = await collectArrivals(stack.fakes, jobs.length);
          await waitDrained(rawQueue);
          return { drainMs: Math.max(...arrivals.map((a) => a.t)) - t0, intakeMs: added - t0, handoffs: arrivals.map((a) => a.t - added) };
        };
        if ((r + b) % 2 === 0) {
          ours.push(await runOurs());
          theirs.push(await runRaw());
        } else {
          theirs.push(await runRaw());
          ours.push(await runOurs());
        }
        await sleep(100);
      }
      await clearQueue(queue, stack.admin);
      if (warm) continue;
      const pooled = (runs: BurstRun[]) => runs.flatMap((x) => x.handoffs);
      burst.drain.push(median(ours.map((x) => x.drainMs)));
      burst.rawDrain.push(median(theirs.map((x) => x.drainMs)));
      burst.intake.push(median(ours.map((x) => x.intakeMs)));
      burst.rawIntake.push(median(theirs.map((x) => x.intakeMs)));
      burst.p50.push(percentile(pooled(ours), 50));
      burst.p99.push(percentile(pooled(ours), 99));
      burst.rawP50.push(percentile(pooled(theirs), 50));
      burst.rawP99.push(percentile(pooled(theirs), 99));
      log(
        `  round ${r}: drain median ${burst.drain.at(-1)} ms (raw ${burst.rawDrain.at(-1)} ms), of which the intake ${burst.intake.at(-1)} ms (raw addBulk ${burst.rawIntake.at(-1)} ms); 202 → provider p50 ${burst.p50.at(-1)} ms, p99 ${burst.p99.at(-1)} ms ` +
          `(raw add → provider p50 ${burst.rawP50.at(-1)} ms, p99 ${burst.rawP99.at(-1)} ms); drains ${ours.map((x) => x.drainMs).join('/')} vs raw ${theirs.map((x) => x.drainMs).join('/')}`,
      );
    }
  } finally {
    burstClient.close();
    await raw.proc.stop();
    await rawQueue.close();
    await worker.stop();
  }
  const paced = `202 → provider, Poisson ${rate} req/s, worker c=${c}`;
  rows.push({ case: '3a', subject: paced, metric: 'p50 ms', value: median(p50s), rounds: p50s });
  rows.push({ case: '3a', subject: paced, metric: 'p99 ms', value: median(p99s), rounds: p99s, target: '< 50 ms', met: median(p99s) < 50 });
  rows.push({ case: '3a', subject: `request sent → provider, Poisson ${rate} req/s`, metric: 'p99 ms', value: median(sendP99s), rounds: sendP99s });
  const bursty = `burst of ${opt.connections} × ${opt.bursts}, worker c=${c}`;
  const rawLabel = `raw BullMQ worker c=${c}, ${opt.connections} jobs at once`;
  addRatioRow(
    { case: '3b', subject: bursty, metric: 'drain ms', rounds: burst.drain, reference: rawLabel, referenceRounds: burst.rawDrain, target: '≤ 1.2 × raw' },
    1.2,
    false,
  );
  rows.push({
    case: '3b',
    subject: bursty,
    metric: 'intake ms (first sent → last 202)',
    value: median(burst.intake),
    reference: `${rawLabel} (addBulk)`,
    referenceValue: median(burst.rawIntake),
    rounds: burst.intake,
    referenceRounds: burst.rawIntake,
  });
  rows.push({
    case: '3b',
    subject: bursty,
    metric: '202 → provider p50 ms',
    value: median(burst.p50),
    reference: `${rawLabel} (add → provider)`,
    referenceValue: median(burst.rawP50),
    rounds: burst.p50,
    referenceRounds: burst.rawP50,
  });
  rows.push({
    case: '3b',
    subject: bursty,
    metric: '202 → provider p99 ms',
    value: median(burst.p99),
    reference: `${rawLabel} (add → provider)`,
    referenceValue: median(burst.rawP99),
    rounds: burst.p99,
    referenceRounds: burst.rawP99,
  });
}

// ------------------------------------------------------------------ report ---

function fmt(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '';
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function table(): string {
  const header = ['case', 'subject', 'metric', 'value', 'reference', 'ref value', 'ratio', 'target', 'met'];
  const body = rows.map((r) => [
    r.case,
    r.subject,
    r.metric,
    fmt(r.value),
    r.reference ?? '',
    fmt(r.referenceValue),
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`,
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

// -------------------------------------------------------------------- main ---

async function main(): Promise<void> {
  const started = Date.now();
  log(
    `machine: ${CORES} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}; process logs in ${LOG_DIR} (removed after a successful run)`,
  );
  log(`options: ${JSON.stringify({ ...opt, cases: [...opt.cases] })}`);
  const redis = await startRedis();
  const fakes = await FakeProviders.start(opt.latencyMs);
  const admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  const stack: Stack = { redis, fakes, serviceEnv: await serviceEnv(redis.url, fakes), workers: [], admin };
  const pool = new CryptoPool(CORES);
  let failed: unknown;
  try {
    await startApi(stack);
    const queue = dispatchQueue(admin, PREFIX);
    // Devices for the api's runs are created with their first job parked
    // elsewhere: only the runs' own resends reach the service's queue.
    const parked = dispatchQueue(admin, PREFIX, true);
    const p521 = await registerClients(stack.apiUrl!, ADMIN_TOKEN, 'p521', 4);
    const p256 = await registerClients(stack.apiUrl!, ADMIN_TOKEN, 'p256', 4);
    const apiRps = { value: NaN };
    const workerRps = new Map<number, number>();

    const peers = opt.cases.has('1a') || opt.cases.has('1b') ? await startPeers(stack, [...p521, ...p256]) : undefined;
    try {
      if (opt.cases.has('1a')) {
        const devices = await seedDevices(admin, PREFIX, TOKEN_HASH_SECRET, p521, 6000, parked);
        await seedTypicalStore(admin, TYPICAL_KEY_PREFIX, p521, devices);
        await case1a(stack, pool, p521, devices, queue, peers!);
      }
      if (opt.cases.has('1b') || opt.cases.has('3')) {
        const devices = await seedDevices(admin, PREFIX, TOKEN_HASH_SECRET, p256, 15000, parked);
        if (opt.cases.has('1b')) {
          await seedTypicalStore(admin, TYPICAL_KEY_PREFIX, p256, devices);
          await case1b(stack, pool, devices, queue, peers!, apiRps);
        } else {
          // Case 3 alone: a short closed-loop run gives the api's maximum.
          const signed = await pool.sign(resendRequests(devices, 3000, { at: 0 }));
          apiRps.value = (await closedLoop(stack.apiUrl!, signed, opt.connections)).rps;
          await clearQueue(queue, stack.admin);
        }
      }
    } finally {
      await peers?.stop();
    }
    if (opt.cases.has('2')) await case2(stack, p256, queue, workerRps);
    if (opt.cases.has('3')) {
      // The worker's maximum at case 3's concurrency: measured in case 2 when it was, else what its concurrency allows.
      const workerMax = workerRps.get(opt.case3Concurrency) ?? opt.case3Concurrency * (1000 / opt.latencyMs);
      await case3(stack, pool, p256, queue, parked, apiRps.value, workerMax);
    }
    await clearQueue(parked);
    await Promise.all([queue.close(), parked.close()]);
  } catch (err) {
    failed = err;
  } finally {
    await stack.api?.stop();
    const apiPeak = stack.api?.peakRssMb();
    const workerPeak = stack.workers.length ? Math.max(...stack.workers.map((w) => w.peakRssMb())) : undefined;
    if (apiPeak !== undefined)
      rows.push({ case: '4', subject: 'api', metric: 'peak RSS MB', value: apiPeak, rounds: [apiPeak], target: '< 200 MB', met: apiPeak < 200 });
    if (workerPeak !== undefined)
      rows.push({
        case: '4',
        subject: 'worker (max over runs)',
        metric: 'peak RSS MB',
        value: workerPeak,
        rounds: [workerPeak],
        target: '< 200 MB',
        met: workerPeak < 200,
      });
    await Promise.all(stack.workers.map((w) => w.stop()));
    await pool.close();
    admin.disconnect();
    await fakes.stop();
    await redis.stop();
  }

  const out = {
    date: new Date().toISOString(),
    machine: { cores: CORES, cpu: cpus()[0]?.model ?? '', memoryGiB: round1(totalmem() / 2 ** 30), node: process.version },
    options: { ...opt, cases: [...opt.cases] },
    durationS: Math.round((Date.now() - started) / 1000),
    rows,
    notes,
    error: failed ? String(failed instanceof Error ? failed.stack : failed) : undefined,
  };
  mkdirSync(join(flags.out!, '..'), { recursive: true });
  writeFileSync(flags.out!, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`\n${table()}\n\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(`\n${rows.length} rows; median of ${opt.rounds} round(s); ${out.durationS} s; written to ${flags.out}\n`);
  if (failed) {
    process.stderr.write(`bench failed: ${out.error}\nprocess logs kept in ${LOG_DIR}\n`);
    process.exit(1);
  }
  rmSync(LOG_DIR, { recursive: true, force: true });
  process.exit(0);
}

stopOnSignals();

void main();
