import { Writable } from 'node:stream';
import pino from 'pino';
import { loggerOptions } from './logging';
import { MetricsAuth } from './metrics-auth';
import { MetricsRegistry, registerQueueDepthGauge } from './metrics-registry';
import { withTimeout } from './timeout';

/** A pino logger with the apps' options, writing into `lines`. */
function capture(lines: Record<string, any>[]) {
  const options = loggerOptions({ service: 'test', level: 'info' }) as pino.LoggerOptions;
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return pino(options, stream);
}

describe('log configuration', () => {
  it('redacts credentials and contact data wherever a log call puts them, and never keeps a body', () => {
    const lines: Record<string, any>[] = [];
    capture(lines).info(
      {
        req: { headers: { authorization: 'eyJ.jwt.sig', cookie: 'sid=1', 'x-twilio-signature': 'sig', 'api-client-key': 'client-1' }, body: { token: '123456' } },
        approver: { phone_number: '+5511999990000', email: 'a@example.com', name: 'Maria' },
        account: { approvers: [{ phone_number: '+5511999990000' }] },
        token: '654321',
        secret: 's3cret',
        body: { anything: true },
      },
      'hello',
    );
    const text = JSON.stringify(lines);
    for (const value of ['eyJ.jwt.sig', 'sid=1', '"sig"', '123456', '+5511999990000', 'a@example.com', '654321', 's3cret', 'anything']) {
      expect(text).not.toContain(value);
    }
    expect(lines[0]).toMatchObject({ level: 'info', service: 'test', msg: 'hello', approver: { name: 'Maria' } });
    expect(lines[0].req.headers['api-client-key']).toBe('client-1');
    expect(lines[0].req.headers.authorization).toBe('[redacted]');
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
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 't0ken-value', 'Bearer t0ken-valu', 'Bearer t0ken-value2', 'Basic t0ken-value', 'Bearer t0ken-value extra']) {
      expect(auth.allows(header)).toBe(false);
    }
  });
});

describe('queue depth gauge', () => {
  it('reports each state at scrape time, and no samples when the queue does not answer in time', async () => {
    const registry = new MetricsRegistry();
    let counts: Promise<Record<string, number>> = Promise.resolve({ waiting: 3, active: 1, delayed: 0, failed: 2, completed: 9 });
    registerQueueDepthGauge(registry, { name: 'q', getJobCounts: () => counts }, 50);
    const metric = async () => (await registry.getSingleMetric('device2fa_queue_jobs')!.get()).values.map((v) => [v.labels.state, v.value]);
    expect(await metric()).toEqual([
      ['waiting', 3],
      ['active', 1],
      ['delayed', 0],
      ['failed', 2],
      ['completed', 9],
    ]);
    counts = new Promise(() => undefined);
    expect(await metric()).toEqual([]);
  });
});

describe('withTimeout', () => {
  it('rejects after the timeout and passes results through', async () => {
    await expect(withTimeout(Promise.resolve(1), 50, 'x')).resolves.toBe(1);
    await expect(withTimeout(new Promise(() => undefined), 10, 'ping')).rejects.toThrow('ping: no answer within 10 ms');
  });
});
