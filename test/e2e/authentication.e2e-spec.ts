/**
 * The upstream request-signature scheme against the running api: each
 * supported key kind signs its way through the whole flow, and every way of
 * getting the headers wrong or forging them is refused with the right code
 * and changes nothing. The forged requests aim at a device's validate with
 * its real code (or at its disable), so a request wrongly let through would
 * visibly register or disable the device.
 */
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { SignJWT, decodeProtectedHeader } from 'jose';
import { requestClaims } from '@lib/request-signing';
import { DeviceApiClient, http, type HttpResult } from '../support/api-client';
import { Stack } from '../support/stack';
import { expectError, observable, pendingDevice, unchanged, wrongCode, type PendingDevice } from '../support/e2e-checks';
import { errorLines } from '../support/logs';
import { malleated } from '../support/jws';

const SKEW_SECONDS = 60;
const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

describe('authentication', () => {
  let stack: Stack;
  /** A P-521 (ES512, the upstream scheme) client's pending device: the target of every forgery. */
  let target: PendingDevice;

  beforeAll(async () => {
    stack = await Stack.start({ label: 'auth', env: { AUTH_MAX_CLOCK_SKEW_SECONDS: String(SKEW_SECONDS) } });
    target = await pendingDevice(stack, 'sms', 'p521');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const validatePath = (d: PendingDevice) => `/account/${d.accountKey}/device/${d.deviceKey}/validate`;
  const disablePath = (d: PendingDevice) => `/account/${d.accountKey}/device/${d.deviceKey}/disable`;
  const rightBody = (d: PendingDevice) => JSON.stringify({ token: d.code });

  /** Sends with exactly these headers (JSON content type added when there is a body). */
  const raw = (method: string, path: string, headers: Record<string, string>, body?: string): Promise<HttpResult> =>
    http(stack.apiUrl + path, { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, body });

  /** A compact JWS with any header, over the real request's claims, signed by `signer` (or unsigned). */
  const handMade = (header: Record<string, unknown>, method: string, path: string, body: string | undefined, signer?: (input: string) => Buffer) => {
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(requestClaims({ method, uri: path, body })))}`;
    return `${input}.${signer ? b64url(signer(input)) : ''}`;
  };

  describe.each([
    ['p521', 'ES512'],
    ['p256', 'ES256'],
    ['ed25519', 'EdDSA'],
  ] as const)('a %s client key (%s)', (kind, alg) => {
    it('signs create, query, validate and disable through', async () => {
      const d = await pendingDevice(stack, 'email', kind);
      const headers = await d.client.headersFor('GET', `/account/${d.accountKey}/device/${d.deviceKey}`, undefined);
      expect(decodeProtectedHeader(headers.AUTHORIZATION)).toEqual({ alg, typ: 'JWT' });

      const query = await raw('GET', `/account/${d.accountKey}/device/${d.deviceKey}`, headers);
      expect(query.status).toBe(200);
      expect(query.body).toMatchObject({ device_key: d.deviceKey, device_status: 'pending_2fa_approval', contact_type: 'email' });
      const ok = await d.client.validate(d.accountKey, d.deviceKey, d.code);
      expect([ok.status, ok.body.device_status]).toEqual([201, 'created']);
      const off = await d.client.disable(d.accountKey, d.deviceKey);
      expect([off.status, off.body.device_status]).toEqual([200, 'disabled']);
    });
  });

  it('API-CLIENT-KEY missing or blank → 400 GDF000003', async () => {
    await unchanged(stack, [target], async () => {
      for (const value of [undefined, '', '   ']) {
        const { 'API-CLIENT-KEY': _key, ...signed } = await target.client.headersFor('PUT', validatePath(target), rightBody(target));
        const headers = value === undefined ? signed : { ...signed, 'API-CLIENT-KEY': value };
        expectError(await raw('PUT', validatePath(target), headers, rightBody(target)), 'GDF000003');
      }
    });
  });

  it('an unknown or malformed API-CLIENT-KEY → 404 GDF000018', async () => {
    await unchanged(stack, [target], async () => {
      // An unknown canonical UUID is named in the texts (as upstream does); anything else is not echoed.
      const unknown = randomUUID();
      for (const [clientKey, echoed] of [
        [unknown, unknown],
        [unknown.toUpperCase(), unknown.toUpperCase()],
        ['not-a-uuid', undefined],
        [`${target.client.clientKey}0`, undefined],
      ] as const) {
        const headers = { ...(await target.client.headersFor('PUT', validatePath(target), rightBody(target))), 'API-CLIENT-KEY': clientKey };
        expectError(await raw('PUT', validatePath(target), headers, rightBody(target)), 'GDF000018', {}, { api_client_key: echoed });
      }
    });
  });

  it('AUTHORIZATION missing or blank → 401 GDF000014', async () => {
    await unchanged(stack, [target], async () => {
      for (const value of [undefined, '', ' ']) {
        const headers: Record<string, string> = { 'API-CLIENT-KEY': target.client.clientKey, ...(value === undefined ? {} : { AUTHORIZATION: value }) };
        expectError(await raw('PUT', validatePath(target), headers, rightBody(target)), 'GDF000014', { reason: 'AUTHORIZATION header missing' });
      }
    });
  });

  it('a garbage JWT → 401 GDF000014', async () => {
    const valid = (await target.client.headersFor('PUT', validatePath(target), rightBody(target))).AUTHORIZATION;
    const [h, p, s] = valid.split('.');
    const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    await unchanged(stack, [target], async () => {
      for (const jwt of ['garbage', 'a.b.c', `${h}.${p}`, `${h}.${p}.`, `${h}.${p}.${flipped}`, `${p}.${h}.${s}`, `Bearer ${h}.${p}.${flipped}`]) {
        const headers = { 'API-CLIENT-KEY': target.client.clientKey, AUTHORIZATION: jwt };
        expectError(await raw('PUT', validatePath(target), headers, rightBody(target)), 'GDF000014', { reason: 'invalid signature' });
      }
    });
  });

  it(`timestamps more than AUTH_MAX_CLOCK_SKEW_SECONDS (${SKEW_SECONDS}) in the past or future → 401 GDF000014; within it, accepted`, async () => {
    const now = Date.now();
    await unchanged(stack, [target], async () => {
      for (const offsetS of [-(SKEW_SECONDS + 30), SKEW_SECONDS + 30, -86_400]) {
        const res = await target.client.send('PUT', validatePath(target), rightBody(target), { timestamp: new Date(now + offsetS * 1000) });
        expectError(res, 'GDF000014', { reason: 'timestamp outside the accepted window' });
      }
      for (const timestamp of ['yesterday', '']) {
        const res = await target.client.send('PUT', validatePath(target), rightBody(target), { timestamp });
        expectError(res, 'GDF000014', { reason: 'timestamp missing or not ISO-8601' });
      }
      // Inside the window either way (a read, which changes nothing when accepted).
      for (const offsetS of [-(SKEW_SECONDS - 20), SKEW_SECONDS - 20]) {
        const res = await target.client.send('GET', `/account/${target.accountKey}/device/${target.deviceKey}`, undefined, {
          timestamp: new Date(now + offsetS * 1000),
        });
        expect(res.status).toBe(200);
      }
    });
  });

  it('a replayed request (same signature, or its malleated twin) is refused and does not count; the same claims signed afresh are a request of their own', async () => {
    const body = JSON.stringify({ token: wrongCode(target.code) });
    const headers = await target.client.headersFor('PUT', validatePath(target), body);
    const failed = () => stack.redis.hget(stack.keys.device(target.accountKey, target.deviceKey), 'failed_attempts');
    expect(await failed()).toBe('0');
    expectError(await raw('PUT', validatePath(target), headers, body), 'DTS000001', { attempts_remaining: 4 });
    await unchanged(stack, [target], async () => {
      expectError(await raw('PUT', validatePath(target), headers, body), 'GDF000014', { reason: 'signature already used' });
      // (r, n − s) verifies as well as (r, s): it is the same signature.
      const [h, p, sig] = headers.AUTHORIZATION.split('.');
      const twin = { ...headers, AUTHORIZATION: `${h}.${p}.${malleated('ES512', sig)}` };
      expectError(await raw('PUT', validatePath(target), twin, body), 'GDF000014', { reason: 'signature already used' });
    });
    expect(await failed()).toBe('1');
    // The same claims signed again (ECDSA signatures differ each time): a second request, counted as such.
    const resigned = await target.client.headersFor('PUT', validatePath(target), body, {
      timestamp: JSON.parse(Buffer.from(headers.AUTHORIZATION.split('.')[1], 'base64url').toString()).timestamp,
    });
    expect(resigned.AUTHORIZATION).not.toBe(headers.AUTHORIZATION);
    expectError(await raw('PUT', validatePath(target), resigned, body), 'DTS000001', { attempts_remaining: 3 });
    expect(await failed()).toBe('2');
  });

  it('the body changed after signing → 401 GDF000014', async () => {
    const right = rightBody(target);
    await unchanged(stack, [target], async () => {
      // Signed over another token, over the same JSON plus a space, over no body at all.
      for (const signBody of [JSON.stringify({ token: wrongCode(target.code) }), `${right} `, '']) {
        const res = await target.client.send('PUT', validatePath(target), right, { signBody });
        expectError(res, 'GDF000014', { reason: 'payload_md5 does not match the body' });
      }
    });
  });

  it('the method swapped → 401 GDF000014', async () => {
    await unchanged(stack, [target], async () => {
      expectError(await target.client.send('DELETE', disablePath(target), undefined, { signMethod: 'GET' }), 'GDF000014', {
        reason: 'method does not match the request',
      });
      expectError(await target.client.send('PUT', validatePath(target), rightBody(target), { signMethod: 'POST' }), 'GDF000014', {
        reason: 'method does not match the request',
      });
    });
  });

  it('the uri swapped (signed for another device’s path) → 401 GDF000014', async () => {
    const other = await pendingDevice(stack, 'sms', 'p521');
    // The same client: its own, legitimately signable paths, replayed onto the target.
    const sameClient = new DeviceApiClient(stack.apiUrl, target.client.clientKey, target.client.privateKey);
    await unchanged(stack, [target, other], async () => {
      expectError(await sameClient.send('PUT', validatePath(target), rightBody(target), { signUri: validatePath(other) }), 'GDF000014', {
        reason: 'uri does not match the request',
      });
      expectError(await sameClient.send('DELETE', disablePath(target), undefined, { signUri: disablePath(other) }), 'GDF000014', {
        reason: 'uri does not match the request',
      });
      expectError(await sameClient.send('DELETE', disablePath(target), undefined, { signUri: `${disablePath(target)}/` }), 'GDF000014', {
        reason: 'uri does not match the request',
      });
    });
  });

  it('alg "none" (unsigned) → 401 GDF000014', async () => {
    await unchanged(stack, [target], async () => {
      for (const alg of ['none', 'None', 'NONE']) {
        const jwt = handMade({ alg, typ: 'JWT' }, 'PUT', validatePath(target), rightBody(target));
        const res = await raw('PUT', validatePath(target), { 'API-CLIENT-KEY': target.client.clientKey, AUTHORIZATION: jwt }, rightBody(target));
        expectError(res, 'GDF000014', { reason: 'algorithm not allowed' });
      }
    });
  });

  it('HS512 / HS256 signed with the client’s public key PEM as the HMAC secret (algorithm confusion) → 401 GDF000014', async () => {
    const secret = new TextEncoder().encode(target.client.publicKeyPem);
    await unchanged(stack, [target], async () => {
      for (const alg of ['HS512', 'HS256']) {
        const claims = requestClaims({ method: 'PUT', uri: validatePath(target), body: rightBody(target) });
        const jwt = await new SignJWT({ ...claims }).setProtectedHeader({ alg, typ: 'JWT' }).sign(secret);
        const res = await raw('PUT', validatePath(target), { 'API-CLIENT-KEY': target.client.clientKey, AUTHORIZATION: jwt }, rightBody(target));
        expectError(res, 'GDF000014', { reason: 'algorithm not allowed' });
      }
    });
  });

  it('a token signed by another client’s private key → 401 GDF000014', async () => {
    const other = await stack.newClient('p521');
    const p256 = await stack.newClient('p256');
    const impostor = new DeviceApiClient(stack.apiUrl, target.client.clientKey, other.privateKey);
    await unchanged(stack, [target], async () => {
      expectError(await impostor.validate(target.accountKey, target.deviceKey, target.code), 'GDF000014', { reason: 'invalid signature' });
      expectError(await impostor.disable(target.accountKey, target.deviceKey), 'GDF000014', { reason: 'invalid signature' });
      // Another kind of key is refused by algorithm before any signature check.
      const wrongKind = new DeviceApiClient(stack.apiUrl, target.client.clientKey, p256.privateKey);
      expectError(await wrongKind.disable(target.accountKey, target.deviceKey), 'GDF000014', { reason: 'algorithm not allowed' });
    });
  });

  it('an ES256 header on a P-521 key (and ES384, EdDSA) → 401 GDF000014', async () => {
    const key = createPrivateKey(target.client.privateKey as string);
    await unchanged(stack, [target], async () => {
      for (const [alg, hash] of [
        ['ES256', 'sha256'],
        ['ES384', 'sha384'],
        ['EdDSA', 'sha512'],
      ]) {
        const jwt = handMade({ alg, typ: 'JWT' }, 'PUT', validatePath(target), rightBody(target), (input) =>
          sign(hash, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }),
        );
        const res = await raw('PUT', validatePath(target), { 'API-CLIENT-KEY': target.client.clientKey, AUTHORIZATION: jwt }, rightBody(target));
        expectError(res, 'GDF000014', { reason: 'algorithm not allowed' });
      }
      // The same hand-made construction with the right header is accepted (so the refusals above are about the header):
      // checked on a read, which changes nothing.
      const path = `/account/${target.accountKey}/device/${target.deviceKey}`;
      const jwt = handMade({ alg: 'ES512', typ: 'JWT' }, 'GET', path, undefined, (input) =>
        sign('sha512', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }),
      );
      expect((await raw('GET', path, { 'API-CLIENT-KEY': target.client.clientKey, AUTHORIZATION: jwt })).status).toBe(200);
    });
  });

  it('a correctly signed client cannot read or act on another client’s account or device: OBD000002, exactly as a missing account', async () => {
    const intruder = await stack.newClient('p521');
    const unknownAccount = randomUUID();
    const calls = (accountKey: string) =>
      [
        () =>
          intruder.createDevice(accountKey, {
            device_key: randomUUID(),
            session_id: randomUUID(),
            tfa_info: { approver_document_number: target.approver.document_number, contact_type: 'sms' },
          }),
        () => intruder.resend(accountKey, target.deviceKey),
        () => intruder.resend(accountKey, target.deviceKey, { contact_type: 'email' }),
        () => intruder.validate(accountKey, target.deviceKey, target.code),
        () => intruder.query(accountKey, target.deviceKey),
        () => intruder.disable(accountKey, target.deviceKey),
      ] as const;
    await unchanged(stack, [target], async () => {
      const theirs = calls(target.accountKey);
      const missing = calls(unknownAccount);
      for (let i = 0; i < theirs.length; i += 1) {
        const a = await theirs[i]();
        const b = await missing[i]();
        expectError(a, 'OBD000002');
        expect(observable(a)).toEqual(observable(b));
      }
    });
  });

  it('after all of it, the target device is intact: its code registers it', async () => {
    const ok = await target.client.validate(target.accountKey, target.deviceKey, target.code);
    expect([ok.status, ok.body.device_status]).toEqual([201, 'created']);
    expect(errorLines(stack.api.output)).toEqual([]);
  });
});
