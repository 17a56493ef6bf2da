/**
 * The token's trust model, tried as an attacker would (contract, "Trust rules
 * (ours)"), against the built api and worker on a real Redis:
 *
 * 1. Knowing the server secret (TOKEN_HASH_SECRET) and everything a client, a
 *    dashboard user (full and read-only) and a log reader can see, the code
 *    cannot be computed: a device approved with a code computed from the
 *    query response is the attack, and it must fail. With a dump of every
 *    Redis key but not the secret, neither. (This stack uses 12-character
 *    codes, so that thousands of candidate codes cannot hit the real one by
 *    chance: the test fails only if a derivation really works.)
 * 2. A dashboard user who pauses the queue, edits a queued job (its account,
 *    its request, its dispatch) or adds a forged one, and resumes it, gets
 *    nothing sent and nothing armed; the send is recorded as refused.
 * 3. Guessing is budgeted per approver: 18 new devices and 90 racing wrong
 *    codes against one approver count 20 (the default budget), the rest are
 *    refused (DTS000013), counted in a metric and logged with the account.
 * 4. SMS only to the configured country calling codes: an approver with a
 *    foreign number is refused at registration; one written earlier gets no
 *    SMS (the worker fails the send without calling Twilio).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { DEFAULT_GUESS_LIMIT_POLICY, TokenCrypto, tokenFromBytes, worstCaseAgainstOneApprover } from '@lib/domain';
import { DirectoryRepository } from '@lib/store';
import { http, type HttpResult } from '../support/api-client';
import { expectError, schemaErrors } from '../support/e2e-checks';
import { Figures } from '../support/figures';
import { DISPATCH_QUEUES, QueueProbe } from '../support/queue-probe';
import { TEST_REDIS_URL, dumpValues } from '../support/redis';
import { ADMIN_TOKEN, Stack, TOKEN_HASH_SECRET, newApprover, type Approver } from '../support/stack';

const CODE_LENGTH = 12;
const FULL_USER = { username: 'ops-trust', password: 'board-full-password-9Wd3' };
const READ_ONLY_USER = { username: 'viewer-trust', password: 'board-readonly-password-2Lp8' };
const basic = (u: { username: string; password: string }) => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;
const codeIn = (text: string, length = CODE_LENGTH) => {
  const m = text.match(new RegExp(`\\b(\\d{${length}})\\b`));
  if (!m) throw new Error('no code in the message');
  return m[1];
};

/** Every string (and number, as text) inside a JSON value, and every word of a text: what a reader of it has. */
function leaves(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof value === 'string') {
    out.add(value);
    for (const word of value.split(/[^A-Za-z0-9_-]+/)) if (word) out.add(word);
    if (/^[[{]/.test(value)) {
      try {
        leaves(JSON.parse(value), out);
      } catch {
        // not JSON after all
      }
    }
  } else if (typeof value === 'number') out.add(String(value));
  else if (Array.isArray(value)) value.forEach((v) => leaves(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => leaves(v, out));
  return out;
}

/**
 * The codes an attacker holding `secret` computes for a dispatch from what
 * they see: the derivation of a code from the dispatch id alone (the design
 * this suite guards against), and today's derivation with each seen value in
 * place of the nonce, the dispatch id first.
 */
function attackerCodes(secret: string, dispatchId: string, seen: Iterable<string>): Set<string> {
  const policy = { alphabet: '0123456789', length: CODE_LENGTH };
  const idOnlyKey = createHmac('sha256', secret).update('device-2fa/token-derive/v1').digest();
  const idOnly = (id: string) => {
    let block = 0;
    return tokenFromBytes(policy, () => createHmac('sha256', idOnlyKey).update(`${id}:${block++}`).digest());
  };
  const crypto = new TokenCrypto(secret, policy);
  const out = new Set<string>([idOnly(dispatchId)]);
  for (const value of seen) {
    if (value === '') continue;
    out.add(idOnly(value));
    out.add(crypto.codeFor(dispatchId, value));
  }
  return out;
}

describe('the token cannot be had without the approver', () => {
  const figures = new Figures('security', __filename);
  let stack: Stack;
  let probe: QueueProbe;
  let directory: DirectoryRepository;

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'trust',
      env: {
        TOKEN_LENGTH: String(CODE_LENGTH),
        RESEND_COALESCE_SECONDS: '0',
        BOARD_USERNAME: FULL_USER.username,
        BOARD_PASSWORD: FULL_USER.password,
        BOARD_READONLY_USERNAME: READ_ONLY_USER.username,
        BOARD_READONLY_PASSWORD: READ_ONLY_USER.password,
      },
    });
    probe = await new QueueProbe(TEST_REDIS_URL, stack.prefix).ready();
    directory = new DirectoryRepository(stack.redis, stack.keys);
  });

  afterAll(async () => {
    figures.write();
    await probe?.close();
    await stack?.stop();
  });

  /** A board API call as the dashboard's own page makes it (same origin, Basic credentials). */
  const board = (path: string, user = FULL_USER, init: RequestInit = {}): Promise<HttpResult> =>
    http(`${stack.apiUrl}/admin/queues${path}`, {
      ...init,
      headers: {
        authorization: basic(user),
        origin: stack.apiUrl,
        'content-type': 'application/json',
        ...(init.headers as Record<string, string> | undefined),
      },
    });

  describe('the code cannot be computed from what anyone outside sees', () => {
    let device: Awaited<ReturnType<Stack['newDevice']>>;
    let dispatchId: string;
    let code: string;
    const seen = new Set<string>();

    beforeAll(async () => {
      device = await stack.newDevice('sms');
      const query = await device.client.query(device.accountKey, device.deviceKey);
      dispatchId = query.body.token_dispatch.dispatch_id;
      expect(await probe.finished(dispatchId)).toBe('completed');
      code = codeIn(stack.twilio.messages.find((m) => m.to === device.approver.phone_number)!.body);

      // What the client sees (after the send), what both dashboard users see of the job, what the logs hold.
      leaves((await device.client.query(device.accountKey, device.deviceKey)).body, seen);
      for (const path of [`/api/queues/${DISPATCH_QUEUES.sms}/${dispatchId}`, `/api/queues?activeQueue=${DISPATCH_QUEUES.sms}&status=completed`]) {
        const full = await board(path);
        expect(full.status).toBe(200);
        leaves(full.body, seen);
        const readOnly = await board(`/readonly${path}`, READ_ONLY_USER);
        expect(readOnly.status).toBe(200);
        leaves(readOnly.body, seen);
      }
      expect(seen.has(dispatchId)).toBe(true);
      stack.output.forEach((line) => leaves(line, seen));
      figures.set('values_seen_outside', seen.size);
    });

    it('with the server secret and every value seen outside, no derivation gives the code', () => {
      const candidates = attackerCodes(TOKEN_HASH_SECRET, dispatchId, seen);
      figures.set('attacker_candidate_codes', candidates.size);
      expect(candidates.has(code)).toBe(false);
    });

    it('the attack itself: validating with the code computed from the query response is refused, and the real code still works', async () => {
      const [computed] = attackerCodes(TOKEN_HASH_SECRET, dispatchId, []);
      const attack = await device.client.validate(device.accountKey, device.deviceKey, computed);
      expectError(attack, 'DTS000001', { attempts_remaining: 4 });
      figures.set('device_approved_by_computed_code', false);
      expect((await device.client.validate(device.accountKey, device.deviceKey, code)).status).toBe(201);
    });

    it('with a dump of every Redis key and value but not the secret, no candidate secret gives the code', async () => {
      const dump = await dumpValues(stack.redis, stack.prefix);
      const values = new Set<string>();
      for (const [key, value] of dump) leaves([key, value], values);
      const nonce = await stack.redis.hget(stack.keys.dispatch(dispatchId), 'code_nonce');
      expect(nonce).toBeTruthy(); // the dump holds the nonce; the secret is what it lacks
      expect(values.has(TOKEN_HASH_SECRET)).toBe(false);
      const secrets = [...values, ADMIN_TOKEN, 'local-token-hash-secret-change-me-0123456789'].filter((v) => v.length >= 8);
      const policy = { alphabet: '0123456789', length: CODE_LENGTH };
      const hits = secrets.filter((secret) => new TokenCrypto(secret, policy).codeFor(dispatchId, nonce!) === code);
      figures.set('candidate_secrets_from_the_dump', secrets.length);
      expect(hits).toEqual([]);
    });
  });

  describe('the worker trusts the store, not the job', () => {
    /** Two active accounts of two clients whose approvers share a CPF, each with its own phone. */
    async function twoAccountsOneCpf() {
      const person = newApprover();
      const a = await stack.newClient();
      const accountA = (await stack.newAccount(a.clientKey, { approvers: [person] })).accountKey;
      const other: Approver = { ...newApprover(), document_number: person.document_number };
      const b = await stack.newClient();
      const accountB = (await stack.newAccount(b.clientKey, { approvers: [other] })).accountKey;
      return { person, a, accountA, other, accountB };
    }

    const pause = async () => expect((await board(`/api/queues/${DISPATCH_QUEUES.sms}/pause`, FULL_USER, { method: 'PUT' })).status).toBe(200);
    const resume = async () => expect((await board(`/api/queues/${DISPATCH_QUEUES.sms}/resume`, FULL_USER, { method: 'PUT' })).status).toBe(200);
    afterEach(async () => {
      await resume();
    });

    it.each([
      [
        'its accountKey set to another account whose approver has the same CPF (the attack)',
        (d: Record<string, unknown>, t: { accountB: string }) => ({ ...d, accountKey: t.accountB }),
      ],
      ['its requestId changed', (d: Record<string, unknown>) => ({ ...d, requestId: randomUUID() })],
      ['its dispatchId changed', (d: Record<string, unknown>) => ({ ...d, dispatchId: randomUUID() })],
      [
        'its data replaced by a channel and a device',
        (d: Record<string, unknown>) => ({ dispatchId: d.dispatchId, requestId: d.requestId, channel: 'email', deviceKey: randomUUID() }),
      ],
    ])('a queued job edited on the dashboard with %s sends nothing, arms nothing, and is recorded as refused', async (_case, edit) => {
      const t = await twoAccountsOneCpf();
      await pause();
      const deviceKey = randomUUID();
      const created = await t.a.createDevice(t.accountA, {
        device_key: deviceKey,
        session_id: randomUUID(),
        tfa_info: { approver_document_number: t.person.document_number, contact_type: 'sms' },
      });
      expect(created.status).toBe(202);
      const dispatchId: string = (await t.a.query(t.accountA, deviceKey)).body.token_dispatch.dispatch_id;
      const job = await board(`/api/queues/${DISPATCH_QUEUES.sms}/${dispatchId}`);
      const data = job.body.job.data as Record<string, unknown>;
      const edited = await board(`/api/queues/${DISPATCH_QUEUES.sms}/${dispatchId}/update-data`, FULL_USER, {
        method: 'PATCH',
        body: JSON.stringify({ jobData: edit(data, t) }),
      });
      expect(edited.status).toBe(200);
      const sentBefore = stack.twilio.requests.length;
      await resume();

      expect(await probe.finished(dispatchId)).toBe('failed');
      expect((await probe.job(dispatchId))?.failedReason).toBe('job_data_mismatch');
      expect(stack.twilio.requests.length).toBe(sentBefore);
      expect(stack.twilio.messages.filter((m) => m.to === t.other.phone_number || m.to === t.person.phone_number)).toEqual([]);
      const q = await t.a.query(t.accountA, deviceKey);
      expect(q.body.token_dispatch).toMatchObject({ state: 'refused', last_error_code: 'job_data_mismatch' });
      expect(await stack.redis.hexists(stack.keys.device(t.accountA, deviceKey), 'token_nonce')).toBe(0);
      // Nothing was armed: there is no code to validate.
      expectError(await t.a.validate(t.accountA, deviceKey, '0'.repeat(CODE_LENGTH)), 'DTS000005');
      figures.add('edited_jobs_refused');
    });

    it('a job added on the dashboard naming a real dispatch sends nothing; the dispatch notes the refusal and its own job still sends', async () => {
      const t = await twoAccountsOneCpf();
      await pause();
      const deviceKey = randomUUID();
      expect(
        (
          await t.a.createDevice(t.accountA, {
            device_key: deviceKey,
            session_id: randomUUID(),
            tfa_info: { approver_document_number: t.person.document_number, contact_type: 'sms' },
          })
        ).status,
      ).toBe(202);
      const dispatch = (await t.a.query(t.accountA, deviceKey)).body.token_dispatch;
      const requestId = (await probe.job(dispatch.dispatch_id))!.data.requestId;
      const added = await board(`/api/queues/${DISPATCH_QUEUES.sms}/add`, FULL_USER, {
        method: 'POST',
        body: JSON.stringify({ name: 'send-token', data: { dispatchId: dispatch.dispatch_id, requestId, accountKey: t.accountB }, options: {} }),
      });
      expect(added.status).toBe(200);
      const forged = (await probe.jobs(['waiting'])).find((j) => j.id !== dispatch.dispatch_id && j.data.dispatchId === dispatch.dispatch_id)!;
      expect(forged).toBeDefined();
      await resume();

      expect(await probe.finished(forged.id!)).toBe('failed');
      expect(await probe.finished(dispatch.dispatch_id)).toBe('completed');
      expect(stack.twilio.messages.filter((m) => m.to === t.other.phone_number)).toEqual([]);
      expect(stack.twilio.messages.filter((m) => m.to === t.person.phone_number)).toHaveLength(1);
      const q = await t.a.query(t.accountA, deviceKey);
      expect(q.body.token_dispatch).toMatchObject({ state: 'sent', refused_jobs: 1 });
      figures.add('forged_jobs_refused');
    });
  });

  it(`budgets guesses per approver: 18 new devices and 90 racing wrong codes on one approver count ${DEFAULT_GUESS_LIMIT_POLICY.perApprover}, the rest get DTS000013`, async () => {
    const client = await stack.newClient();
    const approver = newApprover();
    const { accountKey } = await stack.newAccount(client.clientKey, { approvers: [approver] });
    // Half by SMS, half by e-mail: the per-destination send cap (10 an hour) allows 18 sends to one person.
    const deviceKeys = Array.from({ length: 18 }, () => randomUUID());
    const smsBefore = stack.twilio.messages.length;
    const mailBefore = stack.ses.messages.length;
    for (const [i, deviceKey] of deviceKeys.entries()) {
      const res = await client.createDevice(accountKey, {
        device_key: deviceKey,
        session_id: randomUUID(),
        tfa_info: { approver_document_number: approver.document_number, contact_type: i % 2 ? 'email' : 'sms' },
      });
      expect(res.status).toBe(202);
    }
    await Promise.all([stack.twilio.waitForMessages(smsBefore + 9, 15_000), stack.ses.waitForMessages(mailBefore + 9, 15_000)]);
    const sent = [...stack.twilio.messages.slice(smsBefore), ...stack.ses.messages.slice(mailBefore)].map((m) => codeIn(m.body));
    const wrong = () => {
      for (;;) {
        const guess = String(Math.floor(Math.random() * 10 ** CODE_LENGTH)).padStart(CODE_LENGTH, '0');
        if (!sent.includes(guess)) return guess;
      }
    };
    const started = Date.now();
    const answers = await Promise.all(deviceKeys.flatMap((k) => Array.from({ length: 5 }, () => client.validate(accountKey, k, wrong()))));
    const elapsed = Date.now() - started;
    const byCode = new Map<string, number>();
    for (const a of answers) byCode.set(a.body.code, (byCode.get(a.body.code) ?? 0) + 1);
    const counted = (byCode.get('DTS000001') ?? 0) + (byCode.get('OBD000099') ?? 0);
    expect(counted).toBe(DEFAULT_GUESS_LIMIT_POLICY.perApprover);
    expect(byCode.get('DTS000013')).toBe(90 - DEFAULT_GUESS_LIMIT_POLICY.perApprover);
    const refused = answers.find((a) => a.body.code === 'DTS000013')!;
    expect(refused.status).toBe(429);
    expect(refused.body.extra_fields).toEqual({ limit: 'failed_validations_per_approver', window_seconds: 86_400, retry_after_seconds: expect.any(Number) });
    expect(refused.headers.get('retry-after')).toBe(String(refused.body.extra_fields.retry_after_seconds));

    // Counted in a metric, logged as a warning with the account, never with a code.
    const metrics = await http(`${stack.apiUrl}/metrics`, {});
    expect(metrics.text).toMatch(
      new RegExp(`device2fa_guess_limit_rejections_total\\{limit="per_approver"\\} ${90 - DEFAULT_GUESS_LIMIT_POLICY.perApprover}\\b`),
    );
    const budgetLines = () => stack.api.output.filter((l) => l.includes(accountKey) && l.includes('budget'));
    // Log lines are written in blocks, at least every 100 ms: wait (boundedly) for the last block.
    for (let waited = 0; budgetLines().length < 90 - DEFAULT_GUESS_LIMIT_POLICY.perApprover && waited < 2_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const warnings = budgetLines();
    expect(warnings.length).toBe(90 - DEFAULT_GUESS_LIMIT_POLICY.perApprover);
    expect(warnings.every((l) => /"level":"warn"/.test(l) && !sent.some((c) => l.includes(c)))).toBe(true);

    const worst = worstCaseAgainstOneApprover(DEFAULT_GUESS_LIMIT_POLICY, 10, 6);
    figures.set('guess_budget_burst', { devices: 18, guesses: 90, counted, refused_DTS000013: byCode.get('DTS000013') ?? 0, ms: elapsed });
    figures.set('worst_case_guesses_per_approver_per_day', worst.guessesPerDay);
    figures.set('expected_years_to_hit_a_6_digit_code', Math.round(worst.expectedDaysToHit / 365));
  }, 60_000);

  describe('SMS only to the allowed country calling codes (default 55)', () => {
    it('refuses an approver with a foreign number at registration, naming the field, and stores nothing', async () => {
      const client = await stack.newClient();
      const accountKey = randomUUID();
      const res = await stack.admin.put(`/internal/accounts/${accountKey}`, {
        client_key: client.clientKey,
        status: 'active',
        kind: 'regular',
        approvers: [newApprover(), { ...newApprover(), phone_number: '+447700900123' }],
      });
      expectError(res, 'QIT000001', schemaErrors(['approvers.1.phone_number', 'must be a number in an allowed country calling code (+55)']));
      expect(await stack.redis.exists(stack.keys.account(accountKey))).toBe(0);
    });

    it('sends no SMS to a foreign number written before the rule: the send fails for good without calling Twilio', async () => {
      const client = await stack.newClient();
      const accountKey = randomUUID();
      const approver = { ...newApprover(), phone_number: '+2348012345678' };
      await directory.putAccount({ accountKey, clientKey: client.clientKey, status: 'active', kind: 'regular', approvers: [approver] });
      const deviceKey = randomUUID();
      const requestsBefore = stack.twilio.requests.length;
      const res = await client.createDevice(accountKey, {
        device_key: deviceKey,
        session_id: randomUUID(),
        tfa_info: { approver_document_number: approver.document_number, contact_type: 'sms' },
      });
      expect(res.status).toBe(202);
      const dispatchId = (await client.query(accountKey, deviceKey)).body.token_dispatch.dispatch_id;
      expect(await probe.finished(dispatchId)).toBe('failed');
      expect(stack.twilio.requests.length).toBe(requestsBefore);
      expect((await client.query(accountKey, deviceKey)).body.token_dispatch).toMatchObject({ state: 'failed', last_error_code: 'country_not_allowed' });
    });
  });
});
