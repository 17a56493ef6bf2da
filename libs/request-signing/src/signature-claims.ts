/**
 * How the server reads a request signature's claims, as the upstream's own
 * clients write them (contract, "Authentication"): the timestamp in every
 * ISO-8601 form they send, and the body hash of a request without a body in
 * every form they use.
 */
import { createHash } from 'node:crypto';
import { payloadMd5 } from './payload-md5';

/**
 * `2026-12-01T19:03:05`, with 0 to 9 fractional digits, and `Z`, an offset
 * (`+00:00`, `-03:00`) or no zone at all, which is UTC (one upstream page
 * builds it with `datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%S')`).
 */
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))?$/;

/** The instant a `timestamp` claim names, in ms since the epoch; undefined if it is not one of the accepted forms (or not a real date). */
export function parseSignatureTimestamp(claim: unknown): number | undefined {
  if (typeof claim !== 'string') return undefined;
  const m = TIMESTAMP.exec(claim);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', , sign, oh, om] = m;
  const fields = [y, mo, d, h, mi, s].map(Number);
  const ms = Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5], Number(fraction.padEnd(3, '0').slice(0, 3)));
  // Date.UTC rolls 2026-02-30 over into March: a date that does not read back is not one.
  const back = new Date(ms);
  const readBack = [back.getUTCFullYear(), back.getUTCMonth() + 1, back.getUTCDate(), back.getUTCHours(), back.getUTCMinutes(), back.getUTCSeconds()];
  if (readBack.some((v, i) => v !== fields[i])) return undefined;
  if (sign === undefined) return ms;
  const [hours, minutes] = [Number(oh), Number(om)];
  if (hours > 23 || minutes > 59) return undefined;
  return ms - (sign === '+' ? 1 : -1) * (hours * 60 + minutes) * 60_000;
}

/** What a request without a body may carry as `payload_md5`: md5 of `{}` (one upstream page) or of nothing; or no claim at all (another). */
export const BODILESS_PAYLOAD_MD5S: readonly string[] = [payloadMd5(undefined), createHash('md5').update('').digest('hex')];

/** Whether a `payload_md5` claim fits the body: the MD5 hex of its exact bytes; for no body, any bodiless form (never when there is a body). */
export function payloadMd5Matches(claim: unknown, body: Uint8Array | undefined): boolean {
  if (body === undefined || body.length === 0) return claim === undefined || (typeof claim === 'string' && BODILESS_PAYLOAD_MD5S.includes(claim));
  return typeof claim === 'string' && claim === payloadMd5(body);
}
