import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@lib/config';
import { OutboxEmailAdapter, OutboxSmsAdapter, renderEmail, renderSms, ttlMinutes } from '@lib/notifications';
import { cliEnv } from './cli-support';
import { codeIn, latestMessage, notFound, OutboxError, outboxAccess, parseOutbox, readOutbox, waitForMessage } from './outbox';

const DIGITS = { alphabet: '0123456789', length: 6 };
const device = (n: number) => `0000000${n}-0000-4000-8000-000000000000`;

describe('the development outbox, as the CLI reads it', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-outbox-'));
    path = join(dir, '.outbox', 'messages.log');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** The worker's own templates (the defaults) and token lifetime, rendered as the worker renders them. */
  const messages = loadConfig({ NODE_ENV: 'test', TOKEN_HASH_SECRET: randomBytes(24).toString('hex') }, 'worker').messages;
  const values = (code: string) => ({ code, minutes: ttlMinutes(300), name: 'Maria 2ª da Silva' });
  const reference = (n: number) => ({ accountKey: `account-${n}`, deviceKey: device(n), dispatchId: `dispatch-${n}` });

  it("finds each device's latest message and its code in a file the real outbox adapters wrote", async () => {
    const sms = new OutboxSmsAdapter(path);
    const email = new OutboxEmailAdapter(path);
    await sms.sendSms({ to: '+5511900000001', body: renderSms(messages, values('111111')), reference: reference(1) });
    await email.sendEmail({ to: 'two@example.com', ...renderEmail(messages, values('222222')), reference: reference(2) });
    await sms.sendSms({ to: '+5511900000001', body: renderSms(messages, values('333333')), reference: reference(1) });
    // A line written before the outbox named its send: read, but no device's.
    await sms.sendSms({ to: '+5511900000009', body: renderSms(messages, values('999999')) });

    const outbox = await readOutbox(path);
    expect(outbox?.unreadable).toBe(0);
    const records = outbox!.records;
    expect(records).toHaveLength(4);
    const first = latestMessage(records, { deviceKey: device(1) })!;
    expect(first).toMatchObject({ channel: 'sms', to: '+5511900000001', device_key: device(1), account_key: 'account-1', dispatch_id: 'dispatch-1' });
    expect(codeIn(first.body, DIGITS)).toBe('333333');
    const second = latestMessage(records, { deviceKey: device(2).toUpperCase() })!;
    expect(second).toMatchObject({ channel: 'email', to: 'two@example.com', subject: messages.emailSubject });
    expect(codeIn(second.body, DIGITS)).toBe('222222');
    expect(latestMessage(records, { deviceKey: device(3) })).toBeUndefined();
    expect(codeIn(latestMessage(records)!.body, DIGITS)).toBe('999999');
  });

  it('skips lines that are not a message (one being written, an edit) and counts them', () => {
    const good = JSON.stringify({ at: '2026-01-01T00:00:00.000Z', channel: 'sms', to: '+5511900000001', body: 'code 123456', id: 'outbox-1' });
    const text = [
      good,
      '{"at":"2026-01-01T00:00:01.000Z","channel":"sms","to":"+55119',
      'not json',
      JSON.stringify({ ...JSON.parse(good), channel: 'fax' }),
      JSON.stringify({ ...JSON.parse(good), device_key: 42 }),
      '[]',
      '',
    ].join('\n');
    const { records, unreadable } = parseOutbox(text);
    expect(records).toEqual([JSON.parse(good)]);
    expect(unreadable).toBe(5);
  });

  it('takes only messages written since a given time when asked', () => {
    const at = (iso: string, id: string) => ({ at: iso, channel: 'sms' as const, to: '+5511900000001', body: 'x', id, device_key: device(1) });
    const records = [at('2026-01-01T00:00:00.000Z', 'old'), at('2026-01-01T00:00:05.000Z', 'new')];
    expect(latestMessage(records, { deviceKey: device(1), since: new Date('2026-01-01T00:00:01.000Z') })?.id).toBe('new');
    expect(latestMessage(records, { since: new Date('2026-01-01T00:00:06.000Z') })).toBeUndefined();
  });

  it('finds the code by its shape, and none when the text holds no single one', () => {
    expect(codeIn('Seu código é 482913. Ele expira em 5 minutos.', DIGITS)).toBe('482913');
    expect(codeIn('482913', DIGITS)).toBe('482913');
    expect(codeIn('Olá, Ana 1234567.\n\nSeu código é 482913; repito: 482913.', DIGITS)).toBe('482913');
    expect(codeIn('Your code is 1234567.', DIGITS)).toBeUndefined();
    expect(codeIn('Codes 111111 and 222222.', DIGITS)).toBeUndefined();
    expect(codeIn('no code here', DIGITS)).toBeUndefined();
    const letters = { alphabet: 'ABCDEFGHJKMNPQRSTUVWXYZ23456789', length: 8 };
    expect(codeIn('Seu código de aprovação de dispositivo é K7P2QZ9A. Ele expira em 5 minutos.', letters)).toBe('K7P2QZ9A');
    // With the worker's shape unknown to the CLI (8 characters here, 6 digits there): none rather than a wrong one.
    expect(codeIn('Seu código é 48291377.', DIGITS)).toBeUndefined();
  });

  it('waits for a message that is not there yet, and says what it found when none comes', async () => {
    mkdirSync(join(dir, '.outbox'));
    writeFileSync(path, '');
    const line = JSON.stringify({
      at: new Date().toISOString(),
      channel: 'sms',
      to: '+5511900000001',
      body: 'é 654321.',
      id: 'outbox-9',
      device_key: device(4),
    });
    setTimeout(() => appendFileSync(path, `${line}\n`), 300);
    const found = await waitForMessage(path, { deviceKey: device(4) }, { timeoutMs: 5_000, pollMs: 50 });
    expect(found.record?.id).toBe('outbox-9');

    const started = Date.now();
    const none = await waitForMessage(path, { deviceKey: device(5) }, { timeoutMs: 300, pollMs: 50 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(none).toEqual({ exists: true, messages: 1 });
    expect(await waitForMessage(join(dir, 'missing.log'), {}, { timeoutMs: 0 })).toEqual({ exists: false, messages: 0 });
    const error = notFound(path, { exists: true, messages: 1 }, device(5), 300);
    expect(error.message).toContain(`no message for device ${device(5)} in the outbox`);
    expect(error.message).toContain('after 0.3 s (1 message there)');
  });
});

describe('where the CLI reads the outbox', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'cli-outbox-env-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const npmStartRan = () => {
    mkdirSync(join(root, '.local'));
    writeFileSync(join(root, '.local', 'dev-secrets.env'), 'ADMIN_TOKEN=dev-generated-x\n', { mode: 0o600 });
  };
  const refusal = (env: NodeJS.ProcessEnv) => {
    try {
      outboxAccess(cliEnv(env, root));
    } catch (err) {
      if (err instanceof OutboxError) return err.message;
      throw err;
    }
    return undefined;
  };

  it('in the local development mode only: NODE_ENV=development, or unset beside npm start', () => {
    expect(refusal({ NODE_ENV: 'development' })).toBeUndefined();
    expect(refusal({})).toMatch(/NODE_ENV is unset and .*dev-secrets\.env \(written by npm start\) does not exist/);
    npmStartRan();
    expect(refusal({})).toBeUndefined();
    expect(refusal({ NODE_ENV: ' ' })).toBeUndefined();
    for (const NODE_ENV of ['production', 'test', 'staging']) expect(refusal({ NODE_ENV })).toContain(`(NODE_ENV=${NODE_ENV})`);
  });

  it('at OUTBOX_PATH relative to the checkout (where npm start runs the worker), with the token shape of TOKEN_ALPHABET / TOKEN_LENGTH', () => {
    expect(cliEnv({}, root)).toMatchObject({ outboxPath: join(root, '.outbox', 'messages.log'), tokenShape: DIGITS });
    expect(cliEnv({ OUTBOX_PATH: 'tmp/out.log', TOKEN_ALPHABET: 'ABC', TOKEN_LENGTH: '8' }, root)).toMatchObject({
      outboxPath: join(root, 'tmp', 'out.log'),
      tokenShape: { alphabet: 'ABC', length: 8 },
    });
    expect(cliEnv({ OUTBOX_PATH: '/var/tmp/x.log' }, root).outboxPath).toBe('/var/tmp/x.log');
  });
});
