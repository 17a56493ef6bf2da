/** The `payload_md5` claim: MD5 hex of the exact body bytes; `{}` stands in for a missing body. */
import { createHash } from 'node:crypto';

/** What a request without a body is hashed as (upstream rule). */
export const EMPTY_BODY_SUBSTITUTE = '{}';

/**
 * MD5 hex of the request body exactly as sent. `undefined` and the empty body
 * (zero bytes) both count as "no body" and hash as `{}`. A string is hashed
 * as its UTF-8 bytes, so sign the very string you send.
 */
export function payloadMd5(body: string | Uint8Array | undefined): string {
  const hash = createHash('md5');
  if (body === undefined || body.length === 0) hash.update(EMPTY_BODY_SUBSTITUTE, 'utf8');
  else if (typeof body === 'string') hash.update(body, 'utf8');
  else hash.update(body);
  return hash.digest('hex');
}
