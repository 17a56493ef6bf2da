/**
 * E-mail through Amazon SES v2 (SendEmail, simple content), using the AWS SDK.
 * Credentials come from the SDK's default chain (environment, profile, role).
 * The SDK's own retries are off (maxAttempts 1): the dispatch queue owns
 * retries and backoff. The request handler enforces the provider timeout.
 */
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import {
  PermanentSendError,
  ProviderRateLimitError,
  TransientSendError,
  type EmailMessage,
  type EmailSender,
  type SendError,
  type SendReceipt,
} from './notification.port';
import { codePart, networkFailureOf } from './provider-error';

export interface SesEmailOptions {
  fromAddress: string;
  region: string;
  /** Endpoint replacing the regional SES endpoint, e.g. `http://127.0.0.1:4020`. */
  endpoint?: string;
}

/** Error names that mean "slow down", whatever status they came with. */
const THROTTLING_NAMES = new Set([
  'TooManyRequestsException',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
]);

/** Error names that retrying cannot fix: the message, the sender or the credentials are refused. */
const PERMANENT_NAMES = new Set([
  'MessageRejected',
  'MailFromDomainNotVerifiedException',
  'AccountSuspendedException',
  'SendingPausedException',
  'BadRequestException',
  'NotFoundException',
  'LimitExceededException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'AccessDeniedException',
  'ExpiredTokenException',
  'CredentialsProviderError',
]);

interface AwsErrorShape {
  name?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** Maps anything SESv2Client.send can throw to a send error, by error name, fault and status. */
export function classifySesError(err: unknown): SendError {
  if (err instanceof TransientSendError || err instanceof PermanentSendError) return err;

  const shape = (typeof err === 'object' && err !== null ? err : {}) as AwsErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : undefined;
  const status = typeof shape.$metadata?.httpStatusCode === 'number' ? shape.$metadata.httpStatusCode : undefined;

  // Without an HTTP status the request never got an answer: look for a network failure first.
  if (status === undefined) {
    const network = networkFailureOf(err);
    if (network?.kind === 'timeout') return new TransientSendError('timeout', 'SES did not answer in time');
    if (network) return new TransientSendError(`network_${codePart(network.code)}`, `Network error reaching SES (${network.code})`);
  }

  const known = name !== undefined && name !== 'Unknown' && name !== 'Error';
  const code = known ? `ses_${codePart(name)}` : status !== undefined ? `http_${status}` : 'ses_unexpected';
  const detail = `SES answered ${status === undefined ? 'without an HTTP status' : `HTTP ${status}`} with ${known ? name : 'an unnamed error'}`;

  if ((name && THROTTLING_NAMES.has(name)) || status === 429) return new ProviderRateLimitError(code, `Rate limited by SES: ${detail}`);
  if (name && PERMANENT_NAMES.has(name)) return new PermanentSendError(code, `SES refused the message: ${detail}`);
  if (shape.$fault === 'server' || (status !== undefined && status >= 500)) return new TransientSendError(code, `SES is unavailable: ${detail}`);
  if (status !== undefined && status >= 400) return new PermanentSendError(code, `SES refused the message: ${detail}`);

  // Not a service answer nor a known network failure. Retrying is bounded by
  // the queue; reporting it permanent could hide a passing glitch.
  return new TransientSendError(code, `Unexpected error sending e-mail through SES: ${detail}`);
}

/**
 * Errors raised by Node's http module can belong to another JS realm (jest's
 * sandbox, `vm` contexts). The SDK's retry middleware replaces any throwable
 * that is not `instanceof Error` in its own realm with a bare Error, dropping
 * the `code` (ECONNRESET…) that classification relies on. This re-creates
 * such an error in this realm with its name, code and message only.
 */
function inThisRealm(err: unknown): unknown {
  if (err instanceof Error || typeof err !== 'object' || err === null) return err;
  const { name, code, message } = err as { name?: unknown; code?: unknown; message?: unknown };
  return Object.assign(new Error(typeof message === 'string' ? message : 'transport error'), {
    ...(typeof name === 'string' ? { name } : {}),
    ...(typeof code === 'string' ? { code } : {}),
  });
}

export class SesEmailAdapter implements EmailSender {
  readonly provider = 'ses';
  private readonly client: SESv2Client;
  private readonly fromAddress: string;

  constructor(options: SesEmailOptions, timeoutMs: number) {
    this.client = new SESv2Client({
      region: options.region,
      endpoint: options.endpoint,
      maxAttempts: 1,
      // Options for the SDK's default NodeHttpHandler. requestTimeout bounds the
      // whole exchange; since @smithy/node-http-handler 4.x it only warns unless
      // throwOnRequestTimeout is set.
      requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs, throwOnRequestTimeout: true },
    });
    // Between the retry middleware and the HTTP handler: see inThisRealm.
    this.client.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (err) {
          throw inThisRealm(err);
        }
      },
      { step: 'deserialize', priority: 'high', name: 'keepTransportErrorCodes' },
    );
    this.fromAddress = options.fromAddress;
  }

  async sendEmail(message: EmailMessage): Promise<SendReceipt> {
    let messageId: string | undefined;
    try {
      ({ MessageId: messageId } = await this.client.send(
        new SendEmailCommand({
          FromEmailAddress: this.fromAddress,
          Destination: { ToAddresses: [message.to] },
          Content: {
            Simple: {
              Subject: { Data: message.subject, Charset: 'UTF-8' },
              Body: { Text: { Data: message.body, Charset: 'UTF-8' } },
            },
          },
        }),
      ));
    } catch (err) {
      throw classifySesError(err);
    }
    // A success without an id is a broken answer; the message may be out, so do not retry.
    if (!messageId) throw new PermanentSendError('ses_missing_message_id', 'SES accepted the request but returned no MessageId');
    return { providerMessageId: messageId };
  }
}
