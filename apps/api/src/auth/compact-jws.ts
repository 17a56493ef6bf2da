/**
 * Verifies a compact JWS (the request JWT) with node:crypto, off the event
 * loop: `crypto.verify` with a callback runs on libuv's thread pool, so with
 * many requests in flight every core verifies signatures while the main
 * thread keeps serving.
 *
 * Why not jose's jwtVerify, which this replaced: jose verifies through
 * WebCrypto, which on Node 20 costs markedly more per P-521 (ES512)
 * verification than node:crypto on the same key, and ES512 verification is
 * what bounds the api's throughput (see README, "Performance"). The rules are
 * jose's, in jose's order, so the same tokens pass and fail (a unit spec
 * checks this against jose itself on valid, tampered and malformed tokens):
 *
 * - three base64url segments; the protected header and the claims set are
 *   JSON objects (strict UTF-8);
 * - `crit`, when present, names only `b64`, which must then be a boolean, and
 *   an unencoded payload (`b64: false`) is refused, as jose refuses it in JWTs;
 * - `alg` must be the registered key's algorithm (never taken from the token);
 * - the signature over `header.payload` must verify (raw r‖s for ECDSA);
 * - `iat`, `nbf` and `exp`, when present, must be numbers; `nbf` must not be
 *   in the future, `exp` must be in the future (no clock tolerance).
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
