/**
 * ECDSA's malleability, for the replay tests: (r, s) and (r, n − s) are both
 * valid signatures of the same message, so a replay guard that compares
 * signature strings can be walked past with the twin. The orders n are the
 * curves' (as `openssl ecparam -param_enc explicit -text` prints them).
 */
const ORDER = {
  ES256: BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'),
  ES512: BigInt('0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409'),
};

/** The malleated twin of a JWS signature segment (raw r‖s, base64url). */
export function malleated(alg: keyof typeof ORDER, signatureSegment: string): string {
  const sig = Buffer.from(signatureSegment, 'base64url');
  const half = sig.length / 2;
  const twin = ORDER[alg] - BigInt(`0x${sig.subarray(half).toString('hex')}`);
  return Buffer.concat([sig.subarray(0, half), Buffer.from(twin.toString(16).padStart(half * 2, '0'), 'hex')]).toString('base64url');
}
