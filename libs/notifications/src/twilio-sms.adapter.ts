/**
 * SMS through Twilio's Programmable Messaging API, using the official SDK.
 *
 * The SDK talks to the API through a pluggable `httpClient` (the route the
 * Twilio maintainers point to for mock servers, twilio-node#326). Ours extends
 * the SDK's own RequestClient to:
 *  - send every request to `apiUrl` instead of https://api.twilio.com when set
 *    (local fakes, a regional proxy);
 *  - raise error responses as TwilioApiError, keeping the Retry-After header
 *    that the SDK's RestException drops.
 * SDK auto-retry stays off: the dispatch queue owns retries and backoff.
 */
import twilio from 'twilio';
import {
  PermanentSendError,
  ProviderRateLimitError,
  TransientSendError,
  type SendError,
  type SendReceipt,
  type SmsMessage,
  type SmsSender,
} from './notification.port';
import { codePart, networkFailureOf, parseRetryAfterMs } from './provider-error';
import { KeepAliveAgents, sendHttp } from './keep-alive-http';

export interface TwilioSmsOptions {
  accountSid: string;
  authToken: string;
  /** E.164 sender number (or alphanumeric sender id where allowed). */
  fromNumber: string;
  /** Base URL replacing https://api.twilio.com, e.g. `http://127.0.0.1:4010`. */
  apiUrl?: string;
  /** Where Twilio posts the message's delivery receipts (its `StatusCallback`); none asked for when absent. */
  statusCallback?: string;
  /** Extra CA certificates (a PEM file) to trust for Twilio's TLS (TWILIO_CA_BUNDLE). */
  caBundlePath?: string;
  /** An HTTP(S) proxy to send through (HTTP_PROXY): the SDK's own transport then, which supports one. */
  httpProxy?: string;
}

/**
 * An error answer from the Twilio API. Carries only the HTTP status, Twilio's
 * numeric error code and Retry-After; never Twilio's message text, which can
 * quote the destination number.
 */
export class TwilioApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number | undefined,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`Twilio API answered HTTP ${status}${code === undefined ? '' : ` with error ${code}`}`);
    this.name = 'TwilioApiError';
  }
}

function twilioErrorCode(body: unknown): number | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const code = (parsed as { code?: unknown } | null)?.code;
  return typeof code === 'number' && Number.isInteger(code) ? code : undefined;
}

function rebase(uri: string, base: URL): string {
  const original = new URL(uri);
  const target = new URL(base.href);
  target.pathname = base.pathname.replace(/\/+$/, '') + original.pathname;
  target.search = original.search;
  return target.href;
}

/**
 * The SDK's RequestClient, pointed at `apiBase` when given, raising error
 * answers with their headers, and sending over node:http keep-alive agents
 * (keep-alive-http.ts) rather than the SDK's axios instance. What goes on the
 * wire is what the SDK asks for: its method, URL, headers (User-Agent, Accept,
 * Content-Type), basic auth, form body and timeout. With HTTP_PROXY set, the
 * SDK's own path (which reads HTTP_PROXY from the environment itself) is used.
 */
// The SDK's transport types, through its public export (twilio.RequestClient).
type RequestClientOptions = NonNullable<ConstructorParameters<typeof twilio.RequestClient>[0]>;
type RequestOptions = Parameters<twilio.RequestClient['request']>[0];
type Response<TData> = Omit<Awaited<ReturnType<twilio.RequestClient['request']>>, 'body'> & { body: TData };

class TwilioTransport extends twilio.RequestClient {
  private readonly agents: KeepAliveAgents;
  private readonly viaProxy: boolean;

  constructor(
    options: RequestClientOptions,
    private readonly apiBase: URL | undefined,
    network: { caBundlePath?: string; httpProxy?: string },
  ) {
    super(options);
    this.agents = new KeepAliveAgents({ caBundlePath: network.caBundlePath });
    this.viaProxy = !!network.httpProxy;
  }

  override async request<TData>(opts: RequestOptions): Promise<Response<TData>> {
    const uri = this.apiBase ? rebase(opts.uri, this.apiBase) : opts.uri;
    try {
      const response = this.viaProxy ? ((await super.request({ ...opts, uri })) as Response<TData>) : await this.send<TData>({ ...opts, uri });
      if (response.statusCode >= 400) {
        throw new TwilioApiError(response.statusCode, twilioErrorCode(response.body), parseRetryAfterMs(response.headers?.['retry-after']));
      }
      return response;
    } finally {
      // RequestClient keeps the last request (with the body and credentials) for
      // debugging; don't let it outlive the call.
      this.lastRequest = undefined;
      this.lastResponse = undefined;
    }
  }

