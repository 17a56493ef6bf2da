/**
 * The final secrets scan, after a full mix of flows on one stack: SMS and
 * e-mail creates, resends across channels (one coalesced), right and wrong
 * validations, a device locked by wrong codes, a send cap hit, a disable;
 * provider faults whose error texts quote the recipient (permanent, 5xx,
 * reset, timeout, 429), a provider down for the whole retry window whose
 * failed job is retried from the dashboard's API, a worker SIGKILLed in the
 * middle of a send and its job resumed by another; Twilio delivery receipts
 * (signed, and forged) carrying the phone number; schema errors whose
 * bodies carry contact data; admin calls registering contact data; wrong
 * credentials that are other secrets; the dashboard and /metrics.
 *
 * Then everything is read: every Redis key and value under the stack's
 * prefix (all types), every job in every state (data, return value, failed
 * reason, stack traces, logs), and every line the api and all the workers
 * printed. None may hold a code that was sent, a secret (tokens, keys,
 * passwords, private keys, signatures) or a full phone number or e-mail,
 * except that an approver's contact data lives in their account's directory
 * record, where the operator put it and the worker reads it. Job payloads
 * are identifiers, the channel and the request id.
 *
 * (test/e2e/secrets.e2e-spec.ts runs the same scan after a shorter script.)
 */
import { randomUUID } from 'node:crypto';
import { twilioSignature } from '../support/twilio-signature';
import { FAKE_TWILIO_ACCOUNT_SID, FAKE_TWILIO_AUTH_TOKEN, sesError, twilioError, type RecordedRequest } from '../fakes';
import { http } from '../support/api-client';
import { coalesceKey, keyExpired, pendingDevice, wrongCode, type PendingDevice } from '../support/e2e-checks';
import { Figures } from '../support/figures';
import { DISPATCH_QUEUES, QueueProbe } from '../support/queue-probe';
import { TEST_REDIS_URL, dumpValues } from '../support/redis';
import { ADMIN_TOKEN, Stack, TOKEN_HASH_SECRET, codeIn, newApprover, type Approver } from '../support/stack';

const AWS_SECRET = 'sec-aws-secret-access-key-Qp9Wo8Ei7Ru6Ty5';
const METRICS_TOKEN = 'sec-scan-metrics-token-0123456789';
const BOARD_PASSWORD = 'sec-scan-board-password-0123456789';
const CALLBACK_URL = 'https://tokens.example.com/webhooks/twilio/status';

/** `value` as a whole token: not inside a longer run of letters or digits (timestamps, hex ids). */
function containsToken(haystack: string, value: string): boolean {
  return new RegExp(`(?<![0-9A-Za-z])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![0-9A-Za-z])`).test(haystack);
}

const requestText = (r: RecordedRequest): string => {
  const body = r.body as Record<string, any> | undefined;
  return String(body?.Body ?? body?.Content?.Simple?.Body?.Text?.Data ?? '');
};

