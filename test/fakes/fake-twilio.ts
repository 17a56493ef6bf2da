/**
 * A local stand-in for Twilio's Messages API, close enough for the real
 * `twilio` SDK: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
 * form-encoded, HTTP Basic auth with the account SID and auth token, 201 with
 * a Message resource, and Twilio-style JSON errors ({code, message, more_info, status}).
 */
import { randomBytes } from 'node:crypto';
import { FakeHttpServer, type FakeResponse, type FakeServerOptions, type RecordedRequest } from './fake-http-server';

export const FAKE_TWILIO_ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
export const FAKE_TWILIO_AUTH_TOKEN = 'fake-twilio-auth-token-0123456789';

export interface FakeTwilioOptions extends FakeServerOptions {
  accountSid?: string;
  authToken?: string;
}

export interface FakeSms {
  sid: string;
  accountSid: string;
  to: string;
  from: string;
  body: string;
  /** The `StatusCallback` the sender asked for (where delivery receipts should go), if any. */
  statusCallback?: string;
  receivedAt: Date;
}

const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;
const E164 = /^\+[1-9]\d{6,14}$/;

/** Rough SMS segment count: 160 GSM characters or 70 UCS-2 ones per single segment, 153/67 when concatenated. */
function segments(body: string): number {
  const [single, multi] = /^[\x20-\x7e\n\r]*$/.test(body) ? [160, 153] : [70, 67];
  return body.length <= single ? 1 : Math.ceil(body.length / multi);
}

/** The JSON body of a Twilio REST error. */
export function twilioError(status: number, code: number, message: string): FakeResponse {
  return {
    status,
    body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
  };
}

export class FakeTwilio extends FakeHttpServer<FakeSms> {
  readonly accountSid: string;
  readonly authToken: string;

  constructor(options: FakeTwilioOptions = {}) {
    super(options);
    this.accountSid = options.accountSid ?? FAKE_TWILIO_ACCOUNT_SID;
    this.authToken = options.authToken ?? FAKE_TWILIO_AUTH_TOKEN;
  }

  /** The next `count` sends fail as Twilio does for an invalid 'To' number (400, error 21211), unless another error is given. */
  permanentError(count = 1, code = 21211, message = "The 'To' number is not a valid phone number."): this {
    return this.failNext(count, twilioError(400, code, message));
  }

  /** The next `count` requests get 429 / error 20429, with Retry-After when `retryAfterSeconds` is given. */
  rateLimitNext(count = 1, retryAfterSeconds?: number): this {
    const response = twilioError(429, 20429, 'Too Many Requests');
    if (retryAfterSeconds !== undefined) response.headers = { 'Retry-After': String(retryAfterSeconds) };
    return this.failNext(count, response);
  }

  protected handle(request: RecordedRequest): FakeResponse {
    const match = MESSAGES_PATH.exec(request.path);
    if (!match) return twilioError(404, 20404, 'The requested resource was not found');
    if (request.method !== 'POST') return twilioError(405, 20004, 'Method not allowed');

    const auth = request.basicAuth;
    if (!auth || auth.username !== this.accountSid || auth.password !== this.authToken) {
      return twilioError(401, 20003, 'Authenticate');
    }
    if (decodeURIComponent(match[1]) !== this.accountSid) return twilioError(404, 20404, 'The requested resource was not found');

    const form = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
    const field = (name: string): string | undefined => (typeof form[name] === 'string' ? (form[name] as string) : undefined);
    const to = field('To');
    const from = field('From');
    const body = field('Body');
    if (!to) return twilioError(400, 21604, "A 'To' phone number is required.");
    if (!from) return twilioError(400, 21603, "A 'From' phone number is required.");
    if (!body) return twilioError(400, 21602, 'Message body is required.');
    if (!E164.test(to)) return twilioError(400, 21211, "The 'To' number is not a valid phone number.");

    const sid = `SM${randomBytes(16).toString('hex')}`;
    const now = new Date();
    this.deliver({ sid, accountSid: this.accountSid, to, from, body, statusCallback: field('StatusCallback'), receivedAt: now });
    const uri = `/2010-04-01/Accounts/${this.accountSid}/Messages/${sid}.json`;
    return {
      status: 201,
      body: {
        account_sid: this.accountSid,
        api_version: '2010-04-01',
        body,
        date_created: now.toUTCString(),
        date_sent: null,
        date_updated: now.toUTCString(),
        direction: 'outbound-api',
        error_code: null,
        error_message: null,
        from,
        messaging_service_sid: null,
        num_media: '0',
        num_segments: String(segments(body)),
        price: null,
        price_unit: 'USD',
        sid,
        status: 'queued',
        subresource_uris: { media: uri.replace(/\.json$/, '/Media.json') },
        to,
        uri,
      },
    };
  }
}