  /** What RequestClient.request does, over keep-alive-http instead of axios. */
  private async send<TData>(opts: RequestOptions): Promise<Response<TData>> {
    const headers: Record<string, string> = { ...(opts.headers as Record<string, string> | undefined) };
    if (!headers.Connection && !headers.connection) headers.Connection = 'keep-alive';
    if (opts.username && opts.password) headers.Authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
    else if (opts.authStrategy) headers.Authorization = await opts.authStrategy.getAuthString();

    const url = new URL(opts.uri);
    if (opts.params) for (const [k, v] of formEntries(opts.params)) url.searchParams.append(k, v);
    let body: string | undefined;
    if (opts.data && headers['Content-Type'] === 'application/x-www-form-urlencoded') body = new URLSearchParams(formEntries(opts.data)).toString();
    else if (opts.data && headers['Content-Type'] === 'application/json') body = JSON.stringify(opts.data);

    const answer = await sendHttp({ method: opts.method, url, headers, body, timeoutMs: opts.timeout || this.defaultTimeout }, this.agents);
    // As axios answered the SDK: a JSON body parsed, anything else as text.
    let parsed: unknown = answer.body;
    try {
      parsed = answer.body === '' ? answer.body : JSON.parse(answer.body);
    } catch {
      // not JSON: keep the text
    }
    return { statusCode: answer.statusCode, body: parsed as TData, headers: answer.headers } as unknown as Response<TData>;
  }
}

/**
 * Form fields as the SDK's qs.stringify(…, { arrayFormat: 'repeat' }) lays
 * them out for its flat, already serialised fields: arrays repeat their key,
 * undefined is left out, null is empty.
 */
function formEntries(fields: object): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push([key, v === null ? '' : String(v)]);
  }
  return out;
}

/**
 * Twilio error codes answered with a 4xx status that clear up once sends slow
 * down. 20429: too many requests; 21611: the sender's queue is full.
 */
const RATE_TWILIO_CODES = new Set([20429, 21611]);

function numberProp(value: unknown, key: string): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = (value as Record<string, unknown>)[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * Maps anything the Twilio SDK can throw to a send error, by type and status.
 * Works on TwilioApiError and on the SDK's RestException / TwilioServiceException
 * (both expose numeric `status` and `code`), and on axios network errors.
 */
export function classifyTwilioError(err: unknown): SendError {
  if (err instanceof TransientSendError || err instanceof PermanentSendError) return err;

  const status = numberProp(err, 'status');
  if (status !== undefined) {
    const twilioCode = numberProp(err, 'code');
    const retryAfterMs = err instanceof TwilioApiError ? err.retryAfterMs : undefined;
    const detail = `Twilio answered HTTP ${status}${twilioCode === undefined ? '' : ` with error ${twilioCode}`}`;
    if (status === 429) return new ProviderRateLimitError(`twilio_${twilioCode ?? 429}`, `Rate limited by Twilio: ${detail}`, retryAfterMs);
    if (status >= 500) return new TransientSendError(`http_${status}`, `Twilio is unavailable: ${detail}`, retryAfterMs);
    if (twilioCode !== undefined && RATE_TWILIO_CODES.has(twilioCode)) {
      return new ProviderRateLimitError(`twilio_${twilioCode}`, `Twilio is temporarily refusing messages: ${detail}`, retryAfterMs);
    }
    if (status >= 400) {
      const code = twilioCode === undefined ? `http_${status}` : `twilio_${twilioCode}`;
      const why = status === 401 || status === 403 ? 'Twilio rejected the credentials' : 'Twilio rejected the message';
      return new PermanentSendError(code, `${why}: ${detail}`);
    }
    return new TransientSendError(`http_${status}`, `Unexpected answer from Twilio: ${detail}`);
  }

  const network = networkFailureOf(err);
  if (network?.kind === 'timeout') return new TransientSendError('timeout', 'Twilio did not answer in time');
  if (network) return new TransientSendError(`network_${codePart(network.code)}`, `Network error reaching Twilio (${network.code})`);

  // Not a provider answer nor a known network failure. Retrying is bounded by
  // the queue; reporting it permanent could hide a passing glitch.
  const name = err instanceof Error ? err.name : typeof err;
  return new TransientSendError('twilio_unexpected', `Unexpected error sending SMS through Twilio (${codePart(name)})`);
}

/** The provider name Twilio sends are recorded under (dispatch `provider`, receipts' lookups). */
export const TWILIO_PROVIDER = 'twilio';

export class TwilioSmsAdapter implements SmsSender {
  readonly provider = TWILIO_PROVIDER;
  private readonly client: twilio.Twilio;
  private readonly fromNumber: string;
  private readonly statusCallback?: string;

  constructor(options: TwilioSmsOptions, timeoutMs: number) {
    // With an httpClient given, the client's own timeout/autoRetry options are
    // unused: they belong to the transport (timeout = axios request timeout).
    const httpClient = new TwilioTransport({ timeout: timeoutMs, autoRetry: false, keepAlive: true }, options.apiUrl ? new URL(options.apiUrl) : undefined, {
      caBundlePath: options.caBundlePath,
      httpProxy: options.httpProxy,
    });
    this.client = twilio(options.accountSid, options.authToken, { httpClient });
    this.fromNumber = options.fromNumber;
    this.statusCallback = options.statusCallback;
  }

  async sendSms(message: SmsMessage): Promise<SendReceipt> {
    let sid: string | undefined;
    try {
      const callback = this.statusCallback ? { statusCallback: this.statusCallback } : {};
      ({ sid } = await this.client.messages.create({ to: message.to, from: this.fromNumber, body: message.body, ...callback }));
    } catch (err) {
      throw classifyTwilioError(err);
    }
    // A success without an id is a broken answer; the message may be out, so do not retry.
    if (!sid) throw new PermanentSendError('twilio_missing_sid', 'Twilio accepted the request but returned no message SID');
    return { providerMessageId: sid };
  }
}
