import { createHash, generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { algorithmForKey, CLIENT_KEY_KINDS, generateClientKeyPair, payloadMd5, signRequest, UnsupportedKeyError } from './index';

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');
const CLIENT_KEY = '3f1c2a0e-8a4b-4c1d-9e2f-5a6b7c8d9e0f';

describe('request signing', () => {
  const expectedAlg = { p521: 'ES512', p256: 'ES256', ed25519: 'EdDSA' } as const;

  it.each(CLIENT_KEY_KINDS)('round-trips a %s signature through jose jwtVerify', async (kind) => {
    const pair = generateClientKeyPair(kind);
    expect(pair.alg).toBe(expectedAlg[kind]);
    expect(pair.publicKeyPem).toContain('-----BEGIN PUBLIC KEY-----');
    expect(pair.privateKeyPem).toContain('-----BEGIN PRIVATE KEY-----');

    const body = JSON.stringify({ token: '123456', note: 'ção' });
    const headers = await signRequest({
      clientKey: CLIENT_KEY,
      privateKey: pair.privateKeyPem,
      method: 'put',
      uri: '/account/a/device/d/validate?ignored=1',
      body,
    });
    expect(headers['API-CLIENT-KEY']).toBe(CLIENT_KEY);

    const publicKey = await importSPKI(pair.publicKeyPem, pair.alg);
    const { payload, protectedHeader } = await jwtVerify(headers.AUTHORIZATION, publicKey, { algorithms: [pair.alg] });
    expect(protectedHeader).toEqual({ alg: pair.alg, typ: 'JWT' });
    expect(payload).toEqual({
      payload_md5: md5(body),
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      method: 'PUT',
      uri: '/account/a/device/d/validate',
    });
    expect(Math.abs(Date.parse(payload.timestamp as string) - Date.now())).toBeLessThan(5_000);
  });

  it('signs a request without body over md5("{}") and keeps a given timestamp', async () => {
    const pair = generateClientKeyPair('p256');
    const headers = await signRequest({
      clientKey: CLIENT_KEY,
      privateKey: pair.privateKeyPem,
      method: 'GET',
      uri: '/account/a/device/d',
      timestamp: new Date('2024-05-01T12:00:00.000Z'),
    });
    const { payload } = await jwtVerify(headers.AUTHORIZATION, await importSPKI(pair.publicKeyPem, 'ES256'));
    expect(payload.payload_md5).toBe('99914b932bd37a50b983c5e7c90ae93b');
    expect(payload.timestamp).toBe('2024-05-01T12:00:00.000Z');
  });

  it('signs repeatedly with the same cached key, and with a KeyObject', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    for (const key of [pem, pem, privateKey, privateKey]) {
      const headers = await signRequest({ clientKey: CLIENT_KEY, privateKey: key, method: 'DELETE', uri: '/x' });
      await expect(jwtVerify(headers.AUTHORIZATION, publicKey)).resolves.toBeDefined();
      expect(decodeProtectedHeader(headers.AUTHORIZATION).alg).toBe('EdDSA');
    }
  });

  it('refuses an explicit alg that does not match the key, and a public key', async () => {
    const pair = generateClientKeyPair('p521');
    await expect(signRequest({ clientKey: CLIENT_KEY, privateKey: pair.privateKeyPem, alg: 'ES256', method: 'GET', uri: '/' })).rejects.toThrow(
      UnsupportedKeyError,
    );
    await expect(signRequest({ clientKey: CLIENT_KEY, privateKey: pair.publicKeyPem, method: 'GET', uri: '/' })).rejects.toThrow(UnsupportedKeyError);
  });
});

describe('payloadMd5', () => {
  it('hashes a missing or empty body as "{}"', () => {
    expect(payloadMd5(undefined)).toBe(md5('{}'));
    expect(payloadMd5('')).toBe(md5('{}'));
    expect(payloadMd5(new Uint8Array())).toBe(md5('{}'));
  });

  it('hashes the exact bytes, not a re-serialisation', () => {
    expect(payloadMd5('{"a": 1}')).toBe(md5('{"a": 1}'));
    expect(payloadMd5('{"a": 1}')).not.toBe(payloadMd5('{"a":1}'));
    expect(payloadMd5(Buffer.from('{"n":"ção"}', 'utf8'))).toBe(md5('{"n":"ção"}'));
  });
});

describe('algorithmForKey', () => {
  it.each([
    ['p521', 'ES512'],
    ['p256', 'ES256'],
    ['ed25519', 'EdDSA'],
  ] as const)('detects %s as %s from the public and the private PEM', (kind, alg) => {
    const pair = generateClientKeyPair(kind);
    expect(algorithmForKey(pair.publicKeyPem)).toBe(alg);
    expect(algorithmForKey(pair.privateKeyPem)).toBe(alg);
  });

  it('accepts a KeyObject', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-521' });
    expect(algorithmForKey(publicKey)).toBe('ES512');
  });

  it.each([
    ['RSA', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
    ['EC P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
    ['secp256k1', () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey],
    ['X25519', () => generateKeyPairSync('x25519').publicKey],
  ])('throws on %s keys', (_name, make) => {
    const key = make();
    expect(() => algorithmForKey(key)).toThrow(UnsupportedKeyError);
    expect(() => algorithmForKey(key.export({ type: 'spki', format: 'pem' }).toString())).toThrow(UnsupportedKeyError);
  });

  it('throws on text that is not a key', () => {
    expect(() => algorithmForKey('-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----')).toThrow(UnsupportedKeyError);
  });
});
