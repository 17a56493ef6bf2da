/**
 * The api's limits against clients that send too much or too slowly, on raw
 * TCP sockets (no HTTP client smoothing anything over):
 *
 * - bodies over BODY_LIMIT_BYTES are refused (413 DTS000008) whether they
 *   declare their length or stream it chunked, and a body that never comes
 *   does not hold the socket;
 * - oversized headers, an oversized request line and thousands of headers
 *   are refused (431 or 400) without hurting the process;
 * - slow clients cannot hold the server: a socket that trickles its headers
 *   or its body, or opens and says nothing, is closed by the server within
 *   REQUEST_TIMEOUT_MS (plus the once-a-second check), and while fifty of
 *   them trickle, a real client is served at once.
 *
 * Figures: how long each kind of slow socket was held, answers to the
 * oversized requests, latency of a real request during the slow attack.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { expectError, pendingDevice, type PendingDevice } from '../support/e2e-checks';
import { Figures } from '../support/figures';
import { closeRawAgent, rawRequest } from '../support/raw-http';
import { Stack } from '../support/stack';

const BODY_LIMIT = 2048;
const REQUEST_TIMEOUT_MS = 1_000;
/** The deadline plus Node's once-a-second connection check, plus scheduling slack on a busy machine. */
const CLOSED_WITHIN_MS = REQUEST_TIMEOUT_MS + 1_000 + 1_500;
const SLOW_SOCKETS = 50;

interface Held {
  /** ms from connect to the server closing the socket. */
  heldMs: number;
  /** What the server wrote before closing (a status line, or nothing). */
  answer: string;
  /** Bytes the client managed to send. */
  sent: number;
}

