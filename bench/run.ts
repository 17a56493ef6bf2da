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
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { Queue } from 'bullmq';
import { DISPATCH_QUEUES } from '@lib/dispatch-contract';
import { CryptoPool, type RequestToSign, type SignedHttpRequest } from './lib/crypto-pool';
import { closedLoop, openLoop, type ClosedLoopResult } from './lib/load';
import { FakeProviders, LOG_DIR, ROOT, freePort, killAll, sleep, startNode, startRedis, waitForHttp, type Proc, type RedisServer } from './lib/services';
import { dispatchQueue, registerClients, seedDevices, type BenchClient, type BenchDevice } from './lib/seed';
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
      '  --connections N         autocannon connections for case 1 (default 50)',
      '  --worker-concurrency N  WORKER_CONCURRENCY of the worker in case 3 (default 50)',
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
    // Production settings: real secrets, real providers (pointed at the fakes).
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: PREFIX,
    ADMIN_TOKEN,
    TOKEN_HASH_SECRET,
    BOARD_USERNAME: 'bench',
    BOARD_PASSWORD,
    TWILIO_ACCOUNT_SID: FAKE_TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: FAKE_TWILIO_AUTH_TOKEN,
    TWILIO_FROM_NUMBER: '+15005550006',
    TWILIO_API_URL: fakes.twilioUrl,
    SES_FROM_ADDRESS: 'no-reply@tokens.example.com',
    SES_ENDPOINT: fakes.sesUrl,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKE0000',
    AWS_SECRET_ACCESS_KEY: 'fake-aws-secret-key-0123456789abcdefghij',
    // Every request must do the whole job: a 1 s coalescing window (each
    // device is asked again only seconds later) and caps far above what a run
    // sends. The Lua script still checks and records both, as always.
    RESEND_COALESCE_SECONDS: '1',
    SEND_LIMIT_PER_DEVICE: '1000000',
    SEND_LIMIT_PER_DESTINATION: '1000000',
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

const RESEND_BODY = JSON.stringify({ contact_type: 'sms' });

/** `count` resend requests spread round-robin over the devices, so each device is asked again only after all the others. */
function resendRequests(devices: BenchDevice[], count: number, cursor: { at: number }): RequestToSign[] {
  const out: RequestToSign[] = [];
  for (let i = 0; i < count; i++) {
    const d = devices[cursor.at++ % devices.length];
    out.push({
      clientKey: d.client.clientKey,
      privateKeyPem: d.client.privateKeyPem,
      alg: d.client.alg,
      method: 'PATCH',
      path: `/account/${d.accountKey}/device/${d.deviceKey}/resend_token`,
      body: RESEND_BODY,
      deviceKey: d.deviceKey,
    });
  }
  return out;
}

