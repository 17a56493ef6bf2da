/**
 * Verifies the upstream request signature: a JWT signed by the client's
 * private key, with claims binding it to this exact request
 * (`payload_md5`, `method`, `uri`) and to a moment (`timestamp`).
 *
 * The algorithm is taken from the client's registered key, never from the
 * token's header, so `alg: none` and HS*-with-the-public-key tokens fail.
 */
import { Injectable, Inject } from '@nestjs/common';
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { ApiConfig } from '@lib/config';
import { DomainError, ErrorCodes } from '@lib/domain';
import { ReplayGuard } from '@lib/store';
import { UnsupportedKeyError, algorithmForKey, payloadMd5, type RequestSigningAlg } from '@lib/request-signing';
import { APP_CONFIG } from '../infrastructure/tokens';
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
}

/** UTC ISO-8601 date-time, e.g. `2024-12-22T20:30:23.459Z` (an explicit offset is accepted too). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/** A JWS in compact serialization: three base64url segments (the signature empty for `alg: none`), no padding, nothing else. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const unauthenticated = (reason: string) => new DomainError(ErrorCodes.unauthenticated, { reason });

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

  async verify(req: SignedRequest, nowMs = Date.now()): Promise<void> {
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

    const expectedMd5 = payloadMd5(req.rawBody);
    if (claims.payload_md5 !== expectedMd5) throw unauthenticated('payload_md5 does not match the body');
    if (typeof claims.method !== 'string' || claims.method.toUpperCase() !== req.method.toUpperCase()) {
      throw unauthenticated('method does not match the request');
    }
    if (claims.uri !== req.path) throw unauthenticated('uri does not match the request');

    const timestamp = typeof claims.timestamp === 'string' && ISO_8601.test(claims.timestamp) ? Date.parse(claims.timestamp) : NaN;
    const skewMs = this.config.authMaxClockSkewSeconds * 1000;
    if (Number.isNaN(timestamp)) throw unauthenticated('timestamp missing or not ISO-8601');
    if (Math.abs(nowMs - timestamp) > skewMs) throw unauthenticated('timestamp outside the accepted window');

    // The signed part (header.payload), not the signature: ECDSA signatures
    // are malleable, so a replay could carry a different but valid signature.
    const signingInput = jwt.slice(0, jwt.lastIndexOf('.'));
    const digest = createHash('sha256').update(`${req.clientKey}.${signingInput}`).digest('hex');
    if (!(await this.replays.firstUse(digest, replayMemoryMs(this.config)))) throw unauthenticated('signature already used');
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
