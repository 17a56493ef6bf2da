/**
 * Constant-time comparison of a presented secret with a configured one, shared
 * by everything that checks a credential (admin API, queue dashboard, metrics).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The digest a configured secret is kept as; compute it once, at start-up. */
export const secretDigest = (value: string): Buffer => createHash('sha256').update(value).digest();

export function secretEquals(expectedDigest: Buffer, candidate: string): boolean {
  // Comparing fixed-length digests keeps the comparison constant-time and
  // does not reveal the secret's length.
  return timingSafeEqual(expectedDigest, secretDigest(candidate));
}
