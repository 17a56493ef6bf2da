import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import pino from 'pino';
import { createAppLogger, loggerOptions, prettyLines, PRETTY_OPTIONS, registerAccessLog } from './logging';
import { MetricsAuth } from './metrics-auth';
import { MetricsRegistry, registerQueueDepthGauge } from './metrics-registry';
import { withTimeout } from './timeout';

/** A pino logger with the apps' options, writing into `lines`. */
function capture(lines: Record<string, any>[]) {
  const options = loggerOptions({ service: 'test', level: 'info' });
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return pino(options, stream);
}

/** What a careless log call could pass: credentials, codes and contact data, beside fields that may be logged. */
const SENSITIVE_LINE = {
  req: {
    headers: { authorization: 'eyJ.jwt.sig', cookie: 'sid=1', 'x-twilio-signature': 'sig', 'api-client-key': 'client-1' },
    body: { token: '123456' },
  },
  approver: { phone_number: '+5511999990000', email: 'a@example.com', name: 'Maria' },
  account: { approvers: [{ phone_number: '+5511999990000' }] },
  token: '654321',
  secret: 's3cret',
  body: { anything: true },
};
const SENSITIVE_VALUES = ['eyJ.jwt.sig', 'sid=1', '"sig"', '123456', '+5511999990000', 'a@example.com', '654321', 's3cret', 'anything'];

describe('log configuration', () => {
  it('redacts credentials and contact data wherever a log call puts them, and never keeps a body', () => {
    const lines: Record<string, any>[] = [];
    capture(lines).info(SENSITIVE_LINE, 'hello');
    const text = JSON.stringify(lines);
    for (const value of SENSITIVE_VALUES) expect(text).not.toContain(value);
    expect(lines[0]).toMatchObject({ level: 'info', service: 'test', msg: 'hello', approver: { name: 'Maria' } });
    expect(lines[0].req.headers['api-client-key']).toBe('client-1');
    expect(lines[0].req.headers.authorization).toBe('[redacted]');
  });
});

describe('pretty log format (LOG_FORMAT=pretty)', () => {
  // Colours depend on the terminal the tests run in: compare the text without them.
  // eslint-disable-next-line no-control-regex
  const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');
  const prettyApp = () => {
    const file = join(mkdtempSync(join(tmpdir(), 'applog-pretty-')), 'out.log');
    const app = createAppLogger({ service: 'test', level: 'info', format: 'pretty', dest: file });
    return { app, read: () => (app.flush(), plain(readFileSync(file, 'utf8'))) };
  };

  it('writes the same redacted objects as the JSON format: no credential, code or contact data', () => {
    const { app, read } = prettyApp();
    app.logger.info({ ...SENSITIVE_LINE, context: 'Demo' }, 'hello');
    const text = read();
    for (const value of SENSITIVE_VALUES) expect({ value, logged: text.includes(value) }).toEqual({ value, logged: false });
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[Demo\] hello /);
    expect(text).toContain('"approver":{"phone_number":"[redacted]","email":"[redacted]","name":"Maria"}');
    expect(text).toContain('"token":"[redacted]"');
    expect(text.trimEnd().split('\n')).toHaveLength(1);
  });

  it('formats what the JSON format would write, field for field (the pretty stream only formats)', () => {
    const json: Record<string, any>[] = [];
    capture(json).warn({ ...SENSITIVE_LINE, requestId: 'req-1' }, 'same');
    const formatted: string[] = [];
    pino(
      loggerOptions({ service: 'test', level: 'info' }),
      prettyLines({ write: (text: string) => formatted.push(plain(text)) }, { ...PRETTY_OPTIONS, ignore: 'time,pid,hostname' }),
    ).warn({ ...SENSITIVE_LINE, requestId: 'req-1' }, 'same');
    // Everything but the time, the level, the message and the process, as the JSON line has it.
    const { time: _time, level: _level, msg: _msg, pid: _pid, hostname: _hostname, ...fields } = json[0];
    expect(formatted).toEqual([`WARN: same ${JSON.stringify(fields)}\n`]);
  });

  it('shows an access line as method, url, status and time, and never a header the JSON line leaves out', async () => {
    const { app, read } = prettyApp();
    const fastify = Fastify();
    registerAccessLog(fastify, app.logger);
    fastify.get('/things/:id', async () => ({ ok: true }));
    await fastify.inject({ method: 'GET', url: '/things/7?x=1', headers: { authorization: 'Bearer eyJ.secret.sig', cookie: 'sid=2' } });
    await fastify.close();
    const text = read();
    expect(text).toMatch(/INFO: request completed GET \/things\/7\?x=1 → 200 \(\d+(\.\d+)? ms\) \{"requestId":"[^"]+"\}\n$/);
    for (const value of ['eyJ.secret.sig', 'sid=2']) expect(text).not.toContain(value);
  });

  it('is refused with the fix named when pino-pretty is not installed', () => {
    jest.isolateModules(() => {
      jest.doMock('pino-pretty', () => {
        throw Object.assign(new Error("Cannot find module 'pino-pretty'"), { code: 'MODULE_NOT_FOUND' });
      });
      const logging = jest.requireActual<typeof import('./logging')>('./logging');
      expect(() => logging.prettyLines({ write: () => undefined })).toThrow(/LOG_FORMAT=pretty needs the pino-pretty package.*set LOG_FORMAT=json/);
    });
    jest.dontMock('pino-pretty');
  });
});

