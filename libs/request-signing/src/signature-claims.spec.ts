import { createHash } from 'node:crypto';
import { BODILESS_PAYLOAD_MD5S, parseSignatureTimestamp, payloadMd5Matches } from './signature-claims';

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

describe('the timestamp claim, in every form upstream clients send it', () => {
  const at = Date.UTC(2026, 11, 1, 19, 3, 5);

  it.each([
    ['no zone, no fraction (datetime.utcnow().strftime)', '2026-12-01T19:03:05', at],
    ['no zone, microseconds (datetime.utcnow().isoformat)', '2026-12-01T19:03:05.123456', at + 123],
    ['Z, milliseconds (JavaScript toISOString)', '2026-12-01T19:03:05.123Z', at + 123],
    ['Z, no fraction', '2026-12-01T19:03:05Z', at],
    ['+00:00, microseconds (datetime.now(timezone.utc).isoformat)', '2026-12-01T19:03:05.123456+00:00', at + 123],
    ['an offset west of UTC', '2026-12-01T16:03:05-03:00', at],
    ['an offset east of UTC', '2026-12-01T21:33:05+02:30', at],
    ['nine fractional digits', '2026-12-01T19:03:05.999999999Z', at + 999],
    ['one fractional digit', '2026-12-01T19:03:05.5', at + 500],
  ])('reads %s', (_case, text, expected) => {
    expect(parseSignatureTimestamp(text)).toBe(expected);
  });

  it.each([
    ['a date only', '2026-12-01'],
    ['a space for the T', '2026-12-01 19:03:05'],
    ['ten fractional digits', '2026-12-01T19:03:05.1234567890Z'],
    ['an offset without a colon', '2026-12-01T19:03:05+0000'],
    ['a month that does not exist', '2026-13-01T19:03:05Z'],
    ['a day that does not exist', '2026-02-30T19:03:05Z'],
    ['hour 24', '2026-12-01T24:00:00Z'],
    ['an offset of 24 hours', '2026-12-01T19:03:05+24:00'],
    ['epoch seconds', '1796151785'],
    ['trailing text', '2026-12-01T19:03:05Z '],
  ])('refuses %s', (_case, text) => {
    expect(parseSignatureTimestamp(text)).toBeUndefined();
  });

  it('refuses what is not a string', () => {
    for (const value of [undefined, null, 1796151785000, {}, ['2026-12-01T19:03:05Z']]) expect(parseSignatureTimestamp(value)).toBeUndefined();
  });
});

describe('the payload_md5 claim', () => {
  it('of a request without a body: md5("{}"), md5("") or no claim at all', () => {
    expect([...BODILESS_PAYLOAD_MD5S].sort()).toEqual([md5(''), md5('{}')].sort());
    for (const body of [undefined, Buffer.alloc(0)]) {
      expect(payloadMd5Matches(md5('{}'), body)).toBe(true);
      expect(payloadMd5Matches(md5(''), body)).toBe(true);
      expect(payloadMd5Matches(undefined, body)).toBe(true);
      expect(payloadMd5Matches(md5('{"contact_type":"sms"}'), body)).toBe(false);
      expect(payloadMd5Matches(null, body)).toBe(false);
    }
  });

  it('of a request with a body: the MD5 of its exact bytes, and none of the bodiless forms', () => {
    const body = Buffer.from('{"contact_type": "sms"}');
    expect(payloadMd5Matches(md5('{"contact_type": "sms"}'), body)).toBe(true);
    expect(payloadMd5Matches(md5('{"contact_type":"sms"}'), body)).toBe(false);
    expect(payloadMd5Matches(md5('{}'), body)).toBe(false);
    expect(payloadMd5Matches(md5(''), body)).toBe(false);
    expect(payloadMd5Matches(undefined, body)).toBe(false);
    // A body of `{}` is a body: its hash is md5("{}") and nothing else.
    expect(payloadMd5Matches(md5('{}'), Buffer.from('{}'))).toBe(true);
    expect(payloadMd5Matches(undefined, Buffer.from('{}'))).toBe(false);
  });
});
