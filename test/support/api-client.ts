/** HTTP clients for the tests: a signed device-API client and the admin API. */
import type { KeyObject } from 'node:crypto';
import { signRequest } from '@lib/request-signing';

export interface HttpResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

export async function http<T = any>(url: string, init: RequestInit): Promise<HttpResult<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers, text };
}

export interface SignOptions {
  /** Sign over these claims instead of the real request (for attack tests). */
  signMethod?: string;
  signUri?: string;
  signBody?: string;
  timestamp?: Date | string;
  headers?: Record<string, string>;
  contentType?: string;
}

export class DeviceApiClient {
  constructor(
    readonly baseUrl: string,
    readonly clientKey: string,
    readonly privateKey: string | KeyObject,
  ) {}

  async headersFor(method: string, path: string, body: string | undefined, opts: SignOptions = {}): Promise<Record<string, string>> {
    const signed = await signRequest({
      clientKey: this.clientKey,
      privateKey: this.privateKey,
      method: opts.signMethod ?? method,
      uri: opts.signUri ?? path,
      body: opts.signBody ?? body,
      timestamp: opts.timestamp,
    });
    return { ...signed, ...(body !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {}), ...opts.headers };
  }

  async send<T = any>(method: string, path: string, body?: unknown, opts: SignOptions = {}): Promise<HttpResult<T>> {
    const raw = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers = await this.headersFor(method, path, raw, opts);
    return http<T>(this.baseUrl + path, { method, headers, body: raw });
  }

  createDevice(accountKey: string, body: unknown) {
    return this.send('POST', `/account/${accountKey}/device`, body);
  }
  resend(accountKey: string, deviceKey: string, body?: unknown) {
    return this.send('PATCH', `/account/${accountKey}/device/${deviceKey}/resend_token`, body);
  }
  validate(accountKey: string, deviceKey: string, token: string) {
    return this.send('PUT', `/account/${accountKey}/device/${deviceKey}/validate`, { token });
  }
  query(accountKey: string, deviceKey: string) {
    return this.send('GET', `/account/${accountKey}/device/${deviceKey}`);
  }
  disable(accountKey: string, deviceKey: string) {
    return this.send('DELETE', `/account/${accountKey}/device/${deviceKey}/disable`);
  }
}

export class AdminClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  put(path: string, body: unknown, token: string | undefined = this.token) {
    return http(this.baseUrl + path, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  }
}
