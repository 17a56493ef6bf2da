import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { CURVE_ORDER, canonicalSignature, signatureDigest } from './signature-identity';

const b64u = (b: Buffer) => b.toString('base64url');
const twinOf = (alg: 'ES256' | 'ES512', sig: Buffer) => {
  const half = sig.length / 2;
  const s = BigInt(`0x${sig.subarray(half).toString('hex')}`);
  return Buffer.concat([sig.subarray(0, half), Buffer.from((CURVE_ORDER[alg] - s).toString(16).padStart(half * 2, '0'), 'hex')]);
};

describe('a signature is the same one whatever its spelling or its malleated twin', () => {
  for (const [alg, curve, hash] of [
    ['ES256', 'P-256', 'sha256'],
    ['ES512', 'P-521', 'sha512'],
  ] as const) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const input = Buffer.from('header.payload');
    const sig = sign(hash, input, { key: privateKey, dsaEncoding: 'ieee-p1363' });

    it(`${alg}: the twin (r, n − s) verifies too (the curve order is right), and is the same signature`, () => {
      const twin = twinOf(alg, sig);
      expect(twin.equals(sig)).toBe(false);
      expect(verify(hash, input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, twin)).toBe(true);
      expect(canonicalSignature(alg, b64u(twin))).toEqual(canonicalSignature(alg, b64u(sig)));
      expect(signatureDigest('client-1', alg, b64u(twin))).toBe(signatureDigest('client-1', alg, b64u(sig)));
    });

    it(`${alg}: two signatures over the same input are two, and one client's is not another's`, () => {
      const again = sign(hash, input, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      expect(signatureDigest('client-1', alg, b64u(again))).not.toBe(signatureDigest('client-1', alg, b64u(sig)));
      expect(signatureDigest('client-2', alg, b64u(sig))).not.toBe(signatureDigest('client-1', alg, b64u(sig)));
    });
  }

  it('ES256: another spelling of the same bytes (the last character’s unused bits) is the same signature', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const segment = b64u(sign('sha256', Buffer.from('x'), { key: privateKey, dsaEncoding: 'ieee-p1363' }));
    // 64 bytes take 86 characters: the last one carries 2 unused bits.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(segment.at(-1)!);
    const respelt = segment.slice(0, -1) + alphabet[last ^ 1];
    expect(respelt).not.toBe(segment);
    expect(Buffer.from(respelt, 'base64url')).toEqual(Buffer.from(segment, 'base64url'));
    expect(signatureDigest('c', 'ES256', respelt)).toBe(signatureDigest('c', 'ES256', segment));
  });

  it('EdDSA: deterministic, so the same claims signed twice are one signature (a replay)', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const a = b64u(sign(null, Buffer.from('same claims'), privateKey));
    const b = b64u(sign(null, Buffer.from('same claims'), privateKey));
    expect(signatureDigest('c', 'EdDSA', a)).toBe(signatureDigest('c', 'EdDSA', b));
  });
});