describe('HTTP limits: sizes and slow clients', () => {
  const figures = new Figures('security', __filename);
  let stack: Stack;
  let host: string;
  let port: number;
  let d: PendingDevice;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'limits-http', env: { BODY_LIMIT_BYTES: String(BODY_LIMIT), REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) } });
    const u = new URL(stack.apiUrl);
    host = u.hostname;
    port = Number(u.port);
    d = await pendingDevice(stack, 'sms');
  });

  afterAll(async () => {
    figures.write();
    closeRawAgent();
    await stack?.stop();
  });

  /** The api still serves a signed read, quickly. */
  async function stillServes(): Promise<number> {
    const started = performance.now();
    const q = await d.client.query(d.accountKey, d.deviceKey);
    expect(q.status).toBe(200);
    expect(stack.api.running).toBe(true);
    return performance.now() - started;
  }

  /**
   * Opens a socket, writes `head`, then `drip` one chunk every `everyMs`
   * until the server closes the connection (or `giveUpMs` passes: a failure).
   */
  function hold(head: string, drip: () => string, everyMs: number, giveUpMs = 15_000): Promise<Held> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const socket: Socket = connect({ host, port });
      let answer = '';
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      const giveUp = setTimeout(() => {
        clearInterval(timer);
        socket.destroy();
        reject(new Error(`the server still held the socket after ${giveUpMs} ms (sent ${sent} bytes)`));
      }, giveUpMs);
      socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
      socket.on('error', () => undefined); // a reset is one way of closing
      socket.on('close', () => {
        clearInterval(timer);
        clearTimeout(giveUp);
        resolve({ heldMs: performance.now() - started, answer, sent });
      });
      socket.on('connect', () => {
        if (head) {
          socket.write(head);
          sent += head.length;
        }
        if (everyMs > 0) {
          timer = setInterval(() => {
            if (socket.destroyed || !socket.writable) return;
            const chunk = drip();
            socket.write(chunk);
            sent += chunk.length;
          }, everyMs);
        }
      });
    });
  }

  /** Writes a whole request on a fresh socket and reads until the server closes or answers fully. */
  function once(request: Buffer | string, timeoutMs = 10_000): Promise<{ status: number; text: string; closed: boolean }> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      let text = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = (closed: boolean) => {
        clearTimeout(timer);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
        resolve({ status, text, closed });
      };
      socket.on('data', (c) => {
        text += c.toString('utf8');
        // A complete answer with a Content-Length: stop reading.
        const m = /content-length: (\d+)\r\n/i.exec(text);
        const bodyAt = text.indexOf('\r\n\r\n');
        if (m && bodyAt >= 0 && Buffer.byteLength(text.slice(bodyAt + 4)) >= Number(m[1])) {
          socket.destroy();
          finish(false);
        }
      });
      socket.on('error', () => undefined);
      socket.on('close', () => finish(true));
      socket.on('connect', () => socket.write(request));
    });
  }

  const envelopeOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));

  describe('sizes', () => {
    it(`a body over ${BODY_LIMIT} bytes → 413 DTS000008, declared or chunked; exactly the limit is read`, async () => {
      const path = `/account/${d.accountKey}/device/${d.deviceKey}/validate`;
      const over = Buffer.from(JSON.stringify({ token: '000000', pad: 'x'.repeat(BODY_LIMIT) }));
      const declared = await rawRequest(stack.apiUrl, { method: 'PUT', path, headers: [['content-type', 'application/json']], body: over });
      expect([declared.status, JSON.parse(declared.text).code]).toEqual([413, 'DTS000008']);

      // Chunked: no length announced, the limit applies as the bytes arrive.
      const chunks = [over.subarray(0, 1000), over.subarray(1000, 2000), over.subarray(2000)];
      const chunked = await once(
        `PUT ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nAPI-CLIENT-KEY: ${d.client.clientKey}\r\n\r\n` +
          chunks.map((c) => `${c.length.toString(16)}\r\n${c.toString('latin1')}\r\n`).join('') +
          '0\r\n\r\n',
      );
      expect(chunked.status).toBe(413);
      expect(envelopeOf(chunked.text).code).toBe('DTS000008');

      // Exactly the limit is read (and then refused for what it is: a wrong code, unsigned here).
      const exact = Buffer.from(JSON.stringify({ token: '000000', pad: 'y'.repeat(BODY_LIMIT - 30) }));
      const padded = Buffer.concat([exact, Buffer.from(' '.repeat(BODY_LIMIT - exact.length))]);
      expect(padded.length).toBe(BODY_LIMIT);
      const atLimit = await rawRequest(stack.apiUrl, { method: 'PUT', path, headers: [['content-type', 'application/json']], body: padded });
      expect([atLimit.status, JSON.parse(atLimit.text).code]).toEqual([400, 'GDF000003']);
      figures.set('body_limit', { limit: BODY_LIMIT, declared_over: declared.status, chunked_over: chunked.status, exactly_limit: atLimit.status });
      await stillServes();
    });

    it('a declared body that never comes does not hold the socket', async () => {
      const path = `/account/${d.accountKey}/device/${d.deviceKey}/validate`;
      const held = await hold(`PUT ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"tok`, () => '', 0);
      expect(held.heldMs).toBeLessThan(CLOSED_WITHIN_MS);
      figures.set('missing_body_held_ms', Math.round(held.heldMs));
      await stillServes();
    });

    it('oversized headers, request line or header count → 431 or 400, and the api carries on', async () => {
      const path = `/account/${d.accountKey}/device/${d.deviceKey}`;
      const results: Record<string, number> = {};
      const bigHeader = await once(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      results.one_20kb_header = bigHeader.status;
      const manySmall = await once(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${Array.from({ length: 600 }, (_, i) => `X-H${i}: ${'v'.repeat(40)}\r\n`).join('')}\r\n`,
      );
      results.headers_600x40b = manySmall.status;
      const longLine = await once(`GET ${path}?${'q'.repeat(20_000)} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      results.request_line_20kb = longLine.status;
      const countOnly = await once(`GET /nowhere HTTP/1.1\r\nHost: ${host}\r\n${Array.from({ length: 3000 }, (_, i) => `a${i}:1\r\n`).join('')}\r\n`);
      results.headers_3000_tiny = countOnly.status;
      for (const [name, status] of Object.entries(results))
        expect({ name, refused: status === 431 || status === 400 || status === 404 }).toEqual({ name, refused: true });
      // The first three exceed the 16 KB header limit: refused outright.
      expect([results.one_20kb_header, results.headers_600x40b, results.request_line_20kb].every((s) => s === 431 || s === 400)).toBe(true);
      figures.set('oversized_header_answers', results);
      const ms = await stillServes();
      expect(ms).toBeLessThan(1_000);
    });

    it('garbage that is not HTTP → 400, connection closed, api unharmed', async () => {
      const garbage = await once(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]));
      const badLine = await once('GET / HTTP/9.9\r\nHost: x\r\n\r\n');
      const smuggle = await once(
        `POST /account/${d.accountKey}/device HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      );
      expect(garbage.status === 400 || (garbage.status === 0 && garbage.closed)).toBe(true);
      expect([badLine.status === 400 || badLine.status === 505 || (badLine.status === 0 && badLine.closed)]).toEqual([true]);
      expect(smuggle.status).toBe(400);
      figures.set('not_http_answers', { tls_hello: garbage.status, http_9_9: badLine.status, content_length_and_chunked: smuggle.status });
      await stillServes();
    });
  });

  describe('slow clients', () => {
    const validatePath = () => `/account/${d.accountKey}/device/${d.deviceKey}/validate`;

    it(`a socket that trickles its headers is closed within about REQUEST_TIMEOUT_MS (${REQUEST_TIMEOUT_MS} ms)`, async () => {
      let i = 0;
      const held = await hold(`GET /account/${d.accountKey}/device/${d.deviceKey} HTTP/1.1\r\nHost: ${host}\r\n`, () => `X-${i++}: a\r\n`, 100);
      expect(held.heldMs).toBeLessThan(CLOSED_WITHIN_MS);
      expect(held.answer === '' || /^HTTP\/1\.1 (408|400)/.test(held.answer)).toBe(true);
      figures.set('trickled_headers', { held_ms: Math.round(held.heldMs), bytes_sent: held.sent, answer: held.answer.split('\r\n')[0] || '(closed)' });
    });

    it('a socket that trickles its body is closed too', async () => {
      const held = await hold(
        `PUT ${validatePath()} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${BODY_LIMIT}\r\n\r\n{"token":"`,
        () => '1',
        100,
      );
      expect(held.heldMs).toBeLessThan(CLOSED_WITHIN_MS);
      figures.set('trickled_body', { held_ms: Math.round(held.heldMs), bytes_sent: held.sent, answer: held.answer.split('\r\n')[0] || '(closed)' });
    });

    it('a socket that connects and says nothing is closed', async () => {
      const held = await hold('', () => '', 0);
      expect(held.heldMs).toBeLessThan(CLOSED_WITHIN_MS);
      figures.set('silent_socket_held_ms', Math.round(held.heldMs));
    });

    it(`${SLOW_SOCKETS} trickling sockets at once: a real client is served at once, and all of them are closed`, async () => {
      let n = 0;
      const slow = Array.from({ length: SLOW_SOCKETS }, (_, k) =>
        k % 2 === 0
          ? hold(`GET /account/${d.accountKey}/device/${d.deviceKey} HTTP/1.1\r\nHost: ${host}\r\n`, () => `X-${n++}: b\r\n`, 150)
          : hold(`PUT ${validatePath()} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${BODY_LIMIT}\r\n\r\n{`, () => ' ', 150),
      );
      // While they trickle: real requests are answered promptly.
      const latencies: number[] = [];
      for (let i = 0; i < 5; i += 1) latencies.push(await stillServes());
      const held = await Promise.all(slow);
      expect(Math.max(...held.map((h) => h.heldMs))).toBeLessThan(CLOSED_WITHIN_MS + 1_000);
      expect(Math.max(...latencies)).toBeLessThan(1_000);
      figures.set('slow_attack', {
        sockets: SLOW_SOCKETS,
        max_held_ms: Math.round(Math.max(...held.map((h) => h.heldMs))),
        real_request_ms_max: Math.round(Math.max(...latencies)),
      });
      // A refused body never reached the handler: the device is as it was.
      expectError(await d.client.validate(d.accountKey, d.deviceKey, d.code === '000000' ? '111111' : '000000'), 'DTS000001', { attempts_remaining: 4 });
    });
  });
});