describe('app logger', () => {
  const read = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  it('holds lines in memory until a block is full or the flush interval passes, then writes them', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'applog-')), 'out.log');
    const app = createAppLogger({ service: 'test', level: 'info', dest: file });
    app.logger.info('first');
    expect(read(file)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(read(file).map((l) => l.msg)).toEqual(['first']);
    // A block's worth of lines is written without waiting.
    for (let i = 0; i < 40; i++) app.logger.info({ i, padding: 'x'.repeat(100) }, 'bulk');
    expect(read(file).length).toBeGreaterThan(1);
    app.flush();
    expect(read(file).length).toBe(41);
  });

  it('writes each line at once after writeThrough (shutdown), and what was buffered first', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'applog-')), 'out.log');
    const app = createAppLogger({ service: 'test', level: 'info', dest: file });
    app.logger.info('buffered');
    expect(read(file)).toEqual([]);
    app.writeThrough();
    expect(read(file).map((l) => l.msg)).toEqual(['buffered']);
    app.logger.warn('stopping');
    expect(read(file).map((l) => l.msg)).toEqual(['buffered', 'stopping']);
  });
});

describe('access log', () => {
  async function serve(lines: Record<string, any>[]) {
    const fastify = Fastify();
    registerAccessLog(fastify, capture(lines));
    fastify.get('/things/:id', async () => ({ ok: true }));
    fastify.get('/boom', async (_req, reply) => reply.code(503).send({ down: true }));
    fastify.get('/health/live', async () => ({ status: 'ok' }));
    fastify.get('/metrics', async () => 'x 1');
    await fastify.ready();
    return fastify;
  }

  it('writes one line per answered request with its id, method, url, allowed headers, status and time', async () => {
    const lines: Record<string, any>[] = [];
    const fastify = await serve(lines);
    await fastify.inject({ method: 'GET', url: '/things/7?x=1', headers: { authorization: 'Bearer eyJ.secret.sig', 'api-client-key': 'client-1' } });
    await fastify.close();
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line).toMatchObject({ level: 'info', msg: 'request completed', req: { method: 'GET', url: '/things/7?x=1' }, res: { statusCode: 200 } });
    expect(typeof line.requestId).toBe('string');
    expect(typeof line.responseTimeMs).toBe('number');
    expect(line.req.headers).toEqual({ host: 'localhost:80', 'user-agent': 'lightMyRequest', 'api-client-key': 'client-1' });
    // Left out entirely; only its name says it was sent.
    expect(line.req.omittedHeaders).toEqual(['authorization']);
    expect(JSON.stringify(line)).not.toContain('eyJ.secret.sig');
  });

  it('keeps no value of a header off its allow-list: credentials in unexpected headers never reach the line', async () => {
    const jwt = 'eyJhbGciOiJFUzUxMiJ9.eyJzdWIiOiJjbGllbnQifQ.c2lnbmF0dXJlLXBhcnQtb2YtdGhlLWp3dA';
    const secrets: Record<string, string> = {
      authorization: 'Bearer auth-value-0001',
      'x-api-key': 'sk_live_api-key-value-0002',
      'x-auth-token': 'auth-token-value-0003',
      'proxy-authorization': `Basic ${Buffer.from('proxy:proxy-password-0004').toString('base64')}`,
      cookie: 'session=cookie-value-0005; csrf=cookie-value-0006',
      'x-forwarded-authorization': 'Bearer forwarded-bearer-0007',
      'x-upstream-assertion': jwt,
      'x-twilio-signature': 'twilio-signature-0008',
      referer: 'https://app.example/reset?token=referer-token-0009',
    };
    const allowed = {
      'user-agent': 'support-check/1.0',
      'x-request-id': 'req-0123456789',
      'api-client-key': '6f1c2a4e-8b3d-4c5e-9f60-718293a4b5c6',
      accept: 'application/json',
      'accept-language': 'pt-BR',
      'content-type': 'application/json',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      origin: 'https://board.example',
    };
    const lines: Record<string, any>[] = [];
    const fastify = await serve(lines);
    await fastify.inject({ method: 'GET', url: '/things/8', headers: { ...secrets, ...allowed } });
    await fastify.inject({ method: 'GET', url: '/nowhere', headers: secrets });
    await fastify.close();
    expect(lines).toHaveLength(2);
    const text = JSON.stringify(lines);
    for (const value of [...Object.values(secrets), ...jwt.split('.'), 'proxy-password-0004', 'cookie-value-0005', 'referer-token-0009']) {
      expect({ value, logged: text.includes(value) }).toEqual({ value, logged: false });
    }
    expect(lines[0].req.headers).toEqual({ host: 'localhost:80', ...allowed });
    expect([...lines[0].req.omittedHeaders].sort()).toEqual(Object.keys(secrets).sort());
  });

  it('names an omitted header only when its name looks like one (a value pasted as a name is not listed)', async () => {
    const lines: Record<string, any>[] = [];
    const fastify = await serve(lines);
    const pasted = 'eyJhbGciOiJFUzUxMiJ9.eyJzdWIiOiJjbGllbnQifQ.c2lnbmF0dXJl';
    await fastify.inject({ method: 'GET', url: '/things/9', headers: { [pasted]: 'x', 'x-custom': 'y' } });
    await fastify.close();
    expect(JSON.stringify(lines)).not.toContain(pasted);
    expect(lines[0].req.omittedHeaders).toEqual(['x-custom', '(1 more)']);
  });

  it('logs 5xx answers as warnings and skips health probes and metrics scrapes', async () => {
    const lines: Record<string, any>[] = [];
    const fastify = await serve(lines);
    for (const url of ['/boom', '/health/live', '/metrics', '/nowhere']) await fastify.inject({ method: 'GET', url });
    await fastify.close();
    expect(lines.map((l) => [l.req.url, l.res.statusCode, l.level])).toEqual([
      ['/boom', 503, 'warn'],
      ['/nowhere', 404, 'info'],
    ]);
  });
});