async function clearQueue(queue: Queue): Promise<void> {
  await queue.obliterate({ force: true }).catch(async () => {
    // obliterate refuses while a worker holds a job; wait and retry once
    await sleep(1000);
    await queue.obliterate({ force: true });
  });
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

function addRatioRow(r: Omit<Row, 'value' | 'referenceValue' | 'ratio' | 'met'>, targetRatio: number, higherIsBetter = true): Row {
  const value = median(r.rounds);
  const referenceValue = median(r.referenceRounds ?? []);
  const ratio = value / referenceValue;
  const row: Row = { ...r, value, referenceValue, ratio, met: higherIsBetter ? ratio >= targetRatio : ratio <= targetRatio };
  rows.push(row);
  return row;
}

async function runApiRound(stack: Stack, pool: CryptoPool, devices: BenchDevice[], cursor: { at: number }, count: number, queue: Queue) {
  const signed = await pool.sign(resendRequests(devices, count, cursor));
  const cpu0 = { api: stack.api!.cpuMs(), redis: stack.redis.proc.cpuMs(), bench: process.cpuUsage() };
  const result = await closedLoop(stack.apiUrl!, signed, opt.connections);
  const benchCpu = process.cpuUsage(cpu0.bench);
  // Where the machine's CPU went, per request: the api (all its threads), redis-server, and this process (autocannon).
  const cpuUs = {
    api: ((stack.api!.cpuMs() - cpu0.api) * 1000) / result.requests,
    redis: ((stack.redis.proc.cpuMs() - cpu0.redis) * 1000) / result.requests,
    loadgen: (benchCpu.user + benchCpu.system) / result.requests,
  };
  // Coalesced requests re-add an existing job id (a no-op), so the jobs in
  // the queue count the requests that went through the whole send path.
  const queued = await queue.getJobCountByTypes('waiting', 'prioritized', 'delayed');
  await clearQueue(queue);
  if (result.non2xx || result.errors) notes.push(`api run of ${count}: ${result.non2xx} non-2xx (${describeFailures(result)}), ${result.errors} errors`);
  return { result, signed, queued, cpuUs };
}

const cpuText = (c: { api: number; redis: number; loadgen: number }) =>
  `CPU µs/request: api ${c.api.toFixed(0)}, redis ${c.redis.toFixed(0)}, autocannon ${c.loadgen.toFixed(0)}`;

/** Case 1a: ES512 through the api vs the ES512 verification ceiling (one thread's loop × cores). */
async function case1a(stack: Stack, pool: CryptoPool, clients: BenchClient[], devices: BenchDevice[], queue: Queue) {
  log(`case 1a: ES512 resend vs ES512 verify ceiling × ${CORES} cores`);
  const cursor = { at: 0 };
  // Warm-up (JIT, connections, key cache); also sets the first pool size.
  let estimate = (await runApiRound(stack, pool, devices, cursor, 600, queue)).result.rps;
  const api: ClosedLoopResult[] = [];
  const ceiling: number[] = [];
  const queuedShare: number[] = [];
  const cpu: { api: number; redis: number; loadgen: number }[] = [];
  const sample = await pool.sign(resendRequests(devices, 64, { at: 0 }));
  const client = clients[0];
  const sampleJwts = sample.filter((s) => s.headers['api-client-key'] === client.clientKey).map((s) => s.headers.authorization);
  for (let r = 0; r < opt.rounds; r++) {
    const perThread = await pool.verifyLoop(client.publicKeyPem, sampleJwts, 2000);
    ceiling.push(perThread * CORES);
    const count = Math.max(500, Math.round(estimate * opt.seconds));
    const { result, queued, cpuUs } = await runApiRound(stack, pool, devices, cursor, count, queue);
    api.push(result);
    cpu.push(cpuUs);
    queuedShare.push(queued / Math.max(1, result.ok));
    estimate = result.rps;
    log(
      `  round ${r + 1}: api ${result.rps.toFixed(0)} req/s (p50 ${result.p50} ms, p99 ${result.p99} ms), ceiling ${(perThread * CORES).toFixed(0)} verify/s; ${cpuText(cpuUs)}`,
    );
  }
  addRatioRow(
    {
      case: '1a',
      subject: 'api resend, ES512',
      metric: 'req/s',
      rounds: api.map((a) => a.rps),
      reference: `ES512 verify loop × ${CORES} cores`,
      referenceRounds: ceiling,
      target: '≥ 0.8 × ceiling',
    },
    0.8,
  );
  rows.push({ case: '1a', subject: 'api resend, ES512', metric: 'p50 ms', value: median(api.map((a) => a.p50)), rounds: api.map((a) => a.p50) });
  rows.push({ case: '1a', subject: 'api resend, ES512', metric: 'p99 ms', value: median(api.map((a) => a.p99)), rounds: api.map((a) => a.p99) });
  notes.push(`1a: ${(median(queuedShare) * 100).toFixed(1)}% of the 202s queued a new job (the rest were coalesced)`);
  notes.push(
    `1a: median ${cpuText({ api: median(cpu.map((c) => c.api)), redis: median(cpu.map((c) => c.redis)), loadgen: median(cpu.map((c) => c.loadgen)) })}`,
  );
}

/**
 * Case 1b: ES256 through the api vs a minimal Fastify + queue.add (the floor),
 * vs a minimal NestJS-on-Express route answering 202 (as the issue words it),
 * and vs the same Nest/Express route calling queue.add too (like for like).
 */
async function case1b(stack: Stack, pool: CryptoPool, devices: BenchDevice[], queue: Queue, bestApiRps: { value: number }) {
  log('case 1b: ES256 resend vs Fastify+queue.add floor vs NestJS-on-Express (bare 202, and with queue.add)');
  const floor = await startReference('fastify-floor', 'fastify-queue.ts', { REDIS_URL: stack.redis.url, QUEUE_PREFIX: 'bench-floor:bull' });
  const express = await startReference('nest-express', 'nest-express.ts', {});
  const expressQ = await startReference('nest-express-queue', 'nest-express.ts', {
    REDIS_URL: stack.redis.url,
    QUEUE_PREFIX: 'bench-express:bull',
    QUEUE_ADD: '1',
  });
  const refQueues = ['bench-floor:bull', 'bench-express:bull'].map((prefix) => {
    const q = new Queue(DISPATCH_QUEUES.sms, { connection: stack.admin, prefix });
    q.on('error', () => undefined);
    return q;
  });
  const targets = ['api', 'floor', 'express', 'expressQ'] as const;
  type Target = (typeof targets)[number];
  const urls: Record<Exclude<Target, 'api'>, string> = { floor: floor.url, express: express.url, expressQ: expressQ.url };
  const cursor = { at: 0 };
  const results: Record<Target, ClosedLoopResult[]> = { api: [], floor: [], express: [], expressQ: [] };
  const estimate: Record<Target, number> = { api: 0, floor: 0, express: 0, expressQ: 0 };
  const queuedShare: number[] = [];
  const cpu: { api: number; redis: number; loadgen: number }[] = [];
  try {
    // Warm-up and first estimates.
    const warm = await runApiRound(stack, pool, devices, cursor, 1500, queue);
    estimate.api = warm.result.rps;
    for (const t of ['floor', 'express', 'expressQ'] as const) estimate[t] = (await closedLoop(urls[t], warm.signed, opt.connections)).rps;
    for (const q of refQueues) await clearQueue(q);
    for (let r = 0; r < opt.rounds; r++) {
      // The order rotates each round, so no one always runs on a warmer or cooler machine.
      const order = [...targets.slice(r % targets.length), ...targets.slice(0, r % targets.length)];
      let signed: SignedHttpRequest[] = [];
      for (const t of order) {
        const count = Math.max(1000, Math.round(estimate[t] * opt.seconds));
        let result: ClosedLoopResult;
        if (t === 'api') {
          const run = await runApiRound(stack, pool, devices, cursor, count, queue);
          result = run.result;
          queuedShare.push(run.queued / Math.max(1, result.ok));
          cpu.push(run.cpuUs);
        } else {
          // The references check no signature: the same kind of signed
          // requests (same bytes on the wire) are reused.
          if (signed.length < count) signed = await pool.sign(resendRequests(devices, count, { at: 0 }));
          result = await closedLoop(urls[t], signed.slice(0, count), opt.connections);
          for (const q of refQueues) await clearQueue(q);
          if (result.non2xx || result.errors) notes.push(`${t} run: ${result.non2xx} non-2xx (${describeFailures(result)}), ${result.errors} errors`);
        }
        results[t].push(result);
        estimate[t] = result.rps;
      }
      log(`  round ${r + 1}: ` + targets.map((t) => `${t} ${results[t][r].rps.toFixed(0)} req/s p99 ${results[t][r].p99} ms`).join(' | '));
    }
  } finally {
    await Promise.all([floor.proc.stop(), express.proc.stop(), expressQ.proc.stop()]);
    await Promise.all(refQueues.map((q) => q.close()));
  }
  const rps = (t: Target) => results[t].map((x) => x.rps);
  const p50 = (t: Target) => results[t].map((x) => x.p50);
  const p99 = (t: Target) => results[t].map((x) => x.p99);
  const api = 'api resend, ES256';
  addRatioRow(
    { case: '1b', subject: api, metric: 'req/s', rounds: rps('api'), reference: 'Fastify + queue.add', referenceRounds: rps('floor'), target: '≥ 0.8 × floor' },
    0.8,
  );
  addRatioRow(
    {
      case: '1b',
      subject: api,
      metric: 'req/s',
      rounds: rps('api'),
      reference: 'NestJS-on-Express 202',
      referenceRounds: rps('express'),
      target: '≥ 2 × Nest/Express',
    },
    2,
  );
  addRatioRow(
    {
      case: '1b',
      subject: api,
      metric: 'req/s',
      rounds: rps('api'),
      reference: 'NestJS-on-Express + queue.add',
      referenceRounds: rps('expressQ'),
      target: '(≥ 2 ×, like for like)',
    },
    2,
  );
  addRatioRow(
    {
      case: '1b',
      subject: api,
      metric: 'p99 ms',
      rounds: p99('api'),
      reference: 'Fastify + queue.add',
      referenceRounds: p99('floor'),
      target: '≤ 1.5 × floor p99',
    },
    1.5,
    false,
  );
  rows.push({
    case: '1b',
    subject: api,
    metric: 'p50 ms',
    value: median(p50('api')),
    reference: 'Fastify + queue.add',
    referenceValue: median(p50('floor')),
    rounds: p50('api'),
    referenceRounds: p50('floor'),
  });
  rows.push({
    case: '1b',
    subject: 'NestJS-on-Express 202',
    metric: 'p50 / p99 ms',
    value: median(p50('express')),
    referenceValue: median(p99('express')),
    rounds: p50('express'),
  });
  rows.push({
    case: '1b',
    subject: 'NestJS-on-Express + queue.add',
    metric: 'p50 / p99 ms',
    value: median(p50('expressQ')),
    referenceValue: median(p99('expressQ')),
    rounds: p50('expressQ'),
  });
  notes.push(`1b: ${(median(queuedShare) * 100).toFixed(1)}% of the api's 202s queued a new job (the rest were coalesced)`);
  notes.push(
    `1b: median ${cpuText({ api: median(cpu.map((c) => c.api)), redis: median(cpu.map((c) => c.redis)), loadgen: median(cpu.map((c) => c.loadgen)) })}`,
  );
  bestApiRps.value = median(rps('api'));
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
          const runOurs = async () => {
            await stack.fakes.collect();
            const cpu0 = [worker.cpuMs(), stack.redis.proc.cpuMs(), stack.fakes.proc.cpuMs()];
            await queue.resume();
            const arrivals = await collectArrivals(stack.fakes, count);
            await waitDrained(queue);
            const cpu = [worker.cpuMs() - cpu0[0], stack.redis.proc.cpuMs() - cpu0[1], stack.fakes.proc.cpuMs() - cpu0[2]].map((ms) => (ms * 1000) / count);
            return { arrivals, cpu };
          };
          // Raw: the same number of jobs, each one provider call.
          const runRaw = async () => {
            await rawQueue.pause();
            for (let i = 0; i < count; i += 1000) {
              await rawQueue.addBulk(
                devices.slice(i, i + 1000).map((d) => ({ name: 'send', data: { to: d.approver.phone_number }, opts: { removeOnComplete: true } })),
              );
            }
            await stack.fakes.collect();
            const cpu0 = [raw.proc.cpuMs(), stack.redis.proc.cpuMs(), stack.fakes.proc.cpuMs()];
            await rawQueue.resume();
            const arrivals = await collectArrivals(stack.fakes, count);
            await waitDrained(rawQueue);
            const cpu = [raw.proc.cpuMs() - cpu0[0], stack.redis.proc.cpuMs() - cpu0[1], stack.fakes.proc.cpuMs() - cpu0[2]].map((ms) => (ms * 1000) / count);
            return { arrivals, cpu };
          };
          // Which one goes first alternates between rounds.
          let a: { arrivals: { t: number }[]; cpu: number[] };
          let b: { arrivals: { t: number }[]; cpu: number[] };
          if (r % 2 === 0) {
            a = await runOurs();
            b = await runRaw();
          } else {
            b = await runRaw();
            a = await runOurs();
          }
          const cpuA = a.cpu;
          const cpuB = b.cpu;
          await clearQueue(queue);
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
          target: '≥ 0.9 × raw',
        },
        0.9,
      );
    }
  } finally {
    await rawQueue.close();
  }
}

