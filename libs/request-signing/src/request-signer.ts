/**
 * Signs a request the way the upstream API expects: an `API-CLIENT-KEY`
 * header naming the client, and an `AUTHORIZATION` header holding a compact
 * JWT signed with the client's private key over the body hash, time, method
 * and path. Used by the CLI, the end-to-end tests and the benchmarks.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { algorithmForKey, UnsupportedKeyError, type RequestSigningAlg } from './client-keys';
import { payloadMd5 } from './payload-md5';

export const API_CLIENT_KEY_HEADER = 'API-CLIENT-KEY';
export const AUTHORIZATION_HEADER = 'AUTHORIZATION';

/** The claims of a request signature; nothing else is put in the JWT. */
export interface RequestSignatureClaims {
  payload_md5: string;
  /** UTC ISO-8601 with milliseconds, e.g. `2024-05-01T12:00:00.000Z`. */
  timestamp: string;
  /** Upper case. */
  method: string;
  /** Request path without query string or fragment. */
  uri: string;
}

export interface SignedRequestHeaders {
  'API-CLIENT-KEY': string;
  AUTHORIZATION: string;
}

export interface SignRequestInput {
  clientKey: string;
  /** PKCS#8 (or SEC1) PEM, or a private KeyObject. */
  privateKey: string | KeyObject;
  /** Defaults to the algorithm implied by the key; a mismatch is refused. */
  alg?: RequestSigningAlg;
  method: string;
  /** Request path; a query string or fragment is dropped before signing. */
  uri: string;
  /** The exact body that will be sent; omit for a request without body. */
  body?: string | Uint8Array;
  /** Defaults to now. */
  timestamp?: Date | string;
}

interface PreparedKey {
  key: KeyObject;
  alg: RequestSigningAlg;
}

// Parsing a PEM and detecting its curve costs far more than signing, and
// callers (benchmarks especially) sign thousands of requests with the same
// few keys. jose itself caches the KeyObject → CryptoKey conversion in a
// WeakMap, so keeping the KeyObject alive here keeps that cache warm too.
const MAX_CACHED_PEMS = 256;
const pemCache = new Map<string, PreparedKey>();
const keyObjectCache = new WeakMap<KeyObject, PreparedKey>();

function prepare(privateKey: string | KeyObject): PreparedKey {
  if (typeof privateKey === 'string') {
    const cached = pemCache.get(privateKey);
    if (cached) return cached;
    let key: KeyObject;
    try {
      key = createPrivateKey(privateKey);
    } catch {
      throw new UnsupportedKeyError('not a PEM-encoded private key');
    }
    const prepared = { key, alg: algorithmForKey(key) };
    if (pemCache.size >= MAX_CACHED_PEMS) pemCache.delete(pemCache.keys().next().value as string);
    pemCache.set(privateKey, prepared);
    return prepared;
  }
  const cached = keyObjectCache.get(privateKey);
  if (cached) return cached;
  if (privateKey.type !== 'private') throw new UnsupportedKeyError(`a ${privateKey.type} key cannot sign`);
  const prepared = { key: privateKey, alg: algorithmForKey(privateKey) };
  keyObjectCache.set(privateKey, prepared);
  return prepared;
}

/** The path as signed: no query string, no fragment. */
export function signedUri(uri: string): string {
  const cut = uri.search(/[?#]/);
  return cut === -1 ? uri : uri.slice(0, cut);
}

export function requestClaims(input: Pick<SignRequestInput, 'method' | 'uri' | 'body' | 'timestamp'>): RequestSignatureClaims {
  const timestamp =
    input.timestamp === undefined ? new Date().toISOString() : typeof input.timestamp === 'string' ? input.timestamp : input.timestamp.toISOString();
  return {
    payload_md5: payloadMd5(input.body),
    timestamp,
    method: input.method.toUpperCase(),
    uri: signedUri(input.uri),
  };
}

export async function signRequest(input: SignRequestInput): Promise<SignedRequestHeaders> {
  const { key, alg } = prepare(input.privateKey);
  if (input.alg !== undefined && input.alg !== alg) {
    throw new UnsupportedKeyError(`the key signs with ${alg}, not ${input.alg}`);
  }
  const claims = requestClaims(input);
  const jwt = await new SignJWT({ ...claims }).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);
  return { 'API-CLIENT-KEY': input.clientKey, AUTHORIZATION: jwt };
}
