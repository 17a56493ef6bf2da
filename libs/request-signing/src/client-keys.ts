/**
 * Client key pairs and the JWS algorithm each one implies. The server picks
 * the algorithm from the registered public key, never from the JWT header, so
 * both sides use `algorithmForKey` to agree on it.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export const CLIENT_KEY_KINDS = ['p521', 'p256', 'ed25519'] as const;
export type ClientKeyKind = (typeof CLIENT_KEY_KINDS)[number];

/** ES512 (ECDSA P-521) is the upstream scheme; ES256 and EdDSA are accepted too. */
export type RequestSigningAlg = 'ES512' | 'ES256' | 'EdDSA';

export interface ClientKeyPair {
  /** SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the form the admin API registers. */
  publicKeyPem: string;
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`); stays with the client. */
  privateKeyPem: string;
  alg: RequestSigningAlg;
}

/** The key is not one of P-521, P-256 or Ed25519 (RSA, P-384, X25519, secret, unparsable...). */
export class UnsupportedKeyError extends Error {
  constructor(readonly detail: string) {
    super(`Unsupported client key: ${detail}. Expected an ECDSA P-521, ECDSA P-256 or Ed25519 key.`);
    this.name = 'UnsupportedKeyError';
  }
}

export function isClientKeyKind(value: string): value is ClientKeyKind {
  return (CLIENT_KEY_KINDS as readonly string[]).includes(value);
}

export function generateClientKeyPair(kind: ClientKeyKind): ClientKeyPair {
  const publicKeyEncoding = { type: 'spki', format: 'pem' } as const;
  const privateKeyEncoding = { type: 'pkcs8', format: 'pem' } as const;
  switch (kind) {
    case 'p521': {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-521', publicKeyEncoding, privateKeyEncoding });
      return { publicKeyPem: pair.publicKey, privateKeyPem: pair.privateKey, alg: 'ES512' };
    }
    case 'p256': {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding, privateKeyEncoding });
      return { publicKeyPem: pair.publicKey, privateKeyPem: pair.privateKey, alg: 'ES256' };
    }
    case 'ed25519': {
      const pair = generateKeyPairSync('ed25519', { publicKeyEncoding, privateKeyEncoding });
      return { publicKeyPem: pair.publicKey, privateKeyPem: pair.privateKey, alg: 'EdDSA' };
    }
    default:
      throw new UnsupportedKeyError(`unknown key kind ${JSON.stringify(kind)}`);
  }
}

/**
 * The algorithm a key signs with. Accepts a PEM (public or private; a private
 * key is reduced to its public half) or a KeyObject. Throws
 * `UnsupportedKeyError` for any other key type or curve.
 */
export function algorithmForKey(key: string | KeyObject): RequestSigningAlg {
  let keyObject: KeyObject;
  if (typeof key === 'string') {
    try {
      keyObject = createPublicKey(key);
    } catch {
      throw new UnsupportedKeyError('not a PEM-encoded public or private key');
    }
  } else {
    keyObject = key;
  }
  if (keyObject.type === 'secret') throw new UnsupportedKeyError('secret (symmetric) key');
  switch (keyObject.asymmetricKeyType) {
    case 'ec': {
      const curve = keyObject.asymmetricKeyDetails?.namedCurve;
      if (curve === 'secp521r1') return 'ES512';
      if (curve === 'prime256v1') return 'ES256';
      throw new UnsupportedKeyError(`EC curve ${curve ?? 'unknown'}`);
    }
    case 'ed25519':
      return 'EdDSA';
    default:
      throw new UnsupportedKeyError(`key type ${keyObject.asymmetricKeyType ?? 'unknown'}`);
  }
}
