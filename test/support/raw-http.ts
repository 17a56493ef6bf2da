/**
 * HTTP with nothing normalised, for the security suite: any method, the path
 * exactly as given (percent sequences, valid or not), headers as raw
 * name/value pairs (repeated names, odd casing), and the body as raw bytes.
 * `fetch` would validate or rewrite most of that. Every request has a
 * deadline: a server that never answers fails the test instead of hanging it.
 */
import { Agent, request } from 'node:http';

export interface RawRequest {
  method: string;
  path: string;
  /** Sent in this order; a name may repeat. */
  headers?: [string, string][];
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  ms: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

export function rawRequest(baseUrl: string, req: RawRequest, timeoutMs = 5_000): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  // Raw headers replace Node's defaults, Host included (which HTTP/1.1 requires).
  const flat: string[] = ['host', `${hostname}:${port}`];
  for (const [name, value] of req.headers ?? []) flat.push(name, value);
  if (req.body !== undefined) flat.push('content-length', String(req.body.length));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const r = request({ host: hostname, port: Number(port), method: req.method, path: req.path, headers: flat, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }),
      );
      res.on('error', reject);
    });
    r.setTimeout(timeoutMs, () => r.destroy(new Error(`no answer within ${timeoutMs} ms to ${req.method} ${req.path.slice(0, 120)}`)));
    r.on('error', reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

export function closeRawAgent(): void {
  agent.destroy();
}
