/**
 * X-Twilio-Signature as Twilio documents it (a request's full URL followed by
 * its POST fields sorted by name, name then value, HMAC-SHA1 under the
 * account's auth token, base64): what the fake "Twilio" signs delivery
 * receipts with. Written from the documentation rather than taken from the
 * SDK, which the api verifies with.
 */
import { createHmac } from 'node:crypto';

export function twilioSignature(authToken: string, url: string, fields: Record<string, string>): string {
  const data = Object.keys(fields)
    .sort()
    .reduce((acc, name) => acc + name + fields[name], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}
