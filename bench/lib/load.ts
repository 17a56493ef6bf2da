/**
 * Load generators. Closed loop (autocannon, N connections) for throughput:
 * every request is taken from a pool signed beforehand and sent once, and the
 * run ends when the pool is used up. Open loop (a fixed rate, whatever the
 * answers' timing) for the dispatch latency case.
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
}

/** Sends the pool at `rate` requests/s (open loop), at most `maxInFlight` at once; resolves with one sample per request. */
export async function openLoop(baseUrl: string, pool: SignedHttpRequest[], rate: number, maxInFlight = 256): Promise<OpenLoopSample[]> {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight });
  const samples: OpenLoopSample[] = [];
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < pool.length; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const r = pool[i];
    const sentAt = Date.now();
    pending.push(
      new Promise<void>((resolve) => {
        const req = request(
          { host: url.hostname, port: url.port, method: r.method, path: r.path, headers: { ...r.headers, 'content-length': Buffer.byteLength(r.body) }, agent },
          (res) => {
            res.resume();
            res.on('end', () => {
              samples.push({ deviceKey: r.deviceKey, sentAt, answeredAt: Date.now(), status: res.statusCode ?? 0 });
              resolve();
            });
          },
        );
        req.on('error', () => {
          samples.push({ deviceKey: r.deviceKey, sentAt, answeredAt: Date.now(), status: 0 });
          resolve();
        });
        req.end(r.body);
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  return samples;
}
