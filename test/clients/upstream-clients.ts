/**
 * Clients of the device API that owe nothing to this project: each signs
 * with an independent JWT library, the way that library's users write it
 * (the Python ones the way the upstream's own authentication pages do), and
 * sends with that ecosystem's HTTP client. The project's signer
 * (libs/request-signing) is not used here; in this tier it throws
 * (jest.config.js maps it to ./project-signer-disabled.ts).
 *
 * - python-jose and PyJWT: test/clients/upstream_client.py under Debian's
 *   /usr/bin/python3 (python3-jose, python3-jwt, python3-requests), one
 *   process per request.
 * - jsonwebtoken: `jwt.sign(claims, privateKeyPem, { algorithm })` and Node's
 *   fetch, in process.
 */
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import type { HttpResult } from '../support/api-client';

export const PYTHON = '/usr/bin/python3';
const SCRIPT = join(__dirname, 'upstream_client.py');

export type Library = 'python-jose' | 'pyjwt' | 'jsonwebtoken';
export type KeyKind = 'p521' | 'p256' | 'ed25519';
export type Alg = 'ES512' | 'ES256' | 'EdDSA';
export const ALG: Record<KeyKind, Alg> = { p521: 'ES512', p256: 'ES256', ed25519: 'EdDSA' };

/** How `payload_md5` is written: md5 of the JSON body, of "{}", of "", or no claim at all. */
export type PayloadMd5 = 'body' | 'braces' | 'empty' | 'omitted';

export interface Signing {
  /** One of the client's `timestampForms` (default: its `style.timestamp`). */
  timestamp?: string;
  /** The timestamp names a moment this many seconds ago. */
  ageSeconds?: number;
  /** Default: 'body' with a body, the client's `style.bodiless` without. */
  payloadMd5?: PayloadMd5;
  /** iat, exp and kid claims, and a kid header field. */
  extraClaims?: boolean;
  /** Requests sent after the first: the same headers again ('copy'), or the same claims signed again ('resign'). */
  then?: ('copy' | 'resign')[];
  /** Sign with this key instead of the registered one. */
  privateKeyPem?: string;
  /** Send this API-CLIENT-KEY instead of the client's. */
  apiClientKey?: string;
}

/** One request as sent and answered. */
export interface Sent extends HttpResult {
  authorization: string;
  /** The claims the library signed (jsonwebtoken's as decoded from the token, its own `iat` included). */
  claims: Record<string, unknown>;
}

/** The library refused to sign (an algorithm it does not support): its own words. */
export class LibraryRefusal extends Error {}

export interface KeyPair {
  publicKeyPem: string;
  /** EC keys as `EC PRIVATE KEY` (SEC1), the form the upstream's pages show; Ed25519 as PKCS#8 (it has no other PEM). */
  privateKeyPem: string;
}

