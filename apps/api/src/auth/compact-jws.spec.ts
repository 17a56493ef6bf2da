/**
 * verifyCompactJwt must accept and refuse exactly what jose's jwtVerify (which
 * it replaced) accepts and refuses: every token below is put to both, for
 * each kind of client key, and the answers compared.
 */
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import type { RequestSigningAlg } from '@lib/request-signing';
import { JwsAlgorithmNotAllowed, verifyCompactJwt } from './compact-jws';

const b64u = (v: string | Buffer) => Buffer.from(v).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

interface KeyCase {
  alg: RequestSigningAlg;
  privateKey: KeyObject;
  publicKey: KeyObject;
  other: KeyObject;
}

function keyCase(alg: RequestSigningAlg): KeyCase {
  const gen = () =>
    alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: alg === 'ES512' ? 'P-521' : 'P-256' });
  const { privateKey, publicKey } = gen();
  return { alg, privateKey, publicKey, other: gen().privateKey };
}

function rawSign(alg: RequestSigningAlg, key: KeyObject, input: string): Buffer {
  if (alg === 'EdDSA') return sign(null, Buffer.from(input), key);
  return sign(alg === 'ES512' ? 'sha512' : 'sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
}

/** A token from raw header and payload texts, signed by `key` with `alg` (or not at all). */
function token(header: string, payload: string, signWith?: { alg: RequestSigningAlg; key: KeyObject }): string {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${signWith ? b64u(rawSign(signWith.alg, signWith.key, input)) : ''}`;
}

const claims = () => ({ payload_md5: '99914b932bd37a50b983c5e7c90ae93b', timestamp: new Date().toISOString(), method: 'GET', uri: '/x' });

function corpus(k: KeyCase): [string, string][] {
  const own = { alg: k.alg, key: k.privateKey };
  const h = (extra: object = {}) => JSON.stringify({ alg: k.alg, typ: 'JWT', ...extra });
  const p = (extra: object = {}) => JSON.stringify({ ...claims(), ...extra });
  const valid = token(h(), p(), own);
  const [vh, vp, vs] = valid.split('.');
  const wrongAlgs: RequestSigningAlg[] = (['ES512', 'ES256', 'EdDSA'] as const).filter((a) => a !== k.alg);
  const hmacInput = `${b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64u(p())}`;
  const pem = k.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const sig = Buffer.from(vs, 'base64url');
  return [
    ['valid', valid],
    ['valid, no typ', token(JSON.stringify({ alg: k.alg }), p(), own)],
    ['valid, crit b64 true', token(h({ crit: ['b64'], b64: true }), p(), own)],
    ['crit b64 false', token(h({ crit: ['b64'], b64: false }), p(), own)],
    ['crit b64 without b64', token(h({ crit: ['b64'] }), p(), own)],
    ['crit b64 with b64 "yes"', token(h({ crit: ['b64'], b64: 'yes' }), p(), own)],
    ['crit unknown', token(h({ crit: ['exp'], exp: 1 }), p(), own)],
    ['crit empty', token(h({ crit: [] }), p(), own)],
    ['crit not an array', token(h({ crit: 'b64', b64: true }), p(), own)],
    ['crit empty string', token(h({ crit: [''] }), p(), own)],
    ['b64 false without crit (ignored)', token(h({ b64: false }), p(), own)],
    ['signed by another key', token(h(), p(), { alg: k.alg, key: k.other })],
    ['payload tampered', `${vh}.${b64u(p({ uri: '/y' }))}.${vs}`],
    ['header tampered', `${b64u(h({ kid: 'x' }))}.${vp}.${vs}`],
    ['signature flipped', `${vh}.${vp}.${b64u(Buffer.from(sig.map((b, i) => (i === 5 ? b ^ 1 : b))))}`],
    ['signature truncated', `${vh}.${vp}.${b64u(sig.subarray(1))}`],
    ['signature padded', `${vh}.${vp}.${vs}=`],
    ['signature empty', `${vh}.${vp}.`],
    ['signature with a base64 (not url) character', `${vh}.${vp}.${vs.slice(0, -1)}+`],
    ['payload with padding', `${vh}.${vp}=.${vs}`],
    ['header with a space', `${vh} .${vp}.${vs}`],
    ['two segments', `${vh}.${vp}`],
    ['four segments', `${valid}.${vs}`],
    ['empty', ''],
    ['alg none', `${b64u(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${vp}.`],
    ['alg HS256 with the public key PEM as secret', `${hmacInput}.${b64u(createHmac('sha256', pem).update(hmacInput).digest())}`],
    ...wrongAlgs.map((a): [string, string] => [`alg ${a} in the header`, `${b64u(h({ alg: a }))}.${vp}.${vs}`]),
    ['alg ES384', `${b64u(h({ alg: 'ES384' }))}.${vp}.${vs}`],
    ['alg missing', token(JSON.stringify({ typ: 'JWT' }), p(), own)],
    ['alg empty', token(h({ alg: '' }), p(), own)],
    ['alg a number', token(h({ alg: 512 }), p(), own)],
    ['header an array', token(JSON.stringify([k.alg]), p(), own)],
    ['header a string', token(JSON.stringify(k.alg), p(), own)],
    ['header null', token('null', p(), own)],
    ['header not JSON', token('{alg', p(), own)],
    ['header not UTF-8', `${b64u(Buffer.concat([Buffer.from(h().slice(0, -1)), Buffer.from([0xff]), Buffer.from('}')]))}.${vp}.${vs}`],
    ['payload an array', token(h(), '[1,2]', own)],
    ['payload a number', token(h(), '42', own)],
    ['payload null', token(h(), 'null', own)],
    ['payload not JSON', token(h(), '{"a":', own)],
    ['payload not UTF-8', `${vh}.${b64u(Buffer.from([0x7b, 0xff, 0x7d]))}.${b64u(rawSign(k.alg, k.privateKey, `${vh}.${b64u(Buffer.from([0x7b, 0xff, 0x7d]))}`))}`],
    ['exp in the past', token(h(), p({ exp: nowS() - 10 }), own)],
    ['exp now', token(h(), p({ exp: nowS() }), own)],
    ['exp in the future', token(h(), p({ exp: nowS() + 60 }), own)],
    ['exp a string', token(h(), p({ exp: String(nowS() + 60) }), own)],
    ['nbf in the future', token(h(), p({ nbf: nowS() + 60 }), own)],
    ['nbf in the past', token(h(), p({ nbf: nowS() - 60 }), own)],
    ['nbf null', token(h(), p({ nbf: null }), own)],
    ['iat a string', token(h(), p({ iat: 'yesterday' }), own)],
    ['iat in the future (no maxTokenAge: fine)', token(h(), p({ iat: nowS() + 3600 }), own)],
    ['other claims (iss, aud) unchecked', token(h(), p({ iss: 'x', aud: ['y'] }), own)],
  ];
}

type Outcome = { kind: 'ok'; claims: Record<string, unknown> } | { kind: 'alg' } | { kind: 'invalid' };

async function viaJose(jwt: string, k: KeyCase): Promise<Outcome> {
  try {
    const { payload } = await jwtVerify(jwt, k.publicKey, { algorithms: [k.alg] });
    return { kind: 'ok', claims: payload as Record<string, unknown> };
  } catch (err) {
    return err instanceof joseErrors.JOSEAlgNotAllowed ? { kind: 'alg' } : { kind: 'invalid' };
  }
}

async function viaOurs(jwt: string, k: KeyCase): Promise<Outcome> {
  try {
    return { kind: 'ok', claims: await verifyCompactJwt(jwt, k.publicKey, k.alg) };
  } catch (err) {
    return err instanceof JwsAlgorithmNotAllowed ? { kind: 'alg' } : { kind: 'invalid' };
  }
}

describe('verifyCompactJwt answers as jose jwtVerify does', () => {
  for (const alg of ['ES512', 'ES256', 'EdDSA'] as const) {
    const k = keyCase(alg);
    it.each(corpus(k))(`${alg}: %s`, async (_name, jwt) => {
      expect(await viaOurs(jwt, k)).toEqual(await viaJose(jwt, k));
    });
  }

  it('accepts the valid tokens and refuses the attacks (the corpus is not trivially all-refused)', async () => {
    const k = keyCase('ES512');
    const outcomes = new Map<string, string>();
    for (const [name, jwt] of corpus(k)) outcomes.set(name, (await viaOurs(jwt, k)).kind);
    expect(outcomes.get('valid')).toBe('ok');
    expect(outcomes.get('valid, crit b64 true')).toBe('ok');
    expect(outcomes.get('exp in the future')).toBe('ok');
    expect(outcomes.get('alg none')).toBe('alg');
    expect(outcomes.get('alg HS256 with the public key PEM as secret')).toBe('alg');
    expect(outcomes.get('signed by another key')).toBe('invalid');
    expect(outcomes.get('payload tampered')).toBe('invalid');
    expect(outcomes.get('exp in the past')).toBe('invalid');
  });
});