describe('metrics access', () => {
  it('is open without a configured token', () => {
    expect(new MetricsAuth(undefined).allows(undefined)).toBe(true);
  });

  it('requires exactly "Bearer <token>" when one is configured', () => {
    const auth = new MetricsAuth('t0ken-value');
    expect(auth.allows('Bearer t0ken-value')).toBe(true);
    expect(auth.allows('bearer t0ken-value')).toBe(true);
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      't0ken-value',
      'Bearer t0ken-valu',
      'Bearer t0ken-value2',
      'Basic t0ken-value',
      'Bearer t0ken-value extra',
    ]) {
      expect(auth.allows(header)).toBe(false);
    }
  });
});

describe('queue depth gauge', () => {
  it('reports each state of each queue at scrape time, and no samples for a queue that does not answer in time', async () => {
    const registry = new MetricsRegistry();
    let sms: Promise<Record<string, number>> = Promise.resolve({ waiting: 3, active: 1, delayed: 0, failed: 2, completed: 9 });
    const email = { waiting: 1, active: 0, delayed: 4, failed: 0, completed: 5 };
    registerQueueDepthGauge(
      registry,
      [
        { name: 'sms', getJobCounts: () => sms },
        { name: 'email', getJobCounts: async () => email },
      ],
      50,
    );
    const metric = async () => (await registry.getSingleMetric('device2fa_queue_jobs')!.get()).values.map((v) => [v.labels.queue, v.labels.state, v.value]);
    expect(await metric()).toEqual([
      ['sms', 'waiting', 3],
      ['sms', 'active', 1],
      ['sms', 'delayed', 0],
      ['sms', 'failed', 2],
      ['sms', 'completed', 9],
      ['email', 'waiting', 1],
      ['email', 'active', 0],
      ['email', 'delayed', 4],
      ['email', 'failed', 0],
      ['email', 'completed', 5],
    ]);
    sms = new Promise(() => undefined);
    expect((await metric()).map(([queue]) => queue)).toEqual(['email', 'email', 'email', 'email', 'email']);
  });
});

describe('withTimeout', () => {
  it('rejects after the timeout and passes results through', async () => {
    await expect(withTimeout(Promise.resolve(1), 50, 'x')).resolves.toBe(1);
    await expect(withTimeout(new Promise(() => undefined), 10, 'ping')).rejects.toThrow('ping: no answer within 10 ms');
  });
});
