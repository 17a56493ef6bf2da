/**
 * The clients tier's suite, run once per independent library (one spec file
 * each): for every key kind the library can sign with, the whole device flow
 * signed the way that library's users write it, then every way real upstream
 * clients sign a request (contract, "Authentication"), each accepted or
 * refused as the contract says, against the built api and worker. Setup
 * (client, accounts) goes through the admin API; codes are read from what
 * the fake Twilio received. Each variant's outcome is a figure, printed when
 * the file ends and written to test/artifacts/clients/.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { CATALOG, envelope, expectError, wrongCode, type EnvelopeValues } from '../support/e2e-checks';
import { Figures } from '../support/figures';
import { Stack, codeIn, type Approver } from '../support/stack';
import {
  ALG,
  LibraryRefusal,
  PROFILES,
  UpstreamClient,
  newKeyPair,
  type KeyKind,
  type Library,
  type PayloadMd5,
  type Sent,
  type Signing,
} from './upstream-clients';

/** AUTH_MAX_CLOCK_SKEW_SECONDS's default is 300: ten minutes is outside the window whatever the machine's clock drift. */
const STALE_SECONDS = 600;

const BODILESS: [form: PayloadMd5, name: string][] = [
  ['braces', 'payload_md5 = md5("{}")'],
  ['empty', 'payload_md5 = md5("")'],
  ['omitted', 'no payload_md5 claim'],
];

/** What the contract expects of one request: a success status, or an error in the envelope (compared in full). */
type Expected = { status: number } | { code: string; extra_fields?: Record<string, unknown>; values?: EnvelopeValues };

const ACCEPTED: Expected = { status: 200 };
const refusedFor = (reason: string): Expected => ({ code: 'GDF000014', extra_fields: { reason } });

/** An answer or an expectation as a figure shows it: `accepted (200)`, or `refused (401 GDF000014 'reason')`. */
const summary = (status: number, code?: string, reason?: unknown) =>
  status < 400 ? `accepted (${status})` : `refused (${status} ${code ?? '?'}${typeof reason === 'string' ? ` '${reason}'` : ''})`;
const expectedSummary = (e: Expected) => ('code' in e ? summary(CATALOG[e.code].status, e.code, e.extra_fields?.reason) : summary(e.status));

/** Whether an answer is exactly what was expected: the status, and for an error the whole envelope. */
function meets(r: Sent, e: Expected): boolean {
  if (!('code' in e)) return r.status === e.status;
  const want = { status: CATALOG[e.code].status, contentType: 'application/json; charset=utf-8', body: envelope(e.code, e.extra_fields, e.values) };
  return isDeepStrictEqual({ status: r.status, contentType: r.headers.get('content-type'), body: r.body }, want);
}

export interface LibraryCoverage {
  /** The key kinds the library signs with: each gets the flow and every variant. */
  supported: KeyKind[];
  /** The key kinds it cannot sign with, and its own words for that (checked, so a new version that can is noticed). */
  unsupported: Partial<Record<KeyKind, RegExp>>;
  /** The versions of the library and its runtime, for the figures. */
  versions: () => Promise<Record<string, string>>;
}

