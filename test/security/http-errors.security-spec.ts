/**
 * Every error the HTTP server itself answers is in the contract's envelope,
 * byte for byte, on raw sockets (what Node's parser sees before any route):
 * headers or a request line over 16 KB → 431 DTS000016, a request line or a
 * header Node cannot parse → 400 DTS000018, a client too slow to send its
 * request → 408 DTS000017, a body over the limit → 413 DTS000008. Each answer
 * closes the connection, and the api goes on serving.
 */
import { connect } from 'node:net';
import { ERROR_CATALOG, envelopeFor, type ErrorCode } from '@lib/domain';
import { Figures } from '../support/figures';
import { Stack } from '../support/stack';

const REQUEST_TIMEOUT_MS = 1_500;

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection after answering. */
  closed: boolean;
}

/** Writes `chunks` (one every `everyMs`) on a fresh socket and reads until the server closes it; bounded in time. */
function exchange(port: number, chunks: (string | Buffer)[], everyMs = 0, timeoutMs = 10_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (d) => received.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(received).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...headerLines] = head.split('\r\n');
      const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: rest.join('\r\n\r\n'), closed: true });
    });
    let i = 0;
    const next = () => {
      if (i >= chunks.length || socket.destroyed) return;
      socket.write(chunks[i++]);
      if (i < chunks.length) setTimeout(next, everyMs);
    };
    socket.on('connect', next);
  });
}

describe('HTTP server errors are answered in the envelope', () => {
  const figures = new Figures('security', __filename);
  let stack: Stack;
  let port: number;
  let host: string;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'http-errors', startWorker: false, env: { REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) } });
    const url = new URL(stack.apiUrl);
    port = Number(url.port);
    host = url.host;
  });

  afterAll(async () => {
    figures.write();
    await stack?.stop();
  });

  /** The whole answer: the status line's code, JSON content type, the exact envelope of `code`, and a closed connection. */
  function expectEnvelope(answer: RawAnswer, code: ErrorCode): void {
    expect({ status: answer.status, type: answer.headers['content-type'], body: JSON.parse(answer.body), closed: answer.closed }).toEqual({
      status: ERROR_CATALOG[code].status,
      type: 'application/json; charset=utf-8',
      body: envelopeFor(code),
      closed: true,
    });
    expect(Number(answer.headers['content-length'])).toBe(Buffer.byteLength(answer.body));
    figures.add(`answered_${answer.status}`);
  }

  const stillServes = async () => {
    const res = await fetch(`${stack.apiUrl}/health/live`);
    expect(res.status).toBe(200);
  };

  it.each([
    ['a 20 KB header', () => `GET /health/live HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
    ['a 20 KB request line', () => `GET /health/live?${'q'.repeat(20_000)} HTTP/1.1\r\nHost: ${host}\r\n\r\n`],
    [
      '600 headers of 40 bytes',
      () => `GET /health/live HTTP/1.1\r\nHost: ${host}\r\n${Array.from({ length: 600 }, (_, i) => `X-H${i}: ${'v'.repeat(40)}\r\n`).join('')}\r\n`,
    ],
  ])('%s → 431 DTS000016', async (_case, raw) => {
    expectEnvelope(await exchange(port, [raw()]), 'DTS000016');
    await stillServes();
  });

  it.each([
    ['a malformed request line', () => 'GET /health live HTTP/1.1\r\n\r\n'],
    ['an unknown HTTP version', () => `GET / HTTP/9.9\r\nHost: ${host}\r\n\r\n`],
    ['a header name with a space', () => `GET /health/live HTTP/1.1\r\nHost: ${host}\r\nBad Header: x\r\n\r\n`],
    ['Content-Length: abc', () => `POST /health/live HTTP/1.1\r\nHost: ${host}\r\nContent-Length: abc\r\n\r\n`],
    [
      'Content-Length with Transfer-Encoding: chunked',
      () => `POST /health/live HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
    ['a TLS hello', () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a])],
  ])('%s → 400 DTS000018', async (_case, raw) => {
    expectEnvelope(await exchange(port, [raw()]), 'DTS000018');
    await stillServes();
  });

  it(`a client that trickles its headers past REQUEST_TIMEOUT_MS (${REQUEST_TIMEOUT_MS} ms) → 408 DTS000017`, async () => {
    const started = Date.now();
    const chunks = [`GET /health/live HTTP/1.1\r\nHost: ${host}\r\n`, ...Array.from({ length: 60 }, (_, i) => `X-${i}: a\r\n`)];
    const answer = await exchange(port, chunks, 100);
    expectEnvelope(answer, 'DTS000017');
    figures.set('trickle_closed_after_ms', Date.now() - started);
    await stillServes();
  });

  it('a body over the limit → 413 DTS000008 (answered by the framework, in the same envelope)', async () => {
    const body = 'x'.repeat(20_000);
    const answer = await exchange(port, [
      `PATCH /account/a/device/b/resend_token HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    ]);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual(envelopeFor('DTS000008'));
    await stillServes();
  });
});