/** A fresh key pair from node:crypto (not the project's key helpers). */
export function newKeyPair(kind: KeyKind): KeyPair {
  const publicKeyEncoding = { type: 'spki', format: 'pem' } as const;
  if (kind === 'ed25519') {
    const pair = generateKeyPairSync('ed25519', { publicKeyEncoding, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    return { publicKeyPem: pair.publicKey, privateKeyPem: pair.privateKey };
  }
  const pair = generateKeyPairSync('ec', {
    namedCurve: kind === 'p521' ? 'P-521' : 'P-256',
    publicKeyEncoding,
    privateKeyEncoding: { type: 'sec1', format: 'pem' },
  });
  return { publicKeyPem: pair.publicKey, privateKeyPem: pair.privateKey };
}

/** How a library's users write a request by default (the flow is sent this way). */
export interface Style {
  timestamp: string;
  bodiless: PayloadMd5;
  /** Where this style comes from. */
  source: string;
}

export interface LibraryProfile {
  library: Library;
  /** Shown in figures and test names. */
  name: string;
  /** Every timestamp form the client writes: its key → how the code writes it. */
  timestampForms: Record<string, string>;
  /** The form with whole seconds and no zone (for the same-second and stale variants). */
  secondsForm: string;
  /**
   * UTC with a fraction and `Z`, a form every version of the service accepted:
   * the variants sign with it (and md5("{}") without a body) and change one
   * thing at a time, so each one fails for its own reason on a server that
   * refuses it.
   */
  zonedForm: string;
  style: Style;
}

/** The forms the upstream's Python pages (and Python's datetime) write a UTC timestamp in; upstream_client.py writes them. */
const PYTHON_TIMESTAMPS: Record<string, string> = {
  strftime: "datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%S')",
  'strftime-z': "datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%S.%fZ')",
  isoformat: 'datetime.utcnow().isoformat()',
  'aware-isoformat': 'datetime.now(timezone.utc).isoformat()',
};

/** The forms a Node client writes a UTC timestamp in. */
const NODE_TIMESTAMPS: Record<string, { code: string; write: (at: Date) => string }> = {
  iso: { code: 'new Date().toISOString()', write: (at) => at.toISOString() },
  seconds: { code: 'new Date().toISOString().slice(0, 19)', write: (at) => at.toISOString().slice(0, 19) },
  'seconds-z': { code: "new Date().toISOString().slice(0, 19) + 'Z'", write: (at) => `${at.toISOString().slice(0, 19)}Z` },
  'ms-no-zone': { code: 'new Date().toISOString().slice(0, 23)', write: (at) => at.toISOString().slice(0, 23) },
  offset: { code: "new Date().toISOString().replace('Z', '+00:00')", write: (at) => at.toISOString().replace('Z', '+00:00') },
};

export const PROFILES: Record<Library, LibraryProfile> = {
  'python-jose': {
    library: 'python-jose',
    name: 'python-jose',
    timestampForms: PYTHON_TIMESTAMPS,
    secondsForm: 'strftime',
    zonedForm: 'strftime-z',
    // The upstream page that builds dict_to_sign with `from jose import jwt`.
    style: { timestamp: 'strftime', bodiless: 'omitted', source: "upstream page 1: utcnow().strftime('%Y-%m-%dT%H:%M:%S'), payload_md5 only with a body" },
  },
  pyjwt: {
    library: 'pyjwt',
    name: 'PyJWT',
    timestampForms: PYTHON_TIMESTAMPS,
    secondsForm: 'strftime',
    zonedForm: 'strftime-z',
    // The upstream page whose get_auth_header signs json.dumps(request_body or {}), written with PyJWT.
    style: {
      timestamp: 'strftime-z',
      bodiless: 'braces',
      source: "upstream page 2: utcnow().strftime('%Y-%m-%dT%H:%M:%S.%fZ'), md5(json.dumps({})) without a body",
    },
  },
  jsonwebtoken: {
    library: 'jsonwebtoken',
    name: 'jsonwebtoken',
    timestampForms: Object.fromEntries(Object.entries(NODE_TIMESTAMPS).map(([form, { code }]) => [form, code])),
    secondsForm: 'seconds',
    zonedForm: 'iso',
    // What a Node client writes without thinking about it: toISOString(), md5 of the (empty) body.
    style: { timestamp: 'iso', bodiless: 'empty', source: "Node: new Date().toISOString(), md5 of '' without a body" },
  },
};

/** A client integration as one library signs for it. */
export class UpstreamClient {
  readonly profile: LibraryProfile;
  readonly alg: Alg;

  constructor(
    library: Library,
    readonly kind: KeyKind,
    readonly baseUrl: string,
    readonly apiClientKey: string,
    readonly keys: KeyPair,
  ) {
    this.profile = PROFILES[library];
    this.alg = ALG[kind];
  }

  get label(): string {
    return `${this.profile.name} ${this.alg}`;
  }

  /** Signs and sends; one answer per request sent (the first, then each of `signing.then`). */
  async send(method: string, path: string, body?: unknown, signing: Signing = {}): Promise<Sent[]> {
    const payloadMd5 = signing.payloadMd5 ?? (body === undefined ? this.profile.style.bodiless : 'body');
    const timestamp = signing.timestamp ?? this.profile.style.timestamp;
    if (!(timestamp in this.profile.timestampForms)) throw new Error(`${this.profile.name} has no timestamp form ${timestamp}`);
    const request = { method, path, body, payloadMd5, timestamp, signing };
    return this.profile.library === 'jsonwebtoken' ? this.sendWithJsonwebtoken(request) : this.sendWithPython(request);
  }

  private async sendWithPython(r: { method: string; path: string; body: unknown; payloadMd5: PayloadMd5; timestamp: string; signing: Signing }) {
    const spec = {
      library: this.profile.library,
      alg: this.alg,
      private_key: r.signing.privateKeyPem ?? this.keys.privateKeyPem,
      api_client_key: r.signing.apiClientKey ?? this.apiClientKey,
      base_url: this.baseUrl,
      method: r.method,
      path: r.path,
      ...(r.body === undefined ? {} : { body: r.body }),
      timestamp: r.timestamp,
      age_seconds: r.signing.ageSeconds ?? 0,
      payload_md5: r.payloadMd5,
      // The upstream page that uses md5(json.dumps({})) also passes the JWT header explicitly.
      jwt_header: this.profile.library === 'pyjwt',
      extra_claims: r.signing.extraClaims ?? false,
      then: r.signing.then ?? [],
    };
    const lines = await runPython(JSON.stringify(spec));
    return lines.map((line) => {
      const out = JSON.parse(line) as {
        status: number;
        headers: Record<string, string>;
        text: string;
        body: unknown;
        authorization: string;
        claims: Record<string, unknown>;
      };
      return { status: out.status, headers: new Headers(out.headers), text: out.text, body: out.body, authorization: out.authorization, claims: out.claims };
    });
  }

  private async sendWithJsonwebtoken(r: { method: string; path: string; body: unknown; payloadMd5: PayloadMd5; timestamp: string; signing: Signing }) {
    const bodyText = r.body === undefined ? undefined : JSON.stringify(r.body);
    const md5 = (text: string) => createHash('md5').update(text).digest('hex');
    const claims: Record<string, unknown> = {
      timestamp: NODE_TIMESTAMPS[r.timestamp].write(new Date(Date.now() - (r.signing.ageSeconds ?? 0) * 1000)),
      method: r.method,
      uri: r.path,
    };
    if (r.payloadMd5 === 'body') {
      if (bodyText === undefined) throw new Error("payload_md5 'body' needs a body");
      claims.payload_md5 = md5(bodyText);
    } else if (r.payloadMd5 === 'braces') claims.payload_md5 = md5('{}');
    else if (r.payloadMd5 === 'empty') claims.payload_md5 = md5('');
    if (r.signing.extraClaims) claims.kid = 'client-key-1';
    // jsonwebtoken adds `iat` itself; `expiresIn` adds `exp`, `keyid` the header's `kid`.
    const options: jwt.SignOptions = { algorithm: this.alg as jwt.Algorithm, ...(r.signing.extraClaims ? { expiresIn: 120, keyid: 'client-key-1' } : {}) };
    const key = r.signing.privateKeyPem ?? this.keys.privateKeyPem;
    const signed = () => {
      try {
        return jwt.sign(claims, key, options);
      } catch (err) {
        throw new LibraryRefusal(`${(err as Error).name}: ${(err as Error).message}`);
      }
    };
    const send = async (authorization: string): Promise<Sent> => {
      const res = await fetch(this.baseUrl + r.path, {
        method: r.method,
        headers: {
          'API-CLIENT-KEY': r.signing.apiClientKey ?? this.apiClientKey,
          AUTHORIZATION: authorization,
          ...(bodyText === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: bodyText,
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      return { status: res.status, headers: res.headers, text, body, authorization, claims: jwt.decode(authorization) as Record<string, unknown> };
    };
    let authorization = signed();
    const sent = [await send(authorization)];
    for (const step of r.signing.then ?? []) {
      if (step === 'resign') authorization = signed();
      sent.push(await send(authorization));
    }
    return sent;
  }
}

/** Runs the Python client with `stdin`; its output lines, or a LibraryRefusal (exit 3), or an error with its stderr. */
export function runPython(stdin: string, args: string[] = []): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const lines = out.split('\n').filter((line) => line !== '');
      if (code === 0) return resolve(lines);
      if (code === 3) return reject(new LibraryRefusal((JSON.parse(lines[0]) as { error: string }).error));
      reject(new Error(`${PYTHON} ${SCRIPT} exited ${code}: ${err || out}`));
    });
    child.stdin.end(stdin);
  });
}

/** The versions of Python and its libraries, as the script reports them. */
export async function pythonVersions(): Promise<Record<string, string>> {
  const [line] = await runPython('', ['--versions']);
  return JSON.parse(line) as Record<string, string>;
}
