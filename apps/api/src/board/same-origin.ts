/**
 * Where a request to the queue dashboard says it comes from, read from the
 * headers a browser sets itself and a page cannot forge: `Sec-Fetch-Site`,
 * `Origin` and, for browsers that send no Origin, the `Referer`'s origin.
 * Compared with the `Host` the request was sent to, by host and port only:
 * TLS may be terminated in front of the api, so a browser's https Origin
 * reaches it over http. A page elsewhere can make the browser send the board a
 * request with the board's cached Basic credentials (a bodiless POST needs no
 * CORS grant); it cannot make that request look like it came from the board.
 */

export type Provenance =
  /** The board's own page sent it. */
  | 'same-origin'
  /** Another origin sent it, or the headers are malformed (Origin `null`, repeated, not a URL). */
  | 'foreign'
  /** Nothing says: a tool such as curl (browsers send Origin on every non-GET/HEAD request). */
  | 'unknown';

type HeaderValue = string | string[] | undefined;

export interface ProvenanceHeaders {
  origin?: HeaderValue;
  referer?: HeaderValue;
  'sec-fetch-site'?: HeaderValue;
}

/** A Host header's shape: a name or IP literal, an optional port; nothing a URL parser could read as user info or a path. */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export function provenanceOf(headers: ProvenanceHeaders, host: string | undefined): Provenance {
  const fetchSite = headers['sec-fetch-site'];
  if (fetchSite !== undefined && fetchSite !== 'same-origin') return 'foreign';
  const { origin, referer } = headers;
  if (origin !== undefined) return typeof origin === 'string' && isOrigin(origin) && sameHost(origin, host) ? 'same-origin' : 'foreign';
  if (referer !== undefined) return typeof referer === 'string' && sameHost(referer, host) ? 'same-origin' : 'foreign';
  return 'unknown';
}

/** Exactly a serialised origin (`scheme://host[:port]`), as browsers send it. */
function isOrigin(value: string): boolean {
  const url = parse(value);
  return url !== undefined && url.origin === value;
}

/**
 * Whether `url` names the host and port the request was sent to. The Host
 * header is read with the URL's own scheme, so a default port matches its
 * absence (`https://board.example` and `Host: board.example:443`, or
 * `Host: board.example` behind a TLS terminator).
 */
function sameHost(url: string, host: string | undefined): boolean {
  const from = parse(url);
  if (!from || (from.protocol !== 'http:' && from.protocol !== 'https:')) return false;
  if (host === undefined || !HOST.test(host)) return false;
  const to = parse(`${from.protocol}//${host}`);
  return to !== undefined && from.host === to.host;
}

function parse(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