describe('secrets at rest and in transit inside the system, after a full mix of flows', () => {
  const figures = new Figures('security', __filename);
  let stack: Stack;
  let probe: QueueProbe;
  const devices: PendingDevice[] = [];
  const approvers: Approver[] = [];
  const jwts: string[] = [];
  const privateKeys: string[] = [];
  let codes: string[] = [];
  let dump: Map<string, string>;
  let jobsText: { id: string; text: string }[] = [];
  let logs: string[] = [];

  /** Every dispatch of a device, finished (completed or failed). */
  async function settle(d: { client: PendingDevice['client']; accountKey: string; deviceKey: string }): Promise<string> {
    const id = (await d.client.query(d.accountKey, d.deviceKey)).body.token_dispatch.dispatch_id as string;
    return probe.finished(id, 30_000);
  }

  async function track(d: PendingDevice): Promise<PendingDevice> {
    devices.push(d);
    approvers.push(d.approver);
    privateKeys.push(String(d.client.privateKey));
    return d;
  }

  /** Signs through the client, remembering the JWT it sent. */
  async function signed(d: PendingDevice, method: string, path: string, body?: string) {
    const headers = await d.client.headersFor(method, path, body);
    jwts.push(headers.AUTHORIZATION);
    return http(stack.apiUrl + path, { method, headers, body });
  }

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'scan',
      env: {
        AWS_SECRET_ACCESS_KEY: AWS_SECRET,
        METRICS_TOKEN,
        BOARD_USERNAME: 'ops',
        BOARD_PASSWORD,
        TWILIO_STATUS_CALLBACK_URL: CALLBACK_URL,
        RESEND_COALESCE_SECONDS: '1',
        SEND_LIMIT_PER_DEVICE: '3',
        DISPATCH_ATTEMPTS: '4',
        PROVIDER_TIMEOUT_MS: '500',
        WORKER_LOCK_DURATION_MS: '2000',
        WORKER_STALLED_INTERVAL_MS: '1000',
      },
    });
    probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
    const base = (d: PendingDevice) => `/account/${d.accountKey}/device/${d.deviceKey}`;

    // 1. SMS create (the upstream ES512 scheme), resend by e-mail, a wrong then the right code.
    const a = await track(await pendingDevice(stack, 'sms', 'p521'));
    expect((await signed(a, 'PATCH', `${base(a)}/resend_token`, JSON.stringify({ contact_type: 'email' }))).status).toBe(202);
    await settle(a);
    const mailA = codeIn(stack.ses.messages.find((m) => m.to.includes(a.approver.email))!.body);
    expect((await signed(a, 'PUT', `${base(a)}/validate`, JSON.stringify({ token: wrongCode(mailA) }))).status).toBe(400);
    expect((await signed(a, 'PUT', `${base(a)}/validate`, JSON.stringify({ token: mailA }))).status).toBe(201);

    // 2. E-mail create, two resends inside the coalescing window (one send), then by SMS; registered, then disabled.
    const b = await track(await pendingDevice(stack, 'email', 'ed25519'));
    await keyExpired(stack, coalesceKey(stack, b)); // out of the creation's 1 s window
    const [r1, r2] = await Promise.all([
      signed(b, 'PATCH', `${base(b)}/resend_token`),
      signed(b, 'PATCH', `${base(b)}/resend_token`, JSON.stringify({ contact_type: 'email' })),
    ]);
    expect([r1.status, r2.status]).toEqual([202, 202]);
    await settle(b);
    expect((await signed(b, 'PATCH', `${base(b)}/resend_token`, JSON.stringify({ contact_type: 'sms' }))).status).toBe(202);
    await settle(b);
    const smsB = codeIn(stack.twilio.messages.filter((m) => m.to === b.approver.phone_number).pop()!.body);
    expect((await signed(b, 'PUT', `${base(b)}/validate`, JSON.stringify({ token: smsB }))).status).toBe(201);
    expect((await signed(b, 'DELETE', `${base(b)}/disable`)).status).toBe(200);

    // 3. Provider faults quoting the recipient: Twilio refuses the number for good; SES fails once, then delivers.
    const c = await stack.newDevice('sms', 'p256', (ap) =>
      stack.twilio.failNext(1, twilioError(400, 21211, `The 'To' number ${ap.phone_number} is not a valid phone number.`)),
    );
    await track({ ...c, code: '' });
    expect(await settle(c)).toBe('failed');
    const d = await stack.newDevice('email', 'p256', (ap) =>
      stack.ses.failNext(1, sesError(500, 'InternalFailure', `Internal failure sending to ${ap.email}`)),
    );
    await track({ ...d, code: '' });
    expect(await settle(d)).toBe('completed');

    // 4. Reset connection, a hang (timeout), a 429 with Retry-After, then delivered.
    const e = await stack.newDevice('sms', 'p256', () => stack.twilio.resetNext(1).hangNext(1).rateLimitNext(1, 1));
    await track({ ...e, code: '' });
    expect(await settle(e)).toBe('completed');
    expect(stack.twilio.requests.filter((r) => (r.body as Record<string, string>).To === e.approver.phone_number)).toHaveLength(4);

    // 5. Twilio down for the whole retry window, quoting the number; retried from the dashboard's API once it is back.
    const f = await stack.newDevice('sms', 'p256', (ap) => stack.twilio.failNext(4, twilioError(503, 20503, `Service unavailable for ${ap.phone_number}`)));
    await track({ ...f, code: '' });
    expect(await settle(f)).toBe('failed');
    const fJob = (await f.client.query(f.accountKey, f.deviceKey)).body.token_dispatch.dispatch_id as string;
    // As the board's own page sends it: a change needs a same-origin Origin.
    const retry = await http(`${stack.apiUrl}/admin/queues/api/queues/${DISPATCH_QUEUES.sms}/${fJob}/retry`, {
      method: 'PUT',
      headers: { authorization: `Basic ${Buffer.from(`ops:${BOARD_PASSWORD}`).toString('base64')}`, origin: stack.apiUrl },
    });
    if (retry.status !== 204) await (await probe.job(fJob))!.retry('failed'); // no dashboard in this tree: what its button calls
    expect(await settle(f)).toBe('completed');

    // 6. A device locked by five wrong codes; its resend refused; a send cap hit on another.
    const g = await track(await pendingDevice(stack, 'sms'));
    for (let i = 0; i < 5; i += 1) await signed(g, 'PUT', `${base(g)}/validate`, JSON.stringify({ token: wrongCode(g.code) }));
    expect((await signed(g, 'PATCH', `${base(g)}/resend_token`, JSON.stringify({ contact_type: 'email' }))).body.code).toBe('OBD000099');
    const h = await track(await pendingDevice(stack, 'email'));
    for (const channel of ['sms', 'email', 'sms']) await signed(h, 'PATCH', `${base(h)}/resend_token`, JSON.stringify({ contact_type: channel }));
    await settle(h);
    // (The last queued send was by e-mail: an SMS request is not coalesced with it, so the cap answers.)
    expect((await signed(h, 'PATCH', `${base(h)}/resend_token`, JSON.stringify({ contact_type: 'sms' }))).body.code).toBe('DTS000004');

    // 7. A worker killed while a send is in flight; another resumes the job (same code).
    const i = await track(await pendingDevice(stack, 'sms'));
    await keyExpired(stack, coalesceKey(stack, i));
    stack.twilio.delay(300);
    expect((await signed(i, 'PATCH', `${base(i)}/resend_token`, JSON.stringify({ contact_type: 'sms' }))).status).toBe(202);
    // The fake announces accepted messages only; its requests are polled, briefly and boundedly.
    for (let waited = 0; stack.twilio.requests.filter((r) => (r.body as Record<string, string>).To === i.approver.phone_number).length < 2; waited += 5) {
      if (waited > 10_000) throw new Error('the resend never reached the provider');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    stack.worker!.child.kill('SIGKILL');
    await stack.worker!.stop();
    stack.twilio.delay(0);
    await stack.startWorker();
    expect(await settle(i)).toBe('completed');

    // 8. Delivery receipts carrying the phone number: one signed by "Twilio", one forged.
    const smsSid = stack.twilio.messages.find((m) => m.to === a.approver.phone_number)!.sid;
    const fields = {
      AccountSid: FAKE_TWILIO_ACCOUNT_SID,
      MessageSid: smsSid,
      MessageStatus: 'delivered',
      To: a.approver.phone_number,
      From: '+15005550006',
      ApiVersion: '2010-04-01',
    };
    const post = (signature: string) =>
      http(`${stack.apiUrl}/webhooks/twilio/status`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(fields).toString(),
      });
    expect((await post(twilioSignature(FAKE_TWILIO_AUTH_TOKEN, CALLBACK_URL, fields))).status).toBe(204);
    expect((await post('Zm9yZ2VkIHNpZ25hdHVyZQ==')).status).toBe(403);

    // 9. Schema errors whose bodies carry contact data, CPFs and a code; invalid UTF-8.
    const stranger = newApprover();
    approvers.push(stranger);
    expect(
      (
        await signed(
          g,
          'POST',
          `/account/${g.accountKey}/device`,
          JSON.stringify({
            device_key: stranger.email,
            session_id: stranger.phone_number,
            tfa_info: { approver_document_number: stranger.document_number, contact_type: g.code },
          }),
        )
      ).status,
    ).toBe(400);
    const bad = Buffer.concat([Buffer.from(`{"token":"${g.code}","to":"${stranger.phone_number}`), Buffer.from([0xff]), Buffer.from('"}')]);
    const badHeaders = await g.client.headersFor('PUT', `${base(g)}/validate`, bad.toString('latin1'));
    expect((await http(stack.apiUrl + `${base(g)}/validate`, { method: 'PUT', headers: badHeaders, body: bad })).status).toBe(400);

    // 10. Credentials that are other secrets, on every surface; the right ones on the admin API, dashboard and metrics.
    for (const secret of [ADMIN_TOKEN, TOKEN_HASH_SECRET, METRICS_TOKEN, BOARD_PASSWORD, AWS_SECRET]) {
      await http(`${stack.apiUrl}${base(g)}`, { method: 'GET', headers: { 'API-CLIENT-KEY': g.client.clientKey, AUTHORIZATION: secret } });
      await http(`${stack.apiUrl}/internal/clients/${randomUUID()}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${secret}x`, 'content-type': 'application/json' },
        body: '{}',
      });
      await http(`${stack.apiUrl}/admin/queues/api/queues`, { headers: { authorization: `Basic ${Buffer.from(`ops:${secret}x`).toString('base64')}` } });
      await http(`${stack.apiUrl}/metrics`, { headers: { authorization: `Bearer ${secret}x` } });
    }
    const extra = newApprover();
    approvers.push(extra);
    expect(
      (
        await stack.admin.put(`/internal/accounts/${g.accountKey}`, {
          client_key: g.client.clientKey,
          status: 'active',
          kind: 'regular',
          approvers: [g.approver, extra],
        })
      ).status,
    ).toBe(200);
    await http(`${stack.apiUrl}/admin/queues/api/queues?activeQueue=${DISPATCH_QUEUES.sms}&status=failed`, {
      headers: { authorization: `Basic ${Buffer.from(`ops:${BOARD_PASSWORD}`).toString('base64')}` },
    });
    expect((await http(`${stack.apiUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
    expect((await http(`${stack.workerUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);

    // Everything any provider was asked to deliver, delivered or not.
    codes = [...new Set([...stack.twilio.requests, ...stack.ses.requests].map((r) => codeIn(requestText(r))))];
    dump = await dumpValues(stack.redis, stack.prefix);
    const jobs = await probe.jobs(['completed', 'failed', 'active', 'wait', 'delayed', 'prioritized']);
    jobsText = await Promise.all(
      jobs.map(async (j) => ({
        id: j.id!,
        text: JSON.stringify({ job: j.asJSON(), stacktrace: j.stacktrace, logs: await probe.logs(j.id!) }),
      })),
    );
    logs = stack.output;
  }, 120_000);

  afterAll(async () => {
    figures.write();
    await probe?.close();
    await stack?.stop();
  });

  const secrets = () => [
    ['ADMIN_TOKEN', ADMIN_TOKEN],
    ['TOKEN_HASH_SECRET', TOKEN_HASH_SECRET],
    ['TWILIO_AUTH_TOKEN', FAKE_TWILIO_AUTH_TOKEN],
    ['AWS_SECRET_ACCESS_KEY', AWS_SECRET],
    ['METRICS_TOKEN', METRICS_TOKEN],
    ['BOARD_PASSWORD', BOARD_PASSWORD],
    // A private key's body and every JWT (and its signature alone) that was sent.
    ...privateKeys.map((pem, n) => [`private key ${n}`, pem.split('\n')[1]] as [string, string]),
    ...jwts.flatMap(
      (jwt, n) =>
        [
          [`jwt ${n}`, jwt],
          [`jwt signature ${n}`, jwt.split('.')[2]],
        ] as [string, string][],
    ),
  ];
  const contacts = () => approvers.flatMap((ap) => [ap.phone_number, ap.phone_number.slice(1), ap.email, ap.email.toLowerCase()]);

  it('ran the flows it claims', () => {
    expect(codes.length).toBeGreaterThanOrEqual(15);
    const all = [...dump.values()].join('\n');
    for (const marker of ['twilio_21211', 'ses_InternalFailure', 'twilio_20429', 'http_503', 'rejected', 'disabled', 'delivered'])
      expect({ marker, found: all.includes(marker) }).toEqual({ marker, found: true });
    expect(jobsText.length).toBeGreaterThanOrEqual(devices.length + 5);
    expect(stack.workers.length).toBe(2);
    figures.set('flows', {
      devices: devices.length,
      codes_sent: codes.length,
      provider_requests: stack.twilio.requests.length + stack.ses.requests.length,
      jwts_sent: jwts.length,
    });
    figures.set('scanned', {
      redis_keys: dump.size,
      redis_bytes: [...dump].reduce((n, [k, v]) => n + k.length + v.length, 0),
      jobs: jobsText.length,
      log_lines: logs.length,
    });
  });

  it('no code that was sent, anywhere: Redis keys and values, jobs, logs', () => {
    const leaks = [
      ...[...dump].flatMap(([k, v]) => codes.filter((c) => containsToken(k, c) || containsToken(v, c)).map(() => `redis ${k}`)),
      ...jobsText.flatMap((j) => codes.filter((c) => containsToken(j.text, c)).map(() => `job ${j.id}`)),
      ...logs.flatMap((l, n) => codes.filter((c) => containsToken(l, c)).map(() => `log line ${n}`)),
    ];
    figures.set('code_leaks', leaks.length);
    expect(leaks).toEqual([]);
  });

  it('no secret, private key, JWT or signature, anywhere', () => {
    const leaks = secrets().flatMap(([name, s]) => [
      ...[...dump].filter(([k, v]) => k.includes(s) || v.includes(s)).map(([k]) => `${name} in redis ${k}`),
      ...jobsText.filter((j) => j.text.includes(s)).map((j) => `${name} in job ${j.id}`),
      ...(logs.some((l) => l.includes(s)) ? [`${name} in the logs`] : []),
    ]);
    figures.set('secrets_checked', secrets().length);
    figures.set('secret_leaks', leaks.length);
    expect(leaks).toEqual([]);
  });

  it("phone numbers and e-mails only in their account's directory record; never in a job or a log line; CPFs never in a log", () => {
    const outside: string[] = [];
    for (const contact of contacts()) {
      const holders = [...dump].filter(([k, v]) => k.includes(contact) || v.includes(contact)).map(([k]) => k);
      outside.push(...holders.filter((k) => !/:account:[0-9a-f-]{36}$/.test(k)).map((k) => `${contact} in redis ${k}`));
      outside.push(...jobsText.filter((j) => j.text.includes(contact)).map((j) => `${contact} in job ${j.id}`));
      if (logs.some((l) => l.includes(contact))) outside.push(`${contact} in the logs`);
    }
    for (const ap of approvers) if (logs.some((l) => containsToken(l, ap.document_number))) outside.push(`CPF ${ap.document_number.slice(0, 3)}… in the logs`);
    figures.set('contacts_checked', contacts().length);
    figures.set('contact_leaks', outside.length);
    expect(outside).toEqual([]);
  });

  it('every job payload names its dispatch (its own id) and the request, nothing else: no nonce, no channel, no account', () => {
    for (const j of jobsText) {
      const job = JSON.parse(j.text).job;
      const payload = typeof job.data === 'string' ? JSON.parse(job.data) : job.data;
      expect(Object.keys(payload).sort()).toEqual(['dispatchId', 'requestId']);
      expect(payload.dispatchId).toBe(job.id);
    }
  });
});
