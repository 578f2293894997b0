/**
 * What the gateway can read of an HTTP body, by media type. On `http` connections only what can
 * be inspected is masked and passes; every other media type is refused unless the connection
 * lists it in `pass_media_types`.
 */

/** How a body of a media type is inspected. */
export type BodyKind =
  /** `application/json`, `*+json`: parsed, every string, key and number masked. */
  | 'json'
  /** NDJSON / JSON Lines / JSON text sequences: parsed line by line, streamed. */
  | 'ndjson'
  /** `application/x-www-form-urlencoded`: every name and value decoded, masked, re-encoded. */
  | 'form'
  /** XML and HTML: text with character references decoded first, streamed. */
  | 'markup'
  /** Plain text formats: stream-masked. */
  | 'text'
  /** `text/event-stream`: event by event (JSON data walked, other data as text). */
  | 'sse'
  /** Not readable: refused, or passed (scrubbed of the connection's secrets) when allowed. */
  | 'opaque';

/** A parsed `Content-Type`. */
export interface MediaType {
  /** `type/subtype`, lower-cased; '' when absent or malformed. */
  readonly type: string;
  /** The `charset` parameter, lower-cased, if any. */
  readonly charset: string | undefined;
  /** The other parameters as written (`; a=b`), for re-emitting. */
  readonly rest: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * Parses a `Content-Type` value (RFC 9110 §8.3). A malformed or absent type is ''.
 *
 * @example parseMediaType('Text/Plain; charset="UTF-16"') // { type: 'text/plain', charset: 'utf-16', rest: '' }
 */
export function parseMediaType(value: string | string[] | undefined): MediaType {
  const v = Array.isArray(value) ? value.join(',') : value ?? '';
  const parts = v.split(';');
  const type = (parts[0] ?? '').trim().toLowerCase();
  let charset: string | undefined;
  let rest = '';
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const name = p.slice(0, eq).trim().toLowerCase();
    const val = p.slice(eq + 1).trim();
    if (name === 'charset') charset = val.replace(/^"(.*)"$/, '$1').trim().toLowerCase();
    else rest += `; ${p.trim()}`;
  }
  return { type: TOKEN.test(type) && !v.includes(',') ? type : '', charset, rest };
}

const TEXT_TYPES = new Set(['text/plain', 'text/csv', 'text/tab-separated-values', 'text/markdown', 'text/x-markdown', 'text/calendar', 'text/vcard', 'text/rtf']);
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonl', 'application/jsonlines', 'application/x-jsonlines', 'application/json-seq']);
const MARKUP_TYPES = new Set(['text/xml', 'application/xml', 'text/html', 'application/xhtml+xml']);

/**
 * How a body of `type` is read. `text/javascript`, `text/css` and other text types whose
 * escapes (`\u0040`, `\40`) the maskers do not decode are opaque.
 *
 * @example bodyKind('application/problem+json') === 'json'; bodyKind('application/pdf') === 'opaque'
 */
export function bodyKind(type: string): BodyKind {
  if (type === 'application/json' || type === 'text/json' || (type.startsWith('application/') && type.endsWith('+json'))) return 'json';
  if (NDJSON_TYPES.has(type)) return 'ndjson';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  if (MARKUP_TYPES.has(type) || (type.startsWith('application/') && type.endsWith('+xml'))) return 'markup';
  if (TEXT_TYPES.has(type)) return 'text';
  if (type === 'text/event-stream') return 'sse';
  return 'opaque';
}

/**
 * Whether a connection's `pass_media_types` lets `type` through: exact `type/subtype`,
 * `type/*`, or `*\/*`. An absent or malformed type matches only `*\/*`.
 */
export function mediaAllowed(type: string, allowed: readonly string[] | undefined): boolean {
  if (allowed === undefined || allowed.length === 0) return false;
  const major = type.slice(0, type.indexOf('/') + 1);
  for (const a of allowed) {
    const x = a.toLowerCase();
    if (x === '*/*' || (type !== '' && (x === type || (x.endsWith('/*') && major !== '' && x.slice(0, -1) === major)))) return true;
  }
  return false;
}

/** Content codings the gateway decodes (RFC 9110 §8.4), outermost last as in the header. */
export type Coding = 'gzip' | 'deflate' | 'br' | 'zstd';

/** Most content codings stacked on one body. */
export const MAX_CODINGS = 2;

/**
 * The codings of a `Content-Encoding` value, in the order they were applied; `undefined` when one
 * is unknown or there are more than {@link MAX_CODINGS} (the body cannot be inspected).
 *
 * @example contentCodings('gzip') // ['gzip']; contentCodings('identity') // []; contentCodings('compress') // undefined
 */
export function contentCodings(value: string | string[] | undefined): Coding[] | undefined {
  const v = Array.isArray(value) ? value.join(',') : value ?? '';
  const out: Coding[] = [];
  for (const raw of v.split(',')) {
    const c = raw.trim().toLowerCase();
    if (c === '' || c === 'identity') continue;
    if (c === 'gzip' || c === 'x-gzip') out.push('gzip');
    else if (c === 'deflate' || c === 'br' || c === 'zstd') out.push(c);
    else return undefined;
  }
  return out.length > MAX_CODINGS ? undefined : out;
}

/** The media type to send after re-encoding a text body as UTF-8. */
export function utf8ContentType(m: MediaType): string {
  return `${m.type}${m.rest}; charset=utf-8`;
}
