/**
 * Common machinery of the provider fakes: a plain Node `http` server on
 * 127.0.0.1 that records every request, answers through a subclass, and can
 * be scripted to misbehave (error answers, latency, hanging, dropped
 * connections) for the next N requests. Usable in-process from jest or from
 * any script: `await fake.start()`, point the SDK at `fake.url`, `await fake.stop()`.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Raw body text. */
  rawBody: string;
  /** Body parsed by content type: form fields, JSON value, or the raw text. */
  body: unknown;
  /** Credentials of a Basic Authorization header, when present. */
  basicAuth?: { username: string; password: string };
  receivedAt: Date;
}

export interface FakeResponse {
  status: number;
  /** Objects are sent as JSON; strings as they are. */
  body?: unknown;
  headers?: Record<string, string>;
}

export type ScriptedBehaviour = { kind: 'respond'; response: FakeResponse } | { kind: 'hang' } | { kind: 'reset' };

export interface FakeServerOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Latency added before every answer, in ms (default 0). */
  latencyMs?: number;
}

function parseBody(contentType: string | undefined, raw: string): unknown {
  if (raw === '') return undefined;
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    const fields: Record<string, string | string[]> = {};
    for (const [key, value] of new URLSearchParams(raw)) {
      const existing = fields[key];
      fields[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
    }
    return fields;
  }
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

function parseBasicAuth(header: string | undefined): RecordedRequest['basicAuth'] {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export abstract class FakeHttpServer<TMessage> {
  /** Every request received, in arrival order, scripted ones included. */
  readonly requests: RecordedRequest[] = [];
  /** Messages the fake accepted (successful answers only). */
  readonly messages: TMessage[] = [];

  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly events = new EventEmitter();
  private script: ScriptedBehaviour[] = [];
  private latencyMs: number;
  private readonly defaultLatencyMs: number;
  private readonly port: number;

  protected constructor(options: FakeServerOptions = {}) {
    this.port = options.port ?? 0;
    this.defaultLatencyMs = options.latencyMs ?? 0;
    this.latencyMs = this.defaultLatencyMs;
    this.events.setMaxListeners(0);
  }

  /** Base URL, e.g. `http://127.0.0.1:40123`. Only valid once started. */
  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error(`${this.constructor.name} is not started`);
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<this> {
    if (this.server) return this;
    const server = createServer((req, res) => void this.onRequest(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return this;
  }

  /** Closes the server, dropping open connections (hung requests included). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Forgets requests, messages and scripted behaviour; restores the constructor latency. */
  reset(): void {
    this.requests.length = 0;
    this.messages.length = 0;
    this.script = [];
    this.latencyMs = this.defaultLatencyMs;
  }

  /** Latency before every answer from now on, in ms. */
  delay(ms: number): this {
    this.latencyMs = ms;
    return this;
  }

  /** Answers the next `count` requests with `response`, whatever they ask. */
  failNext(count: number, response: FakeResponse): this {
    return this.enqueue(count, { kind: 'respond', response });
  }

  /** Never answers the next `count` requests (the client has to time out). */
  hangNext(count = 1): this {
    return this.enqueue(count, { kind: 'hang' });
  }

  /** Destroys the connection of the next `count` requests without answering. */
  resetNext(count = 1): this {
    return this.enqueue(count, { kind: 'reset' });
  }

  /** Calls `listener` for every accepted message; returns an unsubscribe function. */
  onMessage(listener: (message: TMessage) => void): () => void {
    this.events.on('message', listener);
    return () => this.events.off('message', listener);
  }

  /** Resolves with the messages once at least `count` were accepted; rejects after `timeoutMs`. */
  waitForMessages(count: number, timeoutMs = 5_000): Promise<TMessage[]> {
    if (this.messages.length >= count) return Promise.resolve([...this.messages]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`${this.constructor.name}: ${this.messages.length} of ${count} messages after ${timeoutMs} ms`));
      }, timeoutMs);
      const unsubscribe = this.onMessage(() => {
        if (this.messages.length < count) return;
        clearTimeout(timer);
        unsubscribe();
        resolve([...this.messages]);
      });
    });
  }

  /** Answers one request that no scripted behaviour took over. */
  protected abstract handle(request: RecordedRequest): FakeResponse;

  /** For subclasses: records an accepted message and notifies waiters. */
  protected deliver(message: TMessage): void {
    this.messages.push(message);
    this.events.emit('message', message);
  }

  protected enqueue(count: number, behaviour: ScriptedBehaviour): this {
    for (let i = 0; i < count; i++) this.script.push(behaviour);
    return this;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return; // the client went away
    }
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      rawBody,
      body: parseBody(req.headers['content-type'], rawBody),
      basicAuth: parseBasicAuth(req.headers.authorization),
      receivedAt: new Date(),
    };
    this.requests.push(recorded);
    const scripted = this.script.shift();

    if (this.latencyMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          resolve();
        }, this.latencyMs);
        this.timers.add(timer);
      });
      if (!this.server) return; // stopped meanwhile
    }

    if (scripted?.kind === 'hang') return; // keep the socket open until the client gives up or stop()
    if (scripted?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    let response: FakeResponse;
    try {
      response = scripted?.kind === 'respond' ? scripted.response : this.handle(recorded);
    } catch (err) {
      response = { status: 500, body: { message: `fake failed: ${(err as Error).message}` } };
    }
    this.send(res, response);
  }

  private send(res: ServerResponse, response: FakeResponse): void {
    const headers: Record<string, string> = { ...(response.headers ?? {}) };
    let payload = '';
    if (response.body !== undefined) {
      const isText = typeof response.body === 'string';
      payload = isText ? (response.body as string) : JSON.stringify(response.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['Content-Type'] = isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
      }
    }
    headers['Content-Length'] = String(Buffer.byteLength(payload));
    res.writeHead(response.status, headers);
    res.end(payload);
  }
}
