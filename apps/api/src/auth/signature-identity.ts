/**
 * What makes a request signature "the same one" for the replay guard: the
 * signature's bytes, not its spelling and not the claims it signs.
 *
 * - Two requests with identical claims (a client polling twice in the same
 *   second) carry two different ECDSA signatures and are two requests.
 * - A copy of a used signature is a replay, however its base64url is spelt
 *   (the unused bits of the last character do not count: the bytes do), and
 *   so is its malleated twin: for ECDSA, (r, s) and (r, n − s) both verify,
 *   so `s` is taken in its low form, min(s, n − s).
 * - EdDSA signatures are deterministic: the same claims signed twice with one
 *   Ed25519 key are the same signature, hence a replay (clients that poll
 *   within a second should vary a claim, or use ECDSA).
 */
import { createHash } from 'node:crypto';
import type { RequestSigningAlg } from '@lib/request-signing';

/** The order n of each ECDSA curve's group (SEC 2; as `openssl ecparam -param_enc explicit -text` prints it). */
export const CURVE_ORDER: Record<Exclude<RequestSigningAlg, 'EdDSA'>, bigint> = {
  ES256: BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'),
  ES512: BigInt('0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409'),
};

const toBigInt = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
const toBytes = (value: bigint, length: number) => Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex');

/** The signature's canonical bytes (ECDSA r‖low-s, EdDSA as is), from the JWT's third segment. */
export function canonicalSignature(alg: RequestSigningAlg, signatureSegment: string): Buffer {
  const signature = Buffer.from(signatureSegment, 'base64url');
  if (alg === 'EdDSA') return signature;
  const half = signature.length / 2;
  const n = CURVE_ORDER[alg];
  const s = toBigInt(signature.subarray(half));
  const low = s > n / 2n ? n - s : s;
  return Buffer.concat([signature.subarray(0, half), toBytes(low, half)]);
}

/** The replay guard's key for one signature of one client integration. */
export function signatureDigest(clientKey: string, alg: RequestSigningAlg, signatureSegment: string): string {
  return createHash('sha256').update(clientKey).update('.').update(canonicalSignature(alg, signatureSegment)).digest('hex');
}
