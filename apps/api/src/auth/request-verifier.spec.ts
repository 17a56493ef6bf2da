import { generateKeyPairSync } from 'node:crypto';
import { jwtVerify } from 'jose';
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
});
