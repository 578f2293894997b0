import { GatehouseError } from '../kernel/errors.ts';
import { normalizePath } from './path-normalize.ts';

/** A parsed `/proxy/<connection>/<path>` request target. */
export interface ProxyTarget {
  readonly connection: string;
  /**
   * The path below the connection, always starting with `/` (no query), normalized
   * ({@link normalizePath}): what policy decides on and exactly what is forwarded.
   */
  readonly endpoint: string;
  /** The raw query string including `?`, or ''. */
  readonly query: string;
}

const PREFIX = '/proxy/';

/**
 * Parses the raw request target (not a URL normalized by a library: `..` must be seen, not
 * resolved). The path is normalized by {@link normalizePath} (encoded unreserved characters
 * decoded, other escapes upper-cased; ambiguous encodings refused), then every form that could
 * move the request off the connection's base path or origin is rejected: dot segments (also
 * percent-encoded), empty segments (`//host`), and in the query backslashes, spaces, control
 * characters and `#`.
 *
 * @example
 *   parseProxyTarget('/proxy/openai/v1/chat/%63ompletions?x=1')
 *   // { connection: 'openai', endpoint: '/v1/chat/completions', query: '?x=1' }
 */
export function parseProxyTarget(rawUrl: string): ProxyTarget {
  if (!rawUrl.startsWith(PREFIX)) throw new GatehouseError('bad_request', 'expected /proxy/<connection>/<path>');
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl.slice(PREFIX.length) : rawUrl.slice(PREFIX.length, q);
  const query = q < 0 ? '' : rawUrl.slice(q);
  const slash = path.indexOf('/');
  const connection = slash < 0 ? path : path.slice(0, slash);
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(connection)) throw new GatehouseError('not_found', 'no such connection');
  if (hasForbidden(query) || query.includes('#')) throw new GatehouseError('bad_request', 'the query contains characters that are not allowed');
  const rest = normalizePath(slash < 0 ? '' : path.slice(slash + 1));
  const segments = rest.split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s === '.' || s === '..') throw new GatehouseError('bad_request', 'dot segments are not allowed in the path');
    if (s === '' && i < segments.length - 1) throw new GatehouseError('bad_request', 'empty path segments are not allowed');
  }
  return { connection, endpoint: `/${rest}`, query };
}

/**
 * The upstream request path: the connection URL's base path, then the endpoint and query.
 * The origin is never taken from the client.
 *
 * @example upstreamPath('https://api.example.com/base/', '/v1/x', '?a=1') === '/base/v1/x?a=1'
 */
export function upstreamPath(connectionUrl: string, endpoint: string, query: string): string {
  return `${urlParts(connectionUrl).basePath}${endpoint}${query}`;
}

/** The parts of a connection URL the proxy uses, parsed once per URL. */
export interface UrlParts {
  readonly origin: string;
  /** The path without its trailing slashes ('' for the root). */
  readonly basePath: string;
}

const parsedUrls = new Map<string, UrlParts>();

/** `origin` and `basePath` of a connection URL (cached: connection URLs are few). */
export function urlParts(connectionUrl: string): UrlParts {
  let p = parsedUrls.get(connectionUrl);
  if (p === undefined) {
    const u = new URL(connectionUrl);
    p = { origin: u.origin, basePath: u.pathname.replace(/\/+$/, '') };
    if (parsedUrls.size >= 1024) parsedUrls.clear();
    parsedUrls.set(connectionUrl, p);
  }
  return p;
}

/** Backslash, space, or a C0/DEL control character. */
function hasForbidden(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x5c) return true;
  }
  return false;
}
