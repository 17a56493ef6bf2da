/**
 * Helpers shared by the provider adapters to turn SDK failures into
 * TransientSendError / PermanentSendError. Decisions are made on error
 * types, codes and HTTP statuses only, never on message text, and the
 * resulting errors never carry the provider's message (it may quote the
 * recipient) nor the original error as `cause` (SDK errors hold the request,
 * with the body and the credentials).
 */

/** Node/OS error codes that mean the network failed before a usable answer came back. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/** Codes that specifically mean "gave up waiting". ECONNABORTED is axios' code for its own timeout. */
const TIMEOUT_ERROR_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ECONNABORTED', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_SOCKET_CONNECTION_TIMEOUT']);

/** Error names used by Node, fetch and the AWS SDK for a request that ran out of time or was aborted by our deadline. */
const TIMEOUT_ERROR_NAMES = new Set(['TimeoutError', 'AbortError']);

export type NetworkFailure = { kind: 'timeout' } | { kind: 'network'; code: string };

function stringProp(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = (value as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Recognises a transport-level failure (no HTTP answer) from its `code`, then
 * its `name`, looking one level into `cause` as Node's fetch and some SDKs
 * wrap them. The code wins: the AWS SDK renames ECONNRESET / EPIPE errors to
 * `TimeoutError`, yet a dropped connection is not a timeout.
 */
export function networkFailureOf(err: unknown): NetworkFailure | undefined {
  for (const candidate of [err, (err as { cause?: unknown } | null)?.cause]) {
    const code = stringProp(candidate, 'code');
    if (code && TIMEOUT_ERROR_CODES.has(code)) return { kind: 'timeout' };
    if (code && NETWORK_ERROR_CODES.has(code)) return { kind: 'network', code };
    const name = stringProp(candidate, 'name');
    if (name && TIMEOUT_ERROR_NAMES.has(name)) return { kind: 'timeout' };
  }
  return undefined;
}

/** Keeps an identifier usable in a stable error code: letters, digits and underscores, bounded length. */
export function codePart(value: string | number): string {
  const cleaned = String(value)
    .replace(/[^A-Za-z0-9_]/g, '_')
    .slice(0, 64);
  return cleaned === '' ? 'unknown' : cleaned;
}

/**
 * Parses an HTTP Retry-After value (delta-seconds or HTTP-date) into
 * milliseconds from `now`. Returns undefined when absent or unparseable.
 */
export function parseRetryAfterMs(value: unknown, now: number = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return Math.round(raw * 1000);
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // HTTP-dates start with the day name; Date.parse alone would accept things like "-5".
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
