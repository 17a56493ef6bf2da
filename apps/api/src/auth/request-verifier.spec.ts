import { createHash, generateKeyPairSync } from 'node:crypto';
import { CompactSign, jwtVerify } from 'jose';
import { DomainError } from '@lib/domain';
import { signRequest } from '@lib/request-signing';
import type { ReplayGuard } from '@lib/store';
import { RequestVerifier, replayMemoryMs, type SignedRequest } from './request-verifier';

describe('replay memory', () => {
  it('lasts the accepted window on both sides of the timestamp plus the margin for clock skew between instances', () => {
    expect(replayMemoryMs({ authMaxClockSkewSeconds: 300, authClockSkewMarginSeconds: 60 })).toBe(660_000);
    expect(replayMemoryMs({ authMaxClockSkewSeconds: 5, authClockSkewMarginSeconds: 0 })).toBe(10_000);
  });
});

/** The replay guard's contract, in memory. */
class MemoryReplays {
  readonly seen = new Set<string>();
  async firstUse(digest: string): Promise<boolean> {
    if (this.seen.has(digest)) return false;
    this.seen.add(digest);
    return true;
  }
}

describe('RequestVerifier', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const config = { authMaxClockSkewSeconds: 300, authClockSkewMarginSeconds: 60 };
  const verifier = () => new RequestVerifier(config as never, new MemoryReplays() as unknown as ReplayGuard);

  async function signed(): Promise<SignedRequest> {
    const headers = await signRequest({ clientKey: 'c-1', privateKey, method: 'GET', uri: '/account/a/device/d' });
    return { clientKey: 'c-1', publicKeyPem: pem, authorization: headers.AUTHORIZATION, method: 'GET', path: '/account/a/device/d', rawBody: undefined };
  }
  const reasonOf = (err: unknown) => (err instanceof DomainError ? err.extraFields.reason : err);

  it('accepts a request signed by the registered key', async () => {
    await expect(verifier().verify(await signed())).resolves.toBeUndefined();
  });

  it.each([
    ['a space inside the signature', (jwt: string) => `${jwt.slice(0, -10)} ${jwt.slice(-10)}`],
    ['a line break inside the payload', (jwt: string) => jwt.replace('.', '.\n')],
    ['base64 padding on the signature', (jwt: string) => `${jwt}=`],
  ])('refuses %s, which reads as the same token to a lenient decoder', async (_case, spell) => {
    const req = await signed();
    const respelt = spell(req.authorization);
    const err = await verifier()
      .verify({ ...req, authorization: respelt })
      .catch((e: unknown) => e);
    expect(reasonOf(err)).toBe('invalid signature');
  });

  it('needs its own check: jose alone takes a token with a space inside its signature', async () => {
    const jwt = (await signed()).authorization;
    await expect(jwtVerify(`${jwt.slice(0, -10)} ${jwt.slice(-10)}`, publicKey, { algorithms: ['ES256'] })).resolves.toHaveProperty('payload');
  });

  it('refuses another key, and an algorithm the key does not have', async () => {
    const req = await signed();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(
      reasonOf(
        await verifier()
          .verify({ ...req, publicKeyPem: other })
          .catch((e: unknown) => e),
      ),
    ).toBe('invalid signature');
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(
      reasonOf(
        await verifier()
          .verify({ ...req, publicKeyPem: ed })
          .catch((e: unknown) => e),
      ),
    ).toBe('algorithm not allowed');
  });

  describe('claims as upstream clients write them', () => {
    const path = '/account/a/device/d';
    const md5 = (text: string) => createHash('md5').update(text).digest('hex');
    /** A JWT over exactly these claims, signed now (a fresh ECDSA signature every time). */
    const jwtOf = async (claims: Record<string, unknown>) =>
      new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(privateKey);
    const request = (authorization: string, method = 'GET', rawBody?: Buffer): SignedRequest => ({
      clientKey: 'c-1',
      publicKeyPem: pem,
      authorization,
      method,
      path,
      rawBody,
    });
    const utcSeconds = (d = new Date()) => d.toISOString().slice(0, 19);

    it('accepts a timestamp with no zone (UTC), and applies the window to it as to any other', async () => {
      const v = verifier();
      await expect(v.verify(request(await jwtOf({ payload_md5: md5('{}'), timestamp: utcSeconds(), method: 'GET', uri: path })))).resolves.toBeUndefined();
      const stale = utcSeconds(new Date(Date.now() - 301_000));
      const err = await v.verify(request(await jwtOf({ payload_md5: md5('{}'), timestamp: stale, method: 'GET', uri: path }))).catch((e: unknown) => e);
      expect(reasonOf(err)).toBe('timestamp outside the accepted window');
    });

    it.each([
      ['md5("{}")', { payload_md5: md5('{}') }],
      ['md5("")', { payload_md5: md5('') }],
      ['no payload_md5 at all', {}],
    ])('accepts a bodiless request signed with %s', async (_case, md5Claim) => {
      await expect(verifier().verify(request(await jwtOf({ ...md5Claim, timestamp: utcSeconds(), method: 'GET', uri: path })))).resolves.toBeUndefined();
    });

    it('refuses the bodiless forms on a request that has a body', async () => {
      for (const md5Claim of [{ payload_md5: md5('{}') }, { payload_md5: md5('') }, {}]) {
        const jwt = await jwtOf({ ...md5Claim, timestamp: utcSeconds(), method: 'PATCH', uri: path });
        const err = await verifier()
          .verify(request(jwt, 'PATCH', Buffer.from('{"contact_type":"sms"}')))
          .catch((e: unknown) => e);
        expect(reasonOf(err)).toBe('payload_md5 does not match the body');
      }
    });

    it('accepts two fresh signatures over identical claims (polling twice in a second), refuses the copy and the malleated twin of one', async () => {
      const v = verifier();
      const claims = { payload_md5: md5('{}'), timestamp: utcSeconds(), method: 'GET', uri: path };
      const [first, second] = [await jwtOf(claims), await jwtOf(claims)];
      expect(first).not.toBe(second);
      await expect(v.verify(request(first))).resolves.toBeUndefined();
      await expect(v.verify(request(second))).resolves.toBeUndefined();
      expect(reasonOf(await v.verify(request(first)).catch((e: unknown) => e))).toBe('signature already used');
      const [h, p, sig] = first.split('.');
      const raw = Buffer.from(sig, 'base64url');
      const n = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
      const twinS = (n - BigInt(`0x${raw.subarray(32).toString('hex')}`)).toString(16).padStart(64, '0');
      const twin = `${h}.${p}.${Buffer.concat([raw.subarray(0, 32), Buffer.from(twinS, 'hex')]).toString('base64url')}`;
      // The twin is a valid signature in its own right: only the replay guard stops it.
      await expect(jwtVerify(twin, publicKey, { algorithms: ['ES256'] })).resolves.toHaveProperty('payload');
      expect(reasonOf(await v.verify(request(twin)).catch((e: unknown) => e))).toBe('signature already used');
    });
  });
});
