/**
 * A compact-JWS verifier on node:crypto's asynchronous verify (libuv's thread
 * pool), for the benchmarks only: the verify-and-enqueue floor reference and
 * bench/verify-micro.ts measure the api's verification (jose's jwtVerify)
 * against it. The api itself uses jose; this is a reference, not a second
 * implementation to maintain. Rules as jose's: three base64url segments, JSON
 * header and claims, `crit` naming only `b64`, the key's algorithm, raw r‖s
 * ECDSA signatures, `iat`/`nbf`/`exp` checks.
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { RequestSigningAlg } from '@lib/request-signing';

/** The token is well-formed but signed with another algorithm than the key's. */
export class JwsAlgorithmNotAllowed extends Error {
  constructor() {
    super('"alg" (Algorithm) Header Parameter value not allowed');
    this.name = 'JwsAlgorithmNotAllowed';
  }
}

/** The token is malformed, its signature does not verify, or a standard claim fails. */
export class JwsInvalid extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'JwsInvalid';
  }
}

interface AlgorithmSpec {
  /** Digest for crypto.verify; null for EdDSA, which hashes internally. */
  hash: 'sha256' | 'sha512' | null;
  /** Signature length in bytes (ECDSA: r‖s, each the curve's field size). */
  signatureLength: number;
}

const ALGORITHMS: Record<RequestSigningAlg, AlgorithmSpec> = {
  ES512: { hash: 'sha512', signatureLength: 132 },
  ES256: { hash: 'sha256', signatureLength: 64 },
  EdDSA: { hash: null, signatureLength: 64 },
};

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeSegment(segment: string, what: string): Buffer {
  // Strict, as jose's decoder: only the base64url alphabet, no padding, and a
  // length that some byte string encodes to.
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) throw new JwsInvalid(`${what} is not base64url`);
  return Buffer.from(segment, 'base64url');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Object.prototype.toString.call(value) !== '[object Object]') return false;
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function parseJsonObject(segment: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(decodeSegment(segment, what)));
  } catch {
    throw new JwsInvalid(`${what} is not a JSON object`);
  }
  if (!isPlainObject(parsed)) throw new JwsInvalid(`${what} is not a JSON object`);
  return parsed;
}

/** Checks `crit` and returns whether the payload is base64url-encoded (`b64`). */
function checkCrit(header: Record<string, unknown>): boolean {
  const crit = header.crit;
  if (crit === undefined) return true;
  if (!Array.isArray(crit) || crit.length === 0 || crit.some((c) => typeof c !== 'string' || c.length === 0)) {
    throw new JwsInvalid('crit must be an array of non-empty strings');
  }
  for (const parameter of crit as string[]) {
    if (parameter !== 'b64') throw new JwsInvalid(`extension ${parameter} is not supported`);
    if (!Object.hasOwn(header, parameter) || header[parameter] === undefined) throw new JwsInvalid(`extension ${parameter} is missing`);
  }
  if (typeof header.b64 !== 'boolean') throw new JwsInvalid('b64 must be a boolean');
  return header.b64;
}

function verifySignature(spec: AlgorithmSpec, key: KeyObject, data: Buffer, signature: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (err: Error | null, ok: boolean) => resolve(!err && ok);
    // A key of another type, or a signature the key cannot read, is simply not valid.
    try {
      if (spec.hash) cryptoVerify(spec.hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature, done);
      else cryptoVerify(null, data, key, signature, done);
    } catch {
      resolve(false);
    }
  });
}

function checkNumericDates(claims: Record<string, unknown>, nowMs: number): void {
  const now = Math.floor(nowMs / 1000);
  for (const claim of ['iat', 'nbf', 'exp'] as const) {
    if (claims[claim] !== undefined && typeof claims[claim] !== 'number') throw new JwsInvalid(`${claim} must be a number`);
  }
  if (typeof claims.nbf === 'number' && claims.nbf > now) throw new JwsInvalid('nbf is in the future');
  if (typeof claims.exp === 'number' && claims.exp <= now) throw new JwsInvalid('the token has expired');
}

/**
 * Verifies `jwt` with `key`, which signs with `alg`, and returns its claims.
 * Throws JwsAlgorithmNotAllowed or JwsInvalid.
 */
export async function verifyCompactJwt(jwt: string, key: KeyObject, alg: RequestSigningAlg, nowMs = Date.now()): Promise<Record<string, unknown>> {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw new JwsInvalid('not a compact JWS');
  const [encodedHeader, encodedPayload, encodedSignature] = parts;

  const header = parseJsonObject(encodedHeader, 'protected header');
  const b64 = checkCrit(header);
  if (typeof header.alg !== 'string' || header.alg === '') throw new JwsInvalid('alg missing or invalid');
  if (header.alg !== alg) throw new JwsAlgorithmNotAllowed();
  if (!b64) throw new JwsInvalid('JWTs must not use an unencoded payload');
  if (!BASE64URL.test(encodedPayload)) throw new JwsInvalid('payload is not base64url');

  const spec = ALGORITHMS[alg];
  const signature = decodeSegment(encodedSignature, 'signature');
  const signingInput = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'latin1');
  const valid = signature.length === spec.signatureLength && (await verifySignature(spec, key, signingInput, signature));
  if (!valid) throw new JwsInvalid('signature verification failed');

  const claims = parseJsonObject(encodedPayload, 'claims set');
  checkNumericDates(claims, nowMs);
  return claims;
}