export function describeClientLibrary(specFile: string, library: Library, coverage: LibraryCoverage): void {
  const profile = PROFILES[library];

  describe(`${profile.name}, an independent client, against the built service`, () => {
    const figures = new Figures('clients', specFile);
    let stack: Stack;
    let variants = 0;
    let asExpected = 0;

    beforeAll(async () => {
      // Resends right after a create must send (no coalescing); every client's approver gets several codes within the hour.
      stack = await Stack.start({ label: `clients-${library}`, env: { RESEND_COALESCE_SECONDS: '0', SEND_LIMIT_PER_DESTINATION: '50' } });
      figures.set('versions', await coverage.versions());
      figures.set('flow_style', profile.style.source);
    });

    afterAll(async () => {
      figures.set('variants', variants);
      figures.set('as_expected', asExpected);
      figures.write();
      await stack?.stop();
    });

    /**
     * Records the variant's figure (each answer, and whether it is what the
     * contract expects), then asserts it: each status, and each error
     * envelope in full.
     */
    function expectOutcomes(client: UpstreamClient, variant: string, sent: Sent[], expected: Expected[]): void {
      const ok = sent.length === expected.length && sent.every((r, i) => meets(r, expected[i]));
      const seen = sent.map((r, i) => {
        const text = summary(r.status, r.body?.code, r.body?.extra_fields?.reason);
        return expected[i] && !meets(r, expected[i]) && text === expectedSummary(expected[i]) ? `${text} in an envelope other than the contract's` : text;
      });
      variants += 1;
      if (ok) asExpected += 1;
      figures.set(
        `${client.label} | ${variant}`,
        `${seen.join(', then ')}${ok ? ', as expected' : `; EXPECTED ${expected.map(expectedSummary).join(', then ')}`}`,
      );

      expect(sent.map((r) => r.status)).toEqual(expected.map((e) => ('code' in e ? CATALOG[e.code].status : e.status)));
      sent.forEach((r, i) => {
        const e = expected[i];
        if ('code' in e) expectError(r, e.code, e.extra_fields, e.values);
      });
    }

    /** The `n`th code (1-based) the fake Twilio received for `phone`. */
    function nthCode(phone: string, n: number, timeoutMs = 10_000): Promise<string> {
      const code = () => {
        const to = stack.twilio.messages.filter((m) => m.to === phone);
        return to.length >= n ? codeIn(to[n - 1].body) : undefined;
      };
      return new Promise((resolve, reject) => {
        const now = code();
        if (now !== undefined) return resolve(now);
        const timer = setTimeout(() => {
          off();
          reject(new Error(`no SMS #${n} to ${phone} after ${timeoutMs} ms`));
        }, timeoutMs);
        const off = stack.twilio.onMessage(() => {
          const c = code();
          if (c === undefined) return;
          clearTimeout(timer);
          off();
          resolve(c);
        });
      });
    }

    const devicePath = (accountKey: string, deviceKey: string) => `/account/${accountKey}/device/${deviceKey}`;
    const createBody = (deviceKey: string, approver: Approver) => ({
      device_key: deviceKey,
      session_id: randomUUID(),
      tfa_info: { approver_document_number: approver.document_number, contact_type: 'sms' },
    });

    /**
     * What the variants sign with unless they change it: UTC with a fraction
     * and Z, md5("{}") without a body. Each variant changes one thing, so it
     * fails for its own reason on a server that gets that thing wrong.
     */
    const baseline = (change: Signing = {}): Signing => ({ timestamp: profile.zonedForm, payloadMd5: 'braces', ...change });

    /** A device created by this client (202), waiting for its code; signed with the baseline timestamp, so the variants' setup does not depend on the flow's style. */
    async function createdBy(client: UpstreamClient, accountKey: string, approver: Approver): Promise<string> {
      const deviceKey = randomUUID();
      const [res] = await client.send('POST', `/account/${accountKey}/device`, createBody(deviceKey, approver), { timestamp: profile.zonedForm });
      expect([res.status, res.body?.device_status]).toEqual([202, 'pending_2fa_approval']);
      return deviceKey;
    }

    /** Resolves early in a second, so that requests signed now with whole-second timestamps share one. A clock alignment, not a wait for an event. */
    async function earlyInASecond(): Promise<void> {
      const ms = Date.now() % 1000;
      if (ms > 500) await new Promise((resolve) => setTimeout(resolve, 1000 - ms + 5));
    }

    describe.each(coverage.supported.map((kind) => [kind, ALG[kind]] as const))('a %s key (%s)', (kind, alg) => {
      let client: UpstreamClient;
      let accountKey: string;
      let approver: Approver;
      /** A pending device that the reads and the refused resends aim at. */
      let probe: string;
      /** A pending device only the same-second and copy variants read, so their claims meet no other request's. */
      let polled: string;

      beforeAll(async () => {
        const keys = newKeyPair(kind);
        const apiClientKey = randomUUID();
        const res = await stack.admin.put(`/internal/clients/${apiClientKey}`, { name: `${profile.name} ${alg}`, public_key: keys.publicKeyPem });
        expect(res.status).toBe(200);
        client = new UpstreamClient(library, kind, stack.apiUrl, apiClientKey, keys);
        ({ accountKey, approver } = await stack.newAccount(apiClientKey));
        probe = await createdBy(client, accountKey, approver);
        polled = await createdBy(client, accountKey, approver);
      });

      it(`the full flow, signed as ${profile.style.source}: create, wrong and right code, query, resend on a created device, disable; a fresh device resent and validated`, async () => {
        figures.set(`${client.label} | full flow`, 'failed');
        const flow = await stack.newAccount(client.apiClientKey);
        const phone = flow.approver.phone_number;
        const seen: Sent[] = [];
        const send = async (method: string, path: string, body?: unknown) => {
          const [res] = await client.send(method, path, body);
          seen.push(res);
          return res;
        };

        const deviceKey = randomUUID();
        const path = devicePath(flow.accountKey, deviceKey);
        const created = await send('POST', `/account/${flow.accountKey}/device`, createBody(deviceKey, flow.approver));
        expect([created.status, created.body]).toEqual([202, { device_key: deviceKey, device_status: 'pending_2fa_approval', created_at: expect.any(String) }]);
        const code = await nthCode(phone, 1);
        expectError(await send('PUT', `${path}/validate`, { token: wrongCode(code) }), 'DTS000001', { attempts_remaining: 4 });
        const validated = await send('PUT', `${path}/validate`, { token: code });
        expect([validated.status, validated.body]).toEqual([201, { device_key: deviceKey, device_status: 'created', created_at: created.body.created_at }]);
        const query = await send('GET', path);
        expect(query.status).toBe(200);
        expect(query.body).toMatchObject({ device_key: deviceKey, device_status: 'created', contact_type: 'sms' });
        expectError(await send('PATCH', `${path}/resend_token`), 'DTS000002', { device_status: 'created' });
        const disabled = await send('DELETE', `${path}/disable`);
        expect([disabled.status, disabled.body]).toEqual([200, { device_key: deviceKey, device_status: 'disabled', created_at: created.body.created_at }]);

        const fresh = randomUUID();
        const freshPath = devicePath(flow.accountKey, fresh);
        expect((await send('POST', `/account/${flow.accountKey}/device`, createBody(fresh, flow.approver))).status).toBe(202);
        await nthCode(phone, 2);
        const resent = await send('PATCH', `${freshPath}/resend_token`, { contact_type: 'sms' });
        expect([resent.status, resent.body?.device_status]).toEqual([202, 'pending_2fa_approval']);
        const newCode = await nthCode(phone, 3);
        const approved = await send('PUT', `${freshPath}/validate`, { token: newCode });
        expect([approved.status, approved.body?.device_status]).toEqual([201, 'created']);

        figures.set(`${client.label} | full flow`, `passed (${seen.map((r) => (r.status < 400 ? r.status : `${r.status} ${r.body?.code}`)).join(', ')})`);
      });

      it.each(Object.entries(profile.timestampForms))('timestamp %s (%s): accepted', async (form, code) => {
        const sent = await client.send('GET', devicePath(accountKey, probe), undefined, baseline({ timestamp: form }));
        expectOutcomes(client, `timestamp ${code}`, sent, [ACCEPTED]);
        expect(sent[0].body?.device_key).toBe(probe);
      });

      it(`a timestamp ${STALE_SECONDS} s old, written without a zone: refused`, async () => {
        const sent = await client.send(
          'GET',
          devicePath(accountKey, probe),
          undefined,
          baseline({ timestamp: profile.secondsForm, ageSeconds: STALE_SECONDS }),
        );
        expect(sent[0].claims.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
        expectOutcomes(client, `timestamp ${profile.timestampForms[profile.secondsForm]}, ${STALE_SECONDS} s old`, sent, [
          refusedFor('timestamp outside the accepted window'),
        ]);
      });

      it.each(BODILESS)('GET without a body, %s (%s): accepted', async (form, name) => {
        const sent = await client.send('GET', devicePath(accountKey, probe), undefined, baseline({ payloadMd5: form }));
        expectOutcomes(client, `GET, ${name}`, sent, [ACCEPTED]);
        expect(sent[0].body?.device_key).toBe(probe);
      });

      it.each(BODILESS)('DELETE without a body, %s (%s): accepted', async (form, name) => {
        const deviceKey = await createdBy(client, accountKey, approver);
        const sent = await client.send('DELETE', `${devicePath(accountKey, deviceKey)}/disable`, undefined, baseline({ payloadMd5: form }));
        expectOutcomes(client, `DELETE, ${name}`, sent, [ACCEPTED]);
        expect(sent[0].body?.device_status).toBe('disabled');
      });

      it.each(BODILESS)('PATCH with a body, %s (%s): refused', async (form, name) => {
        const sent = await client.send('PATCH', `${devicePath(accountKey, probe)}/resend_token`, { contact_type: 'sms' }, baseline({ payloadMd5: form }));
        expectOutcomes(client, `PATCH with a body, ${name}`, sent, [refusedFor('payload_md5 does not match the body')]);
      });

      if (alg === 'EdDSA') {
        it('identical claims signed twice in one second: the same Ed25519 signature, so the second is refused as a replay (documented)', async () => {
          await earlyInASecond();
          const sent = await client.send('GET', devicePath(accountKey, polled), undefined, baseline({ timestamp: profile.secondsForm, then: ['resign'] }));
          expect(sent[1].claims).toEqual(sent[0].claims);
          expect(sent[1].authorization).toBe(sent[0].authorization);
          expectOutcomes(client, 'identical claims signed twice in one second (EdDSA is deterministic)', sent, [
            ACCEPTED,
            refusedFor('signature already used'),
          ]);
        });
      } else {
        it('identical claims signed twice in one second: two ECDSA signatures, both accepted', async () => {
          await earlyInASecond();
          const sent = await client.send('GET', devicePath(accountKey, polled), undefined, baseline({ timestamp: profile.secondsForm, then: ['resign'] }));
          expect(sent[0].claims.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
          expect(sent[1].claims).toEqual(sent[0].claims);
          expect(sent[1].authorization).not.toBe(sent[0].authorization);
          expectOutcomes(client, 'identical claims signed twice in one second', sent, [ACCEPTED, ACCEPTED]);
        });
      }

      it('the exact copy of a request: refused as a replay', async () => {
        const sent = await client.send('GET', devicePath(accountKey, polled), undefined, baseline({ then: ['copy'] }));
        expectOutcomes(client, 'the exact copy of a request', sent, [ACCEPTED, refusedFor('signature already used')]);
      });

      it('extra claims iat, exp and kid, and a kid header field: accepted', async () => {
        const sent = await client.send('GET', devicePath(accountKey, probe), undefined, baseline({ extraClaims: true }));
        expect(sent[0].claims).toEqual(expect.objectContaining({ iat: expect.any(Number), exp: expect.any(Number), kid: 'client-key-1' }));
        expect(JSON.parse(Buffer.from(sent[0].authorization.split('.')[0], 'base64url').toString())).toMatchObject({ alg, kid: 'client-key-1' });
        expectOutcomes(client, 'extra claims iat, exp, kid (and a kid header field)', sent, [ACCEPTED]);
      });

      it('signed with a key other than the registered one: refused', async () => {
        const sent = await client.send('GET', devicePath(accountKey, probe), undefined, baseline({ privateKeyPem: newKeyPair(kind).privateKeyPem }));
        expectOutcomes(client, 'signed with another key', sent, [refusedFor('invalid signature')]);
      });

      it('an unknown API-CLIENT-KEY: refused, naming the key', async () => {
        const unknown = randomUUID();
        const sent = await client.send('GET', devicePath(accountKey, probe), undefined, baseline({ apiClientKey: unknown }));
        expectOutcomes(client, 'unknown API-CLIENT-KEY', sent, [{ code: 'GDF000018', values: { api_client_key: unknown } }]);
      });
    });

    const unsupported = Object.entries(coverage.unsupported) as [KeyKind, RegExp][];
    if (unsupported.length > 0) {
      it.each(unsupported.map(([kind, words]) => [kind, ALG[kind], words] as const))(
        `cannot sign with a %s key (%s): a limitation of ${profile.name}, not covered`,
        async (kind, alg, words) => {
          const client = new UpstreamClient(library, kind, stack.apiUrl, randomUUID(), newKeyPair(kind));
          const refusal = await client.send('GET', devicePath(randomUUID(), randomUUID())).then(
            () => undefined,
            (err: unknown) => err,
          );
          expect(refusal).toBeInstanceOf(LibraryRefusal);
          expect((refusal as Error).message).toMatch(words);
          figures.set(`${profile.name} ${alg}`, `not supported by the library (${(refusal as Error).message})`);
        },
      );
    }
  });
}
