/**
 * Every code of the error catalog, reached through a real flow against the
 * running api and worker, checked with its exact status and whole envelope.
 * Every refused request is also checked to have changed nothing: the same
 * device view before and after, no new dispatch or job, and every value the
 * service keeps in Redis unchanged.
 *
 * Not here: OBD000097 and DTS000010 (Redis unreachable, see
 * redis-outage.e2e-spec.ts) and DTS000011 (a defect by definition).
 */
import { randomUUID } from 'node:crypto';
import { http, type HttpResult } from '../support/api-client';
import { ADMIN_TOKEN, Stack, codeIn, newApprover } from '../support/stack';
import {
  deviceSettled,
  expectError,
  observable,
  pendingDevice as newPendingDevice,
  schemaErrors,
  sendBytes,
  unchanged,
  wrongCode,
  type PendingDevice,
} from '../support/e2e-checks';
import { errorLines } from '../support/logs';

const BODY_LIMIT = 2048;
const DEVICE_CAP = 3;
const MAX_FAILED = 5;
/** A well-formed UUID, but version 1 (time-based), not the v4 the contract requires. */
const UUID_V1 = 'c232ab00-9414-11ec-b3c8-9f68deced846';

type Dev = PendingDevice;

describe('error catalog', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'errors',
      env: {
        BODY_LIMIT_BYTES: String(BODY_LIMIT),
        SEND_LIMIT_PER_DEVICE: String(DEVICE_CAP),
        SEND_LIMIT_PER_DESTINATION: '10',
        RESEND_COALESCE_SECONDS: '30',
        TOKEN_MAX_FAILED_ATTEMPTS: String(MAX_FAILED),
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const pendingDevice = (channel: 'sms' | 'email' = 'sms') => newPendingDevice(stack, channel);

  async function putAccount(d: Dev, change: { status?: string; kind?: string }): Promise<void> {
    const res = await stack.admin.put(`/internal/accounts/${d.accountKey}`, {
      client_key: d.client.clientKey,
      status: change.status ?? 'active',
      kind: change.kind ?? 'regular',
      approvers: [d.approver],
    });
    expect(res.status).toBe(200);
  }

  const createBody = (cpf: string, overrides: Record<string, unknown> = {}) => ({
    device_key: randomUUID(),
    session_id: randomUUID(),
    tfa_info: { approver_document_number: cpf, contact_type: 'sms' },
    ...overrides,
  });

  /** The five endpoints, as `d`'s client calling them on the given account and device. */
  const everyEndpoint = (d: Dev, accountKey: string, deviceKey: string, cpf = d.approver.document_number) =>
    [
      ['create', () => d.client.createDevice(accountKey, createBody(cpf))],
      ['resend', () => d.client.resend(accountKey, deviceKey)],
      ['validate', () => d.client.validate(accountKey, deviceKey, d.code)],
      ['query', () => d.client.query(accountKey, deviceKey)],
      ['disable', () => d.client.disable(accountKey, deviceKey)],
    ] as const;

  describe('QIT000001 schema errors name the field and why, and change nothing', () => {
    let d: Dev;
    beforeAll(async () => {
      d = await pendingDevice();
    });

    const dev = (x: Dev) => `/account/${x.accountKey}/device/${x.deviceKey}`;
    const undef = 'Invalid input: expected string, received undefined';
    const notV4 = 'must be a UUID v4 (36 characters)';
    const notObject = 'must be a JSON object';
    const cases: [string, (x: Dev) => Promise<HttpResult>, Record<string, unknown>][] = [
      // create
      ['create: no body', (x) => x.client.send('POST', `/account/${x.accountKey}/device`), schemaErrors(['body', 'is required'])],
      [
        'create: every field missing',
        (x) => x.client.createDevice(x.accountKey, {}),
        schemaErrors(['device_key', undef], ['session_id', undef], ['tfa_info', 'must be an object']),
      ],
      [
        'create: wrong types',
        (x) => x.client.createDevice(x.accountKey, { device_key: 123, session_id: true, tfa_info: 'sms' }),
        schemaErrors(
          ['device_key', 'Invalid input: expected string, received number'],
          ['session_id', 'Invalid input: expected string, received boolean'],
          ['tfa_info', 'must be an object'],
        ),
      ],
      [
        'create: tfa_info fields missing',
        (x) => x.client.createDevice(x.accountKey, createBody('', { tfa_info: {} })),
        schemaErrors(['tfa_info.approver_document_number', undef], ['tfa_info.contact_type', 'must be one of: sms, email']),
      ],
      [
        'create: contact_type "liveness" (out of scope)',
        (x) =>
          x.client.createDevice(x.accountKey, createBody('', { tfa_info: { approver_document_number: x.approver.document_number, contact_type: 'liveness' } })),
        schemaErrors(['tfa_info.contact_type', 'must be one of: sms, email']),
      ],
      [
        'create: CPF with punctuation',
        (x) => x.client.createDevice(x.accountKey, createBody('123.456.789-01')),
        schemaErrors(['tfa_info.approver_document_number', 'must be 11 digits']),
      ],
      [
        'create: CPF of 10 digits',
        (x) => x.client.createDevice(x.accountKey, createBody(x.approver.document_number.slice(1))),
        schemaErrors(['tfa_info.approver_document_number', 'must be 11 digits']),
      ],
      [
        'create: device_key is a UUID v1',
        (x) => x.client.createDevice(x.accountKey, createBody(x.approver.document_number, { device_key: UUID_V1 })),
        schemaErrors(['device_key', notV4]),
      ],
      [
        'create: session_id without dashes',
        (x) => x.client.createDevice(x.accountKey, createBody(x.approver.document_number, { session_id: randomUUID().replace(/-/g, '') })),
        schemaErrors(['session_id', notV4]),
      ],
      ['create: JSON array', (x) => x.client.createDevice(x.accountKey, '[]'), schemaErrors(['body', notObject])],
      ['create: JSON string', (x) => x.client.createDevice(x.accountKey, '"device"'), schemaErrors(['body', notObject])],
      ['create: JSON number', (x) => x.client.createDevice(x.accountKey, '42'), schemaErrors(['body', notObject])],
      ['create: JSON null', (x) => x.client.createDevice(x.accountKey, 'null'), schemaErrors(['body', notObject])],
      [
        'create: account_key not a UUID',
        (x) => x.client.createDevice('not-a-uuid', createBody(x.approver.document_number)),
        schemaErrors(['account_key', notV4]),
      ],
      ['create: account_key is a UUID v1', (x) => x.client.createDevice(UUID_V1, createBody(x.approver.document_number)), schemaErrors(['account_key', notV4])],
      // resend
      [
        'resend: contact_type "liveness"',
        (x) => x.client.resend(x.accountKey, x.deviceKey, { contact_type: 'liveness' }),
        schemaErrors(['contact_type', 'must be one of: sms, email']),
      ],
      [
        'resend: contact_type a number',
        (x) => x.client.resend(x.accountKey, x.deviceKey, { contact_type: 1 }),
        schemaErrors(['contact_type', 'must be one of: sms, email']),
      ],
      ['resend: JSON array', (x) => x.client.resend(x.accountKey, x.deviceKey, '[]'), schemaErrors(['body', notObject])],
      ['resend: JSON true', (x) => x.client.resend(x.accountKey, x.deviceKey, 'true'), schemaErrors(['body', notObject])],
      ['resend: JSON null', (x) => x.client.resend(x.accountKey, x.deviceKey, 'null'), schemaErrors(['body', notObject])],
      ['resend: device_key is a UUID v1', (x) => x.client.resend(x.accountKey, UUID_V1), schemaErrors(['device_key', notV4])],
      ['resend: account_key not a UUID', (x) => x.client.resend('account-1', x.deviceKey), schemaErrors(['account_key', notV4])],
      // validate
      ['validate: no body', (x) => x.client.send('PUT', `${dev(x)}/validate`), schemaErrors(['body', 'is required'])],
      ['validate: token missing', (x) => x.client.send('PUT', `${dev(x)}/validate`, {}), schemaErrors(['token', 'must be a string'])],
      [
        'validate: token of 5 characters',
        (x) => x.client.validate(x.accountKey, x.deviceKey, x.code.slice(0, 5)),
        schemaErrors(['token', 'must have 6 characters']),
      ],
      ['validate: token of 7 characters', (x) => x.client.validate(x.accountKey, x.deviceKey, `${x.code}0`), schemaErrors(['token', 'must have 6 characters'])],
      ['validate: token empty', (x) => x.client.validate(x.accountKey, x.deviceKey, ''), schemaErrors(['token', 'must not be empty'])],
      ['validate: token a number', (x) => x.client.send('PUT', `${dev(x)}/validate`, { token: Number(x.code) }), schemaErrors(['token', 'must be a string'])],
      ['validate: token null', (x) => x.client.send('PUT', `${dev(x)}/validate`, { token: null }), schemaErrors(['token', 'must be a string'])],
      ['validate: JSON array', (x) => x.client.send('PUT', `${dev(x)}/validate`, [x.code]), schemaErrors(['body', notObject])],
      ['validate: device_key is a UUID v1', (x) => x.client.validate(x.accountKey, UUID_V1, x.code), schemaErrors(['device_key', notV4])],
      // query
      ['query: device_key is a UUID v1', (x) => x.client.query(x.accountKey, UUID_V1), schemaErrors(['device_key', notV4])],
      ['query: device_key one character short', (x) => x.client.query(x.accountKey, x.deviceKey.slice(0, 35)), schemaErrors(['device_key', notV4])],
      ['query: account_key not a UUID', (x) => x.client.query('12345', x.deviceKey), schemaErrors(['account_key', notV4])],
      // disable
      ['disable: device_key is a UUID v1', (x) => x.client.disable(x.accountKey, UUID_V1), schemaErrors(['device_key', notV4])],
      ['disable: account_key is a UUID v1', (x) => x.client.disable(UUID_V1, x.deviceKey), schemaErrors(['account_key', notV4])],
    ];

    it.each(cases)('%s', async (_label, request, extra) => {
      const res = await unchanged(stack, [d], () => request(d));
      expectError(res, 'QIT000001', extra);
    });

    it('the device still takes its token afterwards', async () => {
      const ok = await d.client.validate(d.accountKey, d.deviceKey, d.code);
      expect(ok.status).toBe(201);
      expect(ok.body.device_status).toBe('created');
    });
  });

  describe('framework errors get the envelope too, and change nothing', () => {
    let d: Dev;
    beforeAll(async () => {
      d = await pendingDevice();
    });

    const paths = (x: Dev) =>
      [
        ['POST', `/account/${x.accountKey}/device`],
        ['PATCH', `/account/${x.accountKey}/device/${x.deviceKey}/resend_token`],
        ['PUT', `/account/${x.accountKey}/device/${x.deviceKey}/validate`],
      ] as const;

    it.each([
      ['truncated JSON', '{"token": "12'],
      ['trailing garbage', '{"token":"123456"} x'],
      ['single quotes', "{'token':'123456'}"],
      ['a __proto__ key', '{"token":"123456","contact_type":"sms","__proto__":{"polluted":true}}'],
      ['a nested __proto__ key', '{"tfa_info":{"__proto__":{"contact_type":"sms"}},"token":"123456"}'],
      ['a constructor.prototype key', '{"token":"123456","constructor":{"prototype":{"polluted":true}}}'],
    ])('%s → QIT000001 malformed JSON body, on every endpoint with a body', async (_label, body) => {
      await unchanged(stack, [d], async () => {
        for (const [method, path] of paths(d)) {
          expectError(await d.client.send(method, path, body), 'QIT000001', { reason: 'malformed JSON body' });
        }
      });
    });

    it('invalid UTF-8 bytes → QIT000001 "body is not valid UTF-8", on every endpoint with a body', async () => {
      const bytes = Buffer.concat([Buffer.from('{"token":"12345'), Buffer.from([0xc3, 0x28]), Buffer.from('","contact_type":"sms"}')]);
      await unchanged(stack, [d], async () => {
        for (const [method, path] of paths(d)) {
          expectError(await sendBytes(d.client, method, path, bytes, 'application/json'), 'QIT000001', { reason: 'body is not valid UTF-8' });
        }
      });
    });

    it('the device still takes its token afterwards', async () => {
      expect((await d.client.validate(d.accountKey, d.deviceKey, d.code)).status).toBe(201);
    });
  });

  it('OBD000002: an unknown account and another client’s account get the very same answer on every endpoint', async () => {
    const mine = await pendingDevice();
    const theirs = await pendingDevice();
    const unknownAccount = randomUUID();
    // `mine`'s client, signing correctly, aims at `theirs` (with its real device, approver and code).
    const prober: Dev = { ...mine, code: theirs.code };
    await unchanged(stack, [mine, theirs], async () => {
      const other = everyEndpoint(prober, theirs.accountKey, theirs.deviceKey, theirs.approver.document_number);
      const missing = everyEndpoint(prober, unknownAccount, theirs.deviceKey, theirs.approver.document_number);
      for (let i = 0; i < other.length; i += 1) {
        const [name, call] = other[i];
        const a = await call();
        const b = await missing[i][1]();
        expectError(a, 'OBD000002');
        expect({ name, ...observable(a) }).toEqual({ name, ...observable(b) });
      }
    });
    expect((await theirs.client.validate(theirs.accountKey, theirs.deviceKey, theirs.code)).status).toBe(201);
  });

  it.each(['blocked', 'closed'])('OBD000088: a %s account refuses every endpoint and nothing changes', async (status) => {
    const d = await pendingDevice();
    await putAccount(d, { status });
    await unchanged(stack, [d], async () => {
      for (const [, call] of everyEndpoint(d, d.accountKey, d.deviceKey)) expectError(await call(), 'OBD000088', { account_status: status });
    });
    // A blocked or closed hub account is reported as blocked or closed first.
    await putAccount(d, { status, kind: 'hub' });
    await unchanged(stack, [d], async () => {
      expectError(await d.client.query(d.accountKey, d.deviceKey), 'OBD000088', { account_status: status });
    });
    // Back to active: the device and its token are as they were.
    await putAccount(d, { status: 'active' });
    expect((await d.client.validate(d.accountKey, d.deviceKey, d.code)).status).toBe(201);
  });

  it('OBD000089: a hub account refuses every endpoint and nothing changes', async () => {
    const d = await pendingDevice();
    await putAccount(d, { kind: 'hub' });
    await unchanged(stack, [d], async () => {
      for (const [, call] of everyEndpoint(d, d.accountKey, d.deviceKey)) expectError(await call(), 'OBD000089');
    });
    await putAccount(d, { kind: 'regular' });
    expect((await d.client.validate(d.accountKey, d.deviceKey, d.code)).status).toBe(201);
  });

  it('OBD000090: create with a CPF that is not an approver of the account; no device, no send', async () => {
    const d = await pendingDevice();
    const sibling = await stack.newAccount(d.client.clientKey);
    const deviceKey = randomUUID();
    await unchanged(stack, [d], async () => {
      // A stranger, and an approver of another account of the same client.
      for (const [cpf, channel] of [
        [newApprover().document_number, 'sms'],
        [sibling.approver.document_number, 'email'],
      ]) {
        const res = await d.client.createDevice(d.accountKey, {
          device_key: deviceKey,
          session_id: randomUUID(),
          tfa_info: { approver_document_number: cpf, contact_type: channel },
        });
        expectError(res, 'OBD000090');
      }
      expectError(await d.client.query(d.accountKey, deviceKey), 'OBD000100');
    });
  });

  it('DTS000001 then OBD000099: wrong tokens count down, the fifth locks the device, then everything is refused', async () => {
    const d = await pendingDevice();
    const wrong = wrongCode(d.code);
    const failed = () => stack.redis.hget(stack.keys.device(d.accountKey, d.deviceKey), 'failed_attempts');
    for (let i = 1; i < MAX_FAILED; i += 1) {
      expectError(await d.client.validate(d.accountKey, d.deviceKey, wrong), 'DTS000001', { attempts_remaining: MAX_FAILED - i });
      expect(await failed()).toBe(String(i));
    }
    expectError(await d.client.validate(d.accountKey, d.deviceKey, wrong), 'OBD000099', { failed_attempts: MAX_FAILED });
    expect(await failed()).toBe(String(MAX_FAILED));

    await unchanged(stack, [d], async () => {
      expectError(await d.client.validate(d.accountKey, d.deviceKey, d.code), 'OBD000099');
      expectError(await d.client.validate(d.accountKey, d.deviceKey, wrong), 'OBD000099');
      expectError(await d.client.resend(d.accountKey, d.deviceKey), 'OBD000099');
      expectError(await d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'email' }), 'OBD000099');
    });
    const view = await d.client.query(d.accountKey, d.deviceKey);
    expect(view.body.device_status).toBe('rejected');
    expect(view.body.status_events.map((e: { new_status: string }) => e.new_status)).toEqual(['pending_2fa_approval', 'rejected']);
  });

  it('DTS000001: the right code of another device is a wrong code here', async () => {
    const d = await pendingDevice();
    let other = await pendingDevice();
    while (other.code === d.code) other = await pendingDevice();
    expectError(await d.client.validate(d.accountKey, d.deviceKey, other.code), 'DTS000001', { attempts_remaining: MAX_FAILED - 1 });
    expect((await d.client.validate(d.accountKey, d.deviceKey, d.code)).status).toBe(201);
  });

  it('OBD000100: an unknown device, a device of another account of the same client, a device of another client', async () => {
    const d = await pendingDevice();
    const sibling = await stack.newAccount(d.client.clientKey);
    const foreign = await pendingDevice();
    const prober: Dev = { ...d, code: foreign.code };
    await unchanged(stack, [d, foreign], async () => {
      for (const [accountKey, deviceKey, who] of [
        [d.accountKey, randomUUID(), d],
        [sibling.accountKey, d.deviceKey, d],
        [d.accountKey, foreign.deviceKey, prober],
      ] as const) {
        for (const [name, call] of everyEndpoint(who, accountKey, deviceKey).filter(([n]) => n !== 'create')) {
          const res = await call();
          expect({ name, status: res.status, body: res.body }).toEqual({ name, status: 404, body: expect.objectContaining({ code: 'OBD000100' }) });
          expectError(res, 'OBD000100');
        }
      }
    });
    expect((await d.client.validate(d.accountKey, d.deviceKey, d.code)).status).toBe(201);
    expect((await foreign.client.validate(foreign.accountKey, foreign.deviceKey, foreign.code)).status).toBe(201);
  });

  it('DTS000002: resend or validate on a created device, validate or resend on a disabled one', async () => {
    const d = await pendingDevice();
    expect((await d.client.validate(d.accountKey, d.deviceKey, d.code)).status).toBe(201);
    await unchanged(stack, [d], async () => {
      expectError(await d.client.resend(d.accountKey, d.deviceKey), 'DTS000002', { device_status: 'created' });
      expectError(await d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'email' }), 'DTS000002', { device_status: 'created' });
      expectError(await d.client.validate(d.accountKey, d.deviceKey, d.code), 'DTS000002', { device_status: 'created' });
    });
    expect((await d.client.disable(d.accountKey, d.deviceKey)).status).toBe(200);
    await unchanged(stack, [d], async () => {
      expectError(await d.client.validate(d.accountKey, d.deviceKey, d.code), 'DTS000002', { device_status: 'disabled' });
      expectError(await d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'sms' }), 'DTS000002', { device_status: 'disabled' });
    });
  });

  it('DTS000002: validate on a pending device that was disabled', async () => {
    const d = await pendingDevice();
    expect((await d.client.disable(d.accountKey, d.deviceKey)).status).toBe(200);
    await unchanged(stack, [d], async () => {
      expectError(await d.client.validate(d.accountKey, d.deviceKey, d.code), 'DTS000002', { device_status: 'disabled' });
    });
  });

  it('DTS000003: a device_key that already exists on the account', async () => {
    const d = await pendingDevice();
    await unchanged(stack, [d], async () => {
      const again = await d.client.createDevice(d.accountKey, {
        device_key: d.deviceKey,
        session_id: randomUUID(),
        tfa_info: { approver_document_number: d.approver.document_number, contact_type: 'email' },
      });
      expectError(again, 'DTS000003');
    });
    expect((await d.client.validate(d.accountKey, d.deviceKey, d.code)).status).toBe(201);
  });

  it('DTS000004: the per-device cap, with Retry-After; the refused request queues nothing', async () => {
    const d = await pendingDevice('sms');
    // Alternating channels: no coalescing, so each request is a send.
    expect((await d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'email' })).status).toBe(202);
    expect((await d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'sms' })).status).toBe(202);
    await deviceSettled(stack, d.deviceKey);
    const delivered = stack.twilio.messages.length + stack.ses.messages.length;
    const res = await unchanged(stack, [d], () => d.client.resend(d.accountKey, d.deviceKey, { contact_type: 'email' }));
    expectError(res, 'DTS000004', { limit: 'per_device', window_seconds: 3600, retry_after_seconds: expect.any(Number) });
    const retryAfter = res.body.extra_fields.retry_after_seconds as number;
    expect(retryAfter).toBeGreaterThan(3600 - 60);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(res.headers.get('retry-after')).toBe(String(retryAfter));
    expect(stack.twilio.messages.length + stack.ses.messages.length).toBe(delivered);
  });

  describe('DTS000005: validate before any token was sent (no worker yet)', () => {
    let quiet: Stack;
    beforeAll(async () => {
      quiet = await Stack.start({ label: 'errors-noworker', startWorker: false, env: { TOKEN_MAX_FAILED_ATTEMPTS: String(MAX_FAILED) } });
    });
    afterAll(async () => {
      await quiet?.stop();
    });

    it('answers DTS000005 without counting attempts; the token works once the worker sends it', async () => {
      const { client, accountKey, deviceKey, approver } = await quiet.newDevice('sms');
      const queued = await client.query(accountKey, deviceKey);
      expect(queued.body.token_dispatch).toMatchObject({ state: 'queued', attempts: 0, provider: null, sent_at: null });
      const d: Dev = { client, accountKey, deviceKey, approver, code: '' };
      await unchanged(quiet, [d], async () => {
        // More tries than the attempt limit: none of them counts.
        for (let i = 0; i <= MAX_FAILED; i += 1) expectError(await client.validate(accountKey, deviceKey, `12345${i}`), 'DTS000005');
      });
      expect(await quiet.redis.hget(quiet.keys.device(accountKey, deviceKey), 'failed_attempts')).toBe('0');

      await quiet.startWorker();
      await deviceSettled(quiet, deviceKey);
      const sms = quiet.twilio.messages.find((m) => m.to === approver.phone_number)!;
      const ok = await client.validate(accountKey, deviceKey, codeIn(sms.body));
      expect(ok.status).toBe(201);
    });
  });

  it('DTS000006: unknown routes, signed or not, and a method a known path does not have', async () => {
    const d = await pendingDevice();
    const dev = `/account/${d.accountKey}/device/${d.deviceKey}`;
    await unchanged(stack, [d], async () => {
      expectError(await http(`${stack.apiUrl}/`, { method: 'GET' }), 'DTS000006');
      expectError(await http(`${stack.apiUrl}/nope`, { method: 'GET' }), 'DTS000006');
      expectError(await http(`${stack.apiUrl}/internal/nope`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }), 'DTS000006');
      expectError(await d.client.send('GET', `/account/${d.accountKey}/device`), 'DTS000006');
      expectError(await d.client.send('PUT', `${dev}/unknown`, { token: d.code }), 'DTS000006');
      expectError(await d.client.send('POST', `${dev}/validate`, { token: d.code }), 'DTS000006');
      expectError(await d.client.send('GET', `${dev}/disable`), 'DTS000006');
      expectError(await d.client.send('DELETE', dev), 'DTS000006');
    });
  });

  it('DTS000007: a body that is not application/json (text, form, xml, none declared)', async () => {
    const d = await pendingDevice();
    const validate = `/account/${d.accountKey}/device/${d.deviceKey}/validate`;
    const create = `/account/${d.accountKey}/device`;
    const json = JSON.stringify({ token: d.code });
    await unchanged(stack, [d], async () => {
      expectError(await d.client.send('PUT', validate, json, { contentType: 'text/plain' }), 'DTS000007');
      expectError(await d.client.send('PUT', validate, `token=${d.code}`, { contentType: 'application/x-www-form-urlencoded' }), 'DTS000007');
      expectError(await d.client.send('PUT', validate, `<token>${d.code}</token>`, { contentType: 'application/xml' }), 'DTS000007');
      expectError(
        await d.client.send('POST', create, JSON.stringify(createBody(d.approver.document_number)), { contentType: 'text/plain; charset=utf-8' }),
        'DTS000007',
      );
      expectError(await sendBytes(d.client, 'PUT', validate, Buffer.from(json)), 'DTS000007');
    });
    expect((await d.client.validate(d.accountKey, d.deviceKey, d.code)).status).toBe(201);
  });

  it(`DTS000008: a body over BODY_LIMIT_BYTES (${BODY_LIMIT}); exactly the limit is still read`, async () => {
    const d = await pendingDevice();
    const padded = (size: number, accountKey: string) => {
      const base = JSON.stringify({ ...createBody(d.approver.document_number), pad: '' });
      const body = JSON.stringify({ ...JSON.parse(base), pad: 'x'.repeat(size - base.length) });
      expect(Buffer.byteLength(body)).toBe(size);
      return d.client.send('POST', `/account/${accountKey}/device`, body);
    };
    await unchanged(stack, [d], async () => {
      // Read and parsed: it gets as far as the account check (an unknown account).
      expectError(await padded(BODY_LIMIT, randomUUID()), 'OBD000002');
      // One byte more, on the real account: refused before anything else.
      expectError(await padded(BODY_LIMIT + 1, d.accountKey), 'DTS000008');
      expectError(await padded(64 * 1024, d.accountKey), 'DTS000008');
      const big = JSON.stringify({ token: d.code, pad: 'x'.repeat(BODY_LIMIT) });
      expectError(await d.client.send('PUT', `/account/${d.accountKey}/device/${d.deviceKey}/validate`, big), 'DTS000008');
    });
    expect((await d.client.validate(d.accountKey, d.deviceKey, d.code)).status).toBe(201);
  });

  it('DTS000009: the admin API without, or with a wrong, bearer token', async () => {
    const d = await pendingDevice();
    const clientKey = randomUUID();
    const clientBody = JSON.stringify({ name: 'intruder', public_key: d.client.publicKeyPem });
    const accountBody = JSON.stringify({ client_key: d.client.clientKey, status: 'blocked', kind: 'regular', approvers: [d.approver] });
    const put = (path: string, body: string, headers: Record<string, string>) =>
      http(`${stack.apiUrl}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body });
    const basic = Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64');
    await unchanged(stack, [d], async () => {
      for (const headers of [
        {},
        { authorization: 'Bearer wrong' },
        { authorization: 'Bearer ' },
        { authorization: `Bearer ${ADMIN_TOKEN}x` },
        { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` },
        { authorization: ADMIN_TOKEN },
        { authorization: `Basic ${basic}` },
        { authorization: `bearer ${ADMIN_TOKEN}` },
        await d.client.headersFor('PUT', `/internal/clients/${clientKey}`, clientBody),
      ]) {
        expectError(await put(`/internal/clients/${clientKey}`, clientBody, headers), 'DTS000009');
        expectError(await put(`/internal/accounts/${d.accountKey}`, accountBody, headers), 'DTS000009');
      }
    });
  });

  it('no request of this file made the api log an unexpected error, and it is still up', () => {
    expect(errorLines(stack.api.output)).toEqual([]);
    expect(stack.api.running).toBe(true);
  });
});
