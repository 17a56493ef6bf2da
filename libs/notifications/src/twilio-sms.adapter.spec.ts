import twilio from 'twilio';
import { PermanentSendError, ProviderRateLimitError, TransientSendError } from './notification.port';
import { TwilioApiError, TwilioSmsAdapter, classifyTwilioError } from './twilio-sms.adapter';

const PHONE = '+5511987654321';

describe('classifyTwilioError', () => {
  it.each([
    [new TwilioApiError(401, 20003, undefined), PermanentSendError, 'twilio_20003'],
    [new TwilioApiError(403, 20003, undefined), PermanentSendError, 'twilio_20003'],
    [new TwilioApiError(400, 21211, undefined), PermanentSendError, 'twilio_21211'],
    [new TwilioApiError(400, 21610, undefined), PermanentSendError, 'twilio_21610'],
    [new TwilioApiError(400, 21614, undefined), PermanentSendError, 'twilio_21614'],
    [new TwilioApiError(404, undefined, undefined), PermanentSendError, 'http_404'],
    [new TwilioApiError(400, 21611, undefined), ProviderRateLimitError, 'twilio_21611'],
    [new TwilioApiError(429, 20429, undefined), ProviderRateLimitError, 'twilio_20429'],
    [new TwilioApiError(429, undefined, undefined), ProviderRateLimitError, 'twilio_429'],
    [new TwilioApiError(500, 20500, undefined), TransientSendError, 'http_500'],
    [new TwilioApiError(503, undefined, undefined), TransientSendError, 'http_503'],
    [new TwilioApiError(302, undefined, undefined), TransientSendError, 'http_302'],
  ])('classifies %s', (err, type, code) => {
    const result = classifyTwilioError(err);
    expect(result).toBeInstanceOf(type);
    // Only a rate refusal pauses the provider's sends.
    expect(result instanceof ProviderRateLimitError).toBe(type === ProviderRateLimitError);
    expect(result.code).toBe(code);
  });

  it('keeps Retry-After on rate limits and 5xx', () => {
    expect(classifyTwilioError(new TwilioApiError(429, 20429, 7_000))).toMatchObject({ code: 'twilio_20429', retryAfterMs: 7_000 });
    expect(classifyTwilioError(new TwilioApiError(503, undefined, 2_000))).toMatchObject({ code: 'http_503', retryAfterMs: 2_000 });
  });

  it("classifies the SDK's RestException by status and code, without its message", () => {
    const err = new twilio.RestException({
      statusCode: 400,
      body: { code: 21211, message: `The 'To' number ${PHONE} is not a valid phone number.`, more_info: 'https://www.twilio.com/docs/errors/21211' },
    });
    const result = classifyTwilioError(err);
    expect(result).toBeInstanceOf(PermanentSendError);
    expect(result.code).toBe('twilio_21211');
    expect(result.message).not.toContain(PHONE);
  });

  it.each([
    ['ECONNRESET', 'network_ECONNRESET'],
    ['ECONNREFUSED', 'network_ECONNREFUSED'],
    ['ENOTFOUND', 'network_ENOTFOUND'],
    ['ECONNABORTED', 'timeout'],
    ['ETIMEDOUT', 'timeout'],
  ])('classifies an axios %s error as transient %s', (axiosCode, code) => {
    const err = Object.assign(new Error('socket hang up'), { name: 'AxiosError', isAxiosError: true, code: axiosCode, config: { data: `Body=${PHONE}` } });
    const result = classifyTwilioError(err);
    expect(result).toBeInstanceOf(TransientSendError);
    expect(result.code).toBe(code);
    expect(result.message).not.toContain(PHONE);
  });

  it('treats anything unexpected as transient, never by message text', () => {
    expect(classifyTwilioError(new Error('HTTP 400 invalid number 21211'))).toMatchObject({ name: 'TransientSendError', code: 'twilio_unexpected' });
    expect(classifyTwilioError('boom')).toMatchObject({ name: 'TransientSendError', code: 'twilio_unexpected' });
  });

  it('passes our own send errors through', () => {
    const err = new PermanentSendError('twilio_21211', 'x');
    expect(classifyTwilioError(err)).toBe(err);
  });
});

describe('TwilioSmsAdapter', () => {
  it('refuses an account SID that is not one', () => {
    expect(() => new TwilioSmsAdapter({ accountSid: 'nope', authToken: 't', fromNumber: '+15005550006' }, 1_000)).toThrow(/AC/);
  });
});
