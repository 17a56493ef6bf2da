/**
 * Verifies the upstream request signature: a JWT signed by the client's
 * private key, with claims binding it to this exact request
 * (`payload_md5`, `method`, `uri`) and to a moment (`timestamp`).
 *
 * The algorithm is taken from the client's registered key, never from the
 * token's header, so `alg: none` and HS*-with-the-public-key tokens fail.
 */
import { Injectable, Inject } from '@nestjs/common';
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { ApiConfig } from '@lib/config';
import { AUTH_FAILURE_DETAILS, DomainError, ErrorCodes, type AuthFailureReason } from '@lib/domain';
import { ReplayGuard, type RecordsReadWithReplayCheck } from '@lib/store';
import { UnsupportedKeyError, algorithmForKey, parseSignatureTimestamp, payloadMd5Matches, type RequestSigningAlg } from '@lib/request-signing';
import { APP_CONFIG } from '../infrastructure/tokens';
import { signatureDigest } from './signature-identity';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';

interface RegisteredKey {
  key: KeyObject;
  alg: RequestSigningAlg;
}

/** Parses a PEM public key of a supported kind, or says why not. */
export function parsePublicKey(pem: string): RegisteredKey | { error: string } {
  // createPublicKey would happily derive a public key from a private one; a
  // private key sent here must be refused, not stored.
  if (pem.includes('PRIVATE KEY')) return { error: 'a private key was sent; register the public key only' };
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return { error: 'not a PEM public key' };
  }
  try {
    return { key, alg: algorithmForKey(key) };
  } catch (err) {
    if (err instanceof UnsupportedKeyError) return { error: 'unsupported key type (use P-521, P-256 or Ed25519)' };
    throw err;
  }
}

export interface SignedRequest {
  clientKey: string;
  publicKeyPem: string;
  authorization: string;
  method: string;
  path: string;
  rawBody: Buffer | undefined;
  /**
   * The account and device the request names (canonical keys), when its
   * route reads both: read in the replay check's round trip, on a first use
   * only, and returned by verify.
   */
  readAlong?: { accountKey: string; deviceKey: string };
}

/** A JWS in compact serialization: three base64url segments (the signature empty for `alg: none`), no padding, nothing else. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** GDF000014 with its detail in both languages; `extra_fields.reason` names the cause for machines. */
export const unauthenticated = (reason: AuthFailureReason) => new DomainError(ErrorCodes.unauthenticated, { reason }, { detail: AUTH_FAILURE_DETAILS[reason] });

/**
 * How long an accepted signature is remembered. Its timestamp is accepted
 * from skew before to skew after it on any instance's clock, so 2 × skew
 * covers one clock; an instance whose clock runs d behind the one that
 * accepted it keeps accepting d longer, hence the margin (which must exceed
 * the clock difference between instances).
 */
export function replayMemoryMs(config: Pick<ApiConfig, 'authMaxClockSkewSeconds' | 'authClockSkewMarginSeconds'>): number {
  return (2 * config.authMaxClockSkewSeconds + config.authClockSkewMarginSeconds) * 1000;
}

@Injectable()
export class RequestVerifier {
  /** Parsed keys by PEM text: a re-registered key is simply a new entry. */
  private readonly keys = new Map<string, RegisteredKey>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    private readonly replays: ReplayGuard,
  ) {}

  /** Resolves once the request is authenticated, with the records `req.readAlong` asked for; throws GDF000014 otherwise. */
  async verify(req: SignedRequest, nowMs = Date.now()): Promise<RecordsReadWithReplayCheck | undefined> {
    const registered = this.keyFor(req.publicKeyPem);
    const jwt = req.authorization.startsWith('Bearer ') ? req.authorization.slice(7) : req.authorization;

    // The exact compact serialization, three base64url segments: jose's own
    // decoding is lenient (it skips whitespace, for one), and a token that
    // reads the same in more than one spelling would be a replay in disguise.
    if (!COMPACT_JWS.test(jwt)) throw unauthenticated('invalid signature');
    // A token for another algorithm than the key's (`none`, HS256 with the
    // public key as secret, another curve) is told apart from a bad signature.
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(jwt).alg;
    } catch {
      throw unauthenticated('invalid signature');
    }
    if (typeof alg !== 'string' || alg === '') throw unauthenticated('invalid signature');
    if (alg !== registered.alg) throw unauthenticated('algorithm not allowed');
    // jose verifies the compact JWS: its shape, the algorithm (the key's,
    // never the header's), the signature, and exp/nbf when present.
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(jwt, registered.key, { algorithms: [registered.alg], currentDate: new Date(nowMs) }));
    } catch (err) {
      throw unauthenticated(err instanceof joseErrors.JOSEAlgNotAllowed ? 'algorithm not allowed' : 'invalid signature');
    }

    if (!payloadMd5Matches(claims.payload_md5, req.rawBody)) throw unauthenticated('payload_md5 does not match the body');
    if (typeof claims.method !== 'string' || claims.method.toUpperCase() !== req.method.toUpperCase()) {
      throw unauthenticated('method does not match the request');
    }
    if (claims.uri !== req.path) throw unauthenticated('uri does not match the request');

    const timestamp = parseSignatureTimestamp(claims.timestamp);
    if (timestamp === undefined) throw unauthenticated('timestamp missing or not ISO-8601');
    if (Math.abs(nowMs - timestamp) > this.config.authMaxClockSkewSeconds * 1000) throw unauthenticated('timestamp outside the accepted window');

    // One signature is accepted once: its canonical bytes (signature-identity.ts),
    // so a re-spelt copy or an ECDSA-malleated twin is a replay, while two
    // fresh signatures over identical claims are two requests.
    const digest = signatureDigest(req.clientKey, registered.alg, jwt.slice(jwt.lastIndexOf('.') + 1));
    const ttlMs = replayMemoryMs(this.config);
    if (req.readAlong) {
      const records = await this.replays.firstUseReading(digest, ttlMs, req.readAlong.accountKey, req.readAlong.deviceKey);
      if (!records) throw unauthenticated('signature already used');
      return records;
    }
    if (!(await this.replays.firstUse(digest, ttlMs))) throw unauthenticated('signature already used');
    return undefined;
  }

  private keyFor(pem: string): RegisteredKey {
    let registered = this.keys.get(pem);
    if (!registered) {
      const parsed = parsePublicKey(pem);
      if ('error' in parsed) throw unauthenticated('client key is not usable');
      registered = parsed;
      if (this.keys.size > 10_000) this.keys.clear();
      this.keys.set(pem, registered);
    }
    return registered;
  }
}
