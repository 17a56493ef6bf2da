/**
 * Keyed cryptography for tokens, from one server secret (TOKEN_HASH_SECRET):
 *
 * - `tokenFor(dispatchId)`: the code for one send request. It is drawn from
 *   HMAC-SHA256 under a derived key, seeded by the dispatch id (a random v4
 *   UUID made with the CSPRNG). Without the secret the output is
 *   indistinguishable from CSPRNG output; with it, a retry of the same
 *   dispatch re-creates the same code, so the plaintext never has to be
 *   stored anywhere to be re-sent. A new request has a new id, hence a new code.
 * - `hashToken`: what is stored, bound to the device.
 * - `matches`: constant-time comparison of a candidate with the stored hash.
 * - `destinationDigest`: keys the per-destination send cap without putting a
 *   phone number or e-mail into a Redis key.
 *
 * Only node:crypto is imported: no framework, queue or SDK.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ContactType } from './contact';
import { tokenFromBytes, type TokenPolicy } from './token-policy';

export class TokenCrypto {
  private readonly deriveKey: Buffer;
  private readonly hashKey: Buffer;
  private readonly destinationKey: Buffer;

  constructor(
    secret: string,
    private readonly policy: Pick<TokenPolicy, 'alphabet' | 'length'>,
  ) {
    const sub = (label: string) => createHmac('sha256', secret).update(label).digest();
    this.deriveKey = sub('device-2fa/token-derive/v1');
    this.hashKey = sub('device-2fa/token-hash/v1');
    this.destinationKey = sub('device-2fa/destination/v1');
  }

  tokenFor(dispatchId: string): string {
    let block = 0;
    return tokenFromBytes(this.policy, () => createHmac('sha256', this.deriveKey).update(`${dispatchId}:${block++}`).digest());
  }

  hashToken(deviceKey: string, token: string): string {
    return createHmac('sha256', this.hashKey).update(`${deviceKey}:${token}`).digest('hex');
  }

  matches(storedHashHex: string, deviceKey: string, candidate: string): boolean {
    const expected = Buffer.from(storedHashHex, 'hex');
    const actual = Buffer.from(this.hashToken(deviceKey, candidate), 'hex');
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  destinationDigest(channel: ContactType, destination: string): string {
    const normalised = channel === 'email' ? destination.trim().toLowerCase() : destination.trim();
    return createHmac('sha256', this.destinationKey).update(`${channel}:${normalised}`).digest('hex').slice(0, 32);
  }
}