/** Case 3: from the 202 to the provider receiving the request, at half the measured maximum throughput. */
async function case3(stack: Stack, pool: CryptoPool, clients: BenchClient[], queue: Queue, parked: Queue, apiRps: number, workerRps: number) {
  const max = Math.min(apiRps, workerRps);
  const rate = Math.max(10, Math.round(max / 2));
  const seconds = Math.max(5, opt.seconds * 2);
  log(`case 3: dispatch latency at ${rate} req/s (half of min(api ${apiRps.toFixed(0)}, worker ${workerRps.toFixed(0)})) for ${seconds} s`);
  const worker = await startWorker(stack, opt.case3Concurrency);
  const p50s: number[] = [];
  const p99s: number[] = [];
  const sendP99s: number[] = [];
  try {
    for (let r = 0; r < opt.rounds + 1; r++) {
      const warm = r === 0;
      const count = warm ? Math.min(rate, 300) : rate * seconds;
      // Fresh devices: one resend each, so each provider request maps to one 202.
      const devices = await seedDevices(stack.admin, PREFIX, TOKEN_HASH_SECRET, clients, count, parked);
      const byPhone = new Map(devices.map((d) => [d.approver.phone_number, d.deviceKey]));
      const signed = await pool.sign(resendRequests(devices, count, { at: 0 }));
      await stack.fakes.collect();
      const samples = await openLoop(stack.apiUrl!, signed, rate);
      const okSamples = samples.filter((s) => s.status === 202);
      const arrivals = await collectArrivals(stack.fakes, okSamples.length);
      await waitDrained(queue);
      await clearQueue(queue);
      if (warm) continue;
      const arrivalByDevice = new Map(arrivals.map((a) => [byPhone.get(a.to), a.t]));
      const latencies = okSamples.map((s) => (arrivalByDevice.get(s.deviceKey) ?? NaN) - s.answeredAt).filter(Number.isFinite);
      const sendLatencies = okSamples.map((s) => (arrivalByDevice.get(s.deviceKey) ?? NaN) - s.sentAt).filter(Number.isFinite);
      if (okSamples.length !== samples.length) notes.push(`3: ${samples.length - okSamples.length} of ${samples.length} requests not 202`);
      p50s.push(percentile(latencies, 50));
      p99s.push(percentile(latencies, 99));
      sendP99s.push(percentile(sendLatencies, 99));
      log(
        `  round ${r}: 202 → provider p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms (request → provider p99 ${percentile(sendLatencies, 99)} ms)`,
      );
    }
  } finally {
    await worker.stop();
  }
  rows.push({ case: '3', subject: `202 → provider, ${rate} req/s, worker c=${opt.case3Concurrency}`, metric: 'p50 ms', value: median(p50s), rounds: p50s });
  rows.push({
    case: '3',
    subject: `202 → provider, ${rate} req/s, worker c=${opt.case3Concurrency}`,
    metric: 'p99 ms',
    value: median(p99s),
    rounds: p99s,
    target: '< 100 ms',
    met: median(p99s) < 100,
  });
  rows.push({ case: '3', subject: `request sent → provider, ${rate} req/s`, metric: 'p99 ms', value: median(sendP99s), rounds: sendP99s });
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

    if (opt.cases.has('1a')) {
      const devices = await seedDevices(admin, PREFIX, TOKEN_HASH_SECRET, p521, 6000, parked);
      await case1a(stack, pool, p521, devices, queue);
    }
    if (opt.cases.has('1b') || opt.cases.has('3')) {
      const devices = await seedDevices(admin, PREFIX, TOKEN_HASH_SECRET, p256, 15000, parked);
      if (opt.cases.has('1b')) await case1b(stack, pool, devices, queue, apiRps);
      else {
        // Case 3 alone: a short closed-loop run gives the api's maximum.
        const signed = await pool.sign(resendRequests(devices, 3000, { at: 0 }));
        apiRps.value = (await closedLoop(stack.apiUrl!, signed, opt.connections)).rps;
        await clearQueue(queue);
      }
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

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench interrupted (${signal}): stopping its processes\n`);
    killAll();
    process.exit(130);
  });
}

void main();
