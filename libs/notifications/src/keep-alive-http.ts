/**
 * A small HTTP(S) client over node:http with keep-alive agents, for the
 * provider SDKs' pluggable transports. The Twilio SDK's own RequestClient goes
 * through axios, whose per-request work (config merging, interceptors, header
 * normalisation) cost the worker more CPU and garbage than the rest of a send
 * put together (measured with `npm run bench`). Failures keep Node's own error codes
 * (ECONNRESET, ECONNREFUSED…) so they classify as before; running out of time
 * is an ETIMEDOUT `TimeoutError`.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions } from 'node:https';
import { readFileSync } from 'node:fs';

export interface HttpCall {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export interface HttpAnswer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Keep-alive agents, one per scheme, reusing the warmest socket first. */
export class KeepAliveAgents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;

  constructor(options: { caBundlePath?: string } = {}) {
    // No socket cap: the worker's concurrency bounds the requests in flight,
    // and a cap below it would queue sends behind each other.
    const common: AgentOptions = { keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' };
    this.http = new HttpAgent(common);
    this.https = new HttpsAgent({ ...common, ca: options.caBundlePath ? readFileSync(options.caBundlePath) : undefined });
  }

  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

function timeoutError(ms: number): Error {
  const err = new Error(`no answer within ${ms} ms`) as Error & { code: string };
  err.name = 'TimeoutError';
  err.code = 'ETIMEDOUT';
  return err;
}

/** Sends one request and reads the whole answer, within `timeoutMs` from the start. */
export function sendHttp(call: HttpCall, agents: KeepAliveAgents): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const secure = call.url.protocol === 'https:';
    const headers: Record<string, string | number> = { ...call.headers };
    if (call.body !== undefined) headers['Content-Length'] = Buffer.byteLength(call.body);
    const req = (secure ? httpsRequest : httpRequest)(
      call.url,
      { method: call.method.toUpperCase(), headers, agent: secure ? agents.https : agents.http },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        // Cut off mid-answer (our deadline, or the peer): never a half body.
        res.on('close', () => {
          clearTimeout(timer);
          if (!res.complete) reject(timedOut ? timeoutError(call.timeoutMs) : Object.assign(new Error('the answer was cut off'), { code: 'ECONNRESET' }));
        });
      },
    );
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy(timeoutError(call.timeoutMs));
    }, call.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(call.body);
  });
}
