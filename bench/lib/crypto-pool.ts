/**
 * A small pool of crypto-worker.js threads: bulk request signing before a
 * run, and the ES512 ceiling loop. Idle (and costing nothing) during a run.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { requestClaims, type RequestSigningAlg } from '@lib/request-signing';

export interface SignedHttpRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** What the request is about, for the cases that follow a request to the provider. */
  deviceKey: string;
}

export interface RequestToSign {
  clientKey: string;
  privateKeyPem: string;
  alg: RequestSigningAlg;
  method: string;
  path: string;
  body: string;
  deviceKey: string;
}

export class CryptoPool {
  private readonly workers: Worker[];
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => {
      const w = new Worker(join(__dirname, 'crypto-worker.js'));
      w.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(msg.error));
        else p.resolve(msg.result);
      });
      return w;
    });
  }

  private call<T>(worker: Worker, msg: object): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...msg, id });
    });
  }

  /** Signs every request with a fresh timestamp (now), split over the threads. */
  async sign(requests: RequestToSign[]): Promise<SignedHttpRequest[]> {
    const now = new Date();
    const items = requests.map((r) => ({
      pem: r.privateKeyPem,
      alg: r.alg,
      // Distinct timestamps keep every signature unique (the api accepts each once).
      claims: requestClaims({ method: r.method, uri: r.path, body: r.body, timestamp: new Date(uniqueMs(`${r.clientKey} ${r.path}`, now.getTime())) }),
    }));
    const per = Math.ceil(items.length / this.workers.length);
    const chunks = await Promise.all(this.workers.map((w, i) => this.call<string[]>(w, { kind: 'sign', items: items.slice(i * per, (i + 1) * per) })));
    const jwts = chunks.flat();
    return requests.map((r, i) => ({
      method: r.method,
      path: r.path,
      body: r.body,
      deviceKey: r.deviceKey,
      headers: { 'content-type': 'application/json', 'api-client-key': r.clientKey, authorization: jwts[i] },
    }));
  }

  /** ES512 verifications per second on one thread, `ms` long, over the given JWTs. */
  verifyLoop(publicKeyPem: string, jwts: string[], ms: number): Promise<number> {
    return this.call<number>(this.workers[0], { kind: 'verify-loop', publicKeyPem, jwts, ms });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

// The api accepts a signature once, and the claims of two requests to the
// same path differ only by their timestamp: each (client, path) gets a
// millisecond of its own, a few ms after now at most when a pool holds several
// requests to it (far inside the accepted clock skew).
const lastMs = new Map<string, number>();
function uniqueMs(key: string, nowMs: number): number {
  const prev = lastMs.get(key);
  const ms = prev === undefined ? nowMs : Math.max(nowMs, prev + 1);
  lastMs.set(key, ms);
  return ms;
}
