/**
 * A local stand-in for Amazon SES v2 SendEmail, close enough for the real
 * `@aws-sdk/client-sesv2`: `POST /v2/email/outbound-emails` with a JSON body
 * and a SigV4 Authorization header, 200 `{"MessageId": ...}`, and restJson1
 * errors (`x-amzn-ErrorType` header + `{"message": ...}` body). The signature
 * itself is not verified; the access key id is, when `accessKeyId` is given.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { FakeHttpServer, type FakeResponse, type FakeServerOptions, type RecordedRequest } from './fake-http-server';

export interface FakeSesOptions extends FakeServerOptions {
  /** When set, requests signed with another access key id are refused (403 UnrecognizedClientException). */
  accessKeyId?: string;
}

export interface FakeEmail {
  messageId: string;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  /** Text part (or HTML part when there is no text part). */
  body: string;
  receivedAt: Date;
}

const SEND_EMAIL_PATH = '/v2/email/outbound-emails';
const SIGV4 = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\//;

/** An SES v2 (restJson1) error answer. */
export function sesError(status: number, errorType: string, message: string, headers: Record<string, string> = {}): FakeResponse {
  return {
    status,
    headers: { 'x-amzn-ErrorType': errorType, 'x-amzn-RequestId': randomUUID(), ...headers },
    body: { message },
  };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export class FakeSes extends FakeHttpServer<FakeEmail> {
  readonly accessKeyId?: string;

  constructor(options: FakeSesOptions = {}) {
    super(options);
    this.accessKeyId = options.accessKeyId;
  }

  /** The next `count` sends are rejected (400 MessageRejected by default). */
  permanentError(count = 1, errorType = 'MessageRejected', message = 'Email address is not verified.'): this {
    return this.failNext(count, sesError(400, errorType, message));
  }

  /** The next `count` requests are throttled (429 TooManyRequestsException), with Retry-After when given. */
  rateLimitNext(count = 1, retryAfterSeconds?: number): this {
    const headers: Record<string, string> = retryAfterSeconds === undefined ? {} : { 'Retry-After': String(retryAfterSeconds) };
    return this.failNext(count, sesError(429, 'TooManyRequestsException', 'Too many requests', headers));
  }

  protected handle(request: RecordedRequest): FakeResponse {
    if (request.path !== SEND_EMAIL_PATH) return sesError(404, 'NotFoundException', 'Not found');
    if (request.method !== 'POST') return sesError(405, 'MethodNotAllowedException', 'Method not allowed');

    const signature = SIGV4.exec(String(request.headers.authorization ?? ''));
    if (!signature) return sesError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    if (this.accessKeyId !== undefined && signature[1] !== this.accessKeyId) {
      return sesError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    }

    const input = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as {
      FromEmailAddress?: unknown;
      Destination?: { ToAddresses?: unknown; CcAddresses?: unknown; BccAddresses?: unknown };
      Content?: { Simple?: { Subject?: { Data?: unknown }; Body?: { Text?: { Data?: unknown }; Html?: { Data?: unknown } } } };
    };
    const from = typeof input.FromEmailAddress === 'string' ? input.FromEmailAddress : undefined;
    const to = strings(input.Destination?.ToAddresses);
    const cc = strings(input.Destination?.CcAddresses);
    const bcc = strings(input.Destination?.BccAddresses);
    const simple = input.Content?.Simple;
    const subject = simple?.Subject?.Data;
    const body = simple?.Body?.Text?.Data ?? simple?.Body?.Html?.Data;
    if (!from) return sesError(400, 'BadRequestException', 'FromEmailAddress is required.');
    if (to.length + cc.length + bcc.length === 0) return sesError(400, 'BadRequestException', 'At least one destination is required.');
    if (typeof subject !== 'string' || typeof body !== 'string') return sesError(400, 'BadRequestException', 'Simple content needs a subject and a body.');

    // Shaped like a real SES message id.
    const messageId = `0100${randomBytes(6).toString('hex')}-${randomUUID()}-000000`;
    this.deliver({ messageId, from, to, cc, bcc, subject, body, receivedAt: new Date() });
    return {
      status: 200,
      headers: { 'x-amzn-RequestId': randomUUID() },
      body: { MessageId: messageId },
    };
  }
}
