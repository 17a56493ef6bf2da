/**
 * Load generators. Closed loop (autocannon, N connections) for throughput:
 * every request is taken from a pool signed beforehand and sent once, and the
 * run ends when the pool is used up. Open loop (Poisson arrivals at a mean
 * rate, whatever the answers' timing) and bursts (many requests at once) for
 * the dispatch latency case.
 */
import autocannon from 'autocannon';
import { Agent, request } from 'node:http';
import type { SignedHttpRequest } from './crypto-pool';

export interface ClosedLoopResult {
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  durationS: number;
  /** Successful requests per second. */
  rps: number;
  p50: number;
  p99: number;
  statusCodes: Record<string, number>;
}

export async function closedLoop(baseUrl: string, pool: SignedHttpRequest[], connections: number): Promise<ClosedLoopResult> {
  let next = 0;
  const statusCodes: Record<string, number> = {};
  let done!: (r: autocannon.Result) => void;
  let fail!: (e: Error) => void;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  const started = performance.now();
  const instance = autocannon(
    {
      url: baseUrl,
      connections,
      amount: pool.length,
      timeout: 10,
      requests: [
        {
          setupRequest: (req) => {
            const r = pool[next++ % pool.length];
            return { ...req, method: r.method as 'PATCH', path: r.path, headers: r.headers, body: r.body };
          },
        },
      ],
    },
    (err, result) => (err ? fail(err as Error) : done(result)),
  );
  let lastAnswer = started;
  instance.on('response', (_client, statusCode) => {
    statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
    lastAnswer = performance.now();
  });
  const result = await finished;
  // autocannon notices that the pool is used up on its one-second tick, and
  // its own `duration` counts whole seconds: time the run to the last answer.
  const durationS = (lastAnswer - started) / 1000;
  const ok = result['2xx'];
  return {
    requests: result.requests.total,
    ok,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    durationS,
    rps: ok / durationS,
    p50: result.latency.p50,
    p99: result.latency.p99,
    statusCodes,
  };
}

export interface OpenLoopSample {
  deviceKey: string;
  sentAt: number;
  /** Epoch ms when the answer arrived. */
  answeredAt: number;
  status: number;
  /** A refusal's error code from the contract's envelope (`code`), else undefined. */
  errorCode?: string;
}

function envelopeCode(chunks: Buffer[]): string | undefined {
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: unknown };
    return typeof body.code === 'string' ? body.code : undefined;
  } catch {
    return undefined;
  }
}

/** How a run's refused requests were answered, e.g. `503 OBD000097 × 3, 0 (transport error) × 1`. */
export function describeRefusals(samples: readonly OpenLoopSample[]): string {
  const counts = new Map<string, number>();
  for (const s of samples) {
    if (s.status === 202) continue;
    const key = s.status === 0 ? '0 (transport error)' : `${s.status}${s.errorCode ? ` ${s.errorCode}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k} × ${n}`).join(', ');
}

/** Sends one request; resolves with its sample (status 0 for a transport error). */
function sendOne(url: URL, r: SignedHttpRequest, agent: Agent): Promise<OpenLoopSample> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    const req = request(
      { host: url.hostname, port: url.port, method: r.method, path: r.path, headers: { ...r.headers, 'content-length': Buffer.byteLength(r.body) }, agent },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        // A 202's body is not needed; a refusal's names its error code.
        if (status === 202) res.resume();
        else res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ deviceKey: r.deviceKey, sentAt, answeredAt: Date.now(), status, errorCode: status === 202 ? undefined : envelopeCode(chunks) }),
        );
      },
    );
    req.on('error', () => resolve({ deviceKey: r.deviceKey, sentAt, answeredAt: Date.now(), status: 0 }));
    req.end(r.body);
  });
}

export interface OpenLoopOptions {
  /** `poisson`: exponential inter-arrival times of mean 1/rate (independent arrivals); `fixed`: one every 1/rate. */
  arrivals?: 'poisson' | 'fixed';
  maxInFlight?: number;
}

/** Sends the pool at `rate` requests/s on average (open loop), at most `maxInFlight` at once; resolves with one sample per request. */
export async function openLoop(baseUrl: string, pool: SignedHttpRequest[], rate: number, options: OpenLoopOptions = {}): Promise<OpenLoopSample[]> {
  const { arrivals = 'poisson', maxInFlight = 256 } = options;
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight });
  const start = performance.now();
  const pending: Promise<OpenLoopSample>[] = [];
  let due = start;
  for (let i = 0; i < pool.length; i++) {
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(sendOne(url, pool[i], agent));
    due += arrivals === 'poisson' ? (-Math.log(1 - Math.random()) * 1000) / rate : 1000 / rate;
  }
  const samples = await Promise.all(pending);
  agent.destroy();
  return samples;
}

/**
 * A client for bursts: keep-alive connections, as many as a burst holds, so
 * a burst after the first one opens none.
 */
export class BurstClient {
  private readonly url: URL;
  private readonly agent: Agent;

  constructor(baseUrl: string, size: number) {
    this.url = new URL(baseUrl);
    this.agent = new Agent({ keepAlive: true, maxSockets: size, maxFreeSockets: size });
  }

  /** Fires every request of `burst` at once (without waiting for any answer); resolves with their samples. */
  fire(burst: SignedHttpRequest[]): Promise<OpenLoopSample[]> {
    return Promise.all(burst.map((r) => sendOne(this.url, r, this.agent)));
  }

  close(): void {
    this.agent.destroy();
  }
}
