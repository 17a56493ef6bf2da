/**
 * Talks to the running api over HTTP with global fetch: admin calls with the
 * bearer token, device calls signed with @lib/request-signing. Turns "no one
 * is listening" and non-2xx answers into errors that print clearly.
 */
import { signRequest, type SignedRequestHeaders } from '@lib/request-signing';
import { requireAdminToken, type CliEnv } from './cli-support';

const REQUEST_TIMEOUT_MS = 15_000;

export interface ApiResponse {
  status: number;
  statusText: string;
  /** Parsed JSON when the answer is JSON, else the raw text (or undefined when empty). */
  body: unknown;
}

/** The api could not be reached at all (refused, DNS, timeout). */
export class ApiUnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach the API at ${url}: ${reason}`);
    this.name = 'ApiUnreachableError';
  }
}

/** The api answered, but not with a 2xx. `body` is normally the error envelope. */
export class ApiResponseError extends Error {
  constructor(
    readonly what: string,
    readonly response: ApiResponse,
  ) {
    super(`${what} failed: HTTP ${response.status} ${response.statusText}`);
    this.name = 'ApiResponseError';
  }
}

function describeFetchFailure(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  // undici puts the socket error in `cause` (an AggregateError when several addresses were tried).
  const cause = (error as { cause?: unknown })?.cause;
  const first = cause instanceof AggregateError ? cause.errors[0] : cause;
  const code = (first as NodeJS.ErrnoException | undefined)?.code;
  if (code) return code;
  if (first instanceof Error) return first.message;
  return error instanceof Error ? error.message : String(error);
}

export interface SendOptions {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export async function send(env: CliEnv, options: SendOptions): Promise<ApiResponse> {
  const url = `${env.apiUrl}${options.path}`;
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  // Without a body, no Content-Type: a JSON content type with an empty body is a 400.
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, {
      method: options.method,
      headers,
      body: options.body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new ApiUnreachableError(env.apiUrl, describeFetchFailure(error));
  }
  const text = await res.text();
  let body: unknown = text === '' ? undefined : text;
  if (text !== '' && (res.headers.get('content-type') ?? '').includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {
      // Keep the raw text: it is still worth showing.
    }
  }
  return { status: res.status, statusText: res.statusText, body };
}

export const isSuccess = (res: ApiResponse): boolean => res.status >= 200 && res.status < 300;

/** An admin call (`/internal/...`); throws ApiResponseError on a non-2xx. */
export async function adminPut(env: CliEnv, path: string, payload: unknown): Promise<ApiResponse> {
  const res = await send(env, {
    method: 'PUT',
    path,
    headers: { authorization: `Bearer ${requireAdminToken(env)}` },
    body: JSON.stringify(payload),
  });
  if (!isSuccess(res)) throw new ApiResponseError(`PUT ${path}`, res);
  return res;
}

export interface SignedCall {
  clientKey: string;
  privateKeyPem: string;
  method: string;
  path: string;
  body?: string;
}

export async function signedHeaders(call: SignedCall): Promise<SignedRequestHeaders> {
  return signRequest({ clientKey: call.clientKey, privateKey: call.privateKeyPem, method: call.method, uri: call.path, body: call.body });
}

/** A device call signed with the client's key; returns the answer whatever its status. */
export async function signedSend(env: CliEnv, call: SignedCall): Promise<ApiResponse> {
  const headers = await signedHeaders(call);
  return send(env, { method: call.method.toUpperCase(), path: call.path, headers: { ...headers }, body: call.body });
}

export function formatBody(body: unknown): string {
  if (body === undefined) return '(empty body)';
  return typeof body === 'string' ? body : JSON.stringify(body, null, 2);
}
