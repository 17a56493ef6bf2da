import { MessageRejected, SESv2ServiceException, TooManyRequestsException, AccountSuspendedException } from '@aws-sdk/client-sesv2';
import { PermanentSendError, ProviderRateLimitError, TransientSendError } from './notification.port';
import { classifySesError } from './ses-email.adapter';

const EMAIL = 'approver.person@example.com';
const meta = (httpStatusCode?: number) => ({ $metadata: { httpStatusCode, attempts: 1, totalRetryDelay: 0 } });

function serviceError(name: string, status: number, fault: 'client' | 'server' = status >= 500 ? 'server' : 'client') {
  return new SESv2ServiceException({ name, $fault: fault, message: `failed for ${EMAIL}`, ...meta(status) });
}

describe('classifySesError', () => {
  it.each([
    [new MessageRejected({ message: `Email address is not verified: ${EMAIL}`, ...meta(400) }), PermanentSendError, 'ses_MessageRejected'],
    [new AccountSuspendedException({ message: 'suspended', ...meta(400) }), PermanentSendError, 'ses_AccountSuspendedException'],
    [serviceError('MailFromDomainNotVerifiedException', 400), PermanentSendError, 'ses_MailFromDomainNotVerifiedException'],
    [serviceError('BadRequestException', 400), PermanentSendError, 'ses_BadRequestException'],
    [serviceError('UnrecognizedClientException', 403), PermanentSendError, 'ses_UnrecognizedClientException'],
    [serviceError('InvalidSignatureException', 403), PermanentSendError, 'ses_InvalidSignatureException'],
    [serviceError('SomethingNew', 403), PermanentSendError, 'ses_SomethingNew'],
    [serviceError('Unknown', 400), PermanentSendError, 'http_400'],
    [new TooManyRequestsException({ message: 'slow down', ...meta(429) }), ProviderRateLimitError, 'ses_TooManyRequestsException'],
    [serviceError('Throttling', 400), ProviderRateLimitError, 'ses_Throttling'],
    [serviceError('Unknown', 429), ProviderRateLimitError, 'http_429'],
    [serviceError('InternalFailure', 500), TransientSendError, 'ses_InternalFailure'],
    [serviceError('ServiceUnavailable', 503), TransientSendError, 'ses_ServiceUnavailable'],
    [serviceError('Unknown', 502), TransientSendError, 'http_502'],
    [serviceError('OddServerFault', 400, 'server'), TransientSendError, 'ses_OddServerFault'],
  ])('classifies %s', (err, type, code) => {
    const result = classifySesError(err);
    expect(result).toBeInstanceOf(type);
    // Only a rate refusal pauses the provider's sends.
    expect(result instanceof ProviderRateLimitError).toBe(type === ProviderRateLimitError);
    expect(result.code).toBe(code);
    expect(result.message).not.toContain(EMAIL);
  });

  it('reads transport errors by code, as the node http handler leaves them', () => {
    // The handler renames ECONNRESET / EPIPE / ETIMEDOUT errors to TimeoutError; the retry middleware adds $metadata.
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', name: 'TimeoutError', $metadata: { attempts: 1 } });
    expect(classifySesError(reset)).toMatchObject({ name: 'TransientSendError', code: 'network_ECONNRESET' });
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', $metadata: {} });
    expect(classifySesError(refused)).toMatchObject({ name: 'TransientSendError', code: 'network_ECONNREFUSED' });
    const requestTimeout = Object.assign(new Error('exceeded requestTimeout'), { name: 'TimeoutError', code: 'ETIMEDOUT' });
    expect(classifySesError(requestTimeout)).toMatchObject({ name: 'TransientSendError', code: 'timeout' });
    const socketTimeout = Object.assign(new Error('socket timed out'), { name: 'TimeoutError' });
    expect(classifySesError(socketTimeout)).toMatchObject({ name: 'TransientSendError', code: 'timeout' });
  });

  it('treats missing credentials as permanent', () => {
    const err = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    expect(classifySesError(err)).toMatchObject({ name: 'PermanentSendError', code: 'ses_CredentialsProviderError' });
  });

  it('treats anything unexpected as transient, never by message text', () => {
    expect(classifySesError(new Error('MessageRejected 400'))).toMatchObject({ name: 'TransientSendError', code: 'ses_unexpected' });
  });
});
