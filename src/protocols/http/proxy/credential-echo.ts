import { Buffer } from 'node:buffer';
import type { Connection } from '../../../connections/registry.ts';
import { ExactBytesScrubber, withExactValues } from '../../../masking/exact-values.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import { maskDecoded } from '../../../inspect/prompt/excerpt.ts';

/** Shorter secrets are not searched for (they would match ordinary text); the config should not hold them. */
export const MIN_SECRET_LENGTH = 6;

/** The credential values a connection holds (never its user name alone: that is not a secret). */
function secretsOf(conn: Connection): string[] {
  const c = conn.credentials;
  const out: string[] = [];
  for (const k of ['api_key', 'bearer', 'password', 'header_value'] as const) {
    const v = c[k]?.reveal();
    if (v !== undefined && v.length >= MIN_SECRET_LENGTH) out.push(v);
  }
  const user = c.username?.reveal();
  const pass = c.password?.reveal();
  if (user !== undefined && pass !== undefined) out.push(`${user}:${pass}`);
  return out;
}

/**
 * The base64 text that every base64 encoding of a stream containing `s` contains, at each of the
 * three alignments `s` can have in it (the first and last characters, which depend on the
 * neighbouring bytes, are dropped).
 */
function base64Cores(s: Buffer): string[] {
  const out: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad), s]).toString('base64');
    const from = pad === 0 ? 0 : Math.ceil((pad * 4) / 3) + 1;
    const whole = Math.floor((pad + s.length) / 3) * 4;
    const core = b64.slice(from, whole);
    out.push(core);
    out.push(core.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return out;
}

/**
 * Every form in which an upstream that echoes a request would hand a vaulted secret back: the
 * value itself (so `Bearer <x>` and `x-api-key: <x>` too), base64 of it and of `user:password`
 * (Basic auth, at any alignment inside a longer base64 text, standard and URL alphabets),
 * percent-encoded (upper- and lower-case hex, `+` for space), JSON-escaped (with `\/`) and
 * HTML-escaped. Only values of at least {@link MIN_SECRET_LENGTH} characters.
 *
 * @example echoForms(conn) // ['sk-upstream-…', 'c2stdXBzdHJlYW0t…', …]
 */
export function echoForms(conn: Connection): string[] {
  const forms = new Set<string>();
  for (const s of secretsOf(conn)) {
    forms.add(s);
    const bytes = Buffer.from(s, 'utf8');
    for (const core of base64Cores(bytes)) forms.add(core);
    const pct = encodeURIComponent(s);
    forms.add(pct);
    forms.add(pct.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
    forms.add(pct.replaceAll('%20', '+'));
    const json = JSON.stringify(s).slice(1, -1);
    forms.add(json);
    forms.add(json.replaceAll('/', '\\/'));
    forms.add(s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;'));
  }
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

interface Cached { readonly forms: string[]; readonly maskers: WeakMap<TextMasker, TextMasker>; only?: TextMasker | undefined; bytes?: Buffer[] }
const cache = new WeakMap<Connection, Cached>();

function cached(conn: Connection): Cached {
  let c = cache.get(conn);
  if (c === undefined) {
    c = { forms: echoForms(conn), maskers: new WeakMap() };
    cache.set(conn, c);
  }
  return c;
}

/**
 * {@link echoForms} of `conn`, computed once per connection object (what the inspection workers
 * are handed with each large response: the forms do not change while the connection lives).
 */
export function cachedEchoForms(conn: Connection): readonly string[] {
  return cached(conn).forms;
}

/**
 * The response masker of a connection: `rules` (its masking rules, if any) plus the echo forms
 * of its vaulted secrets, always redacted as `[SECRET]` (see `masking/exact-values.ts`).
 * Undefined only when there are neither rules nor secrets. Cached per connection object.
 */
export function responseMasker(conn: Connection, rules: TextMasker | undefined, hashKey: Buffer): TextMasker | undefined {
  const c = cached(conn);
  if (rules === undefined) {
    if (!('only' in c)) c.only = withExactValues(undefined, c.forms, hashKey);
    return c.only;
  }
  let m = c.maskers.get(rules);
  if (m === undefined) {
    m = withExactValues(rules, c.forms, hashKey) ?? rules;
    c.maskers.set(rules, m);
  }
  return m;
}

/**
 * A byte scrubber for bodies passed unparsed: every echo form in UTF-8, UTF-16LE and UTF-16BE
 * (a body's charset is not known there); undefined when the connection holds no secret.
 */
export function echoScrubber(conn: Connection): ExactBytesScrubber | undefined {
  const c = cached(conn);
  c.bytes ??= c.forms.flatMap((f) => [Buffer.from(f, 'utf8'), Buffer.from(f, 'utf16le'), Buffer.from(f, 'utf16le').swap16()]);
  return c.bytes.length === 0 ? undefined : new ExactBytesScrubber(c.bytes);
}

/**
 * Response header values for the client: each masked with `masker` (rules + secrets), escapes a
 * reader undoes decoded first (`location: /users/bob%40example.com`). Framing and caching
 * metadata (a media type, dates, numbers and durations, cache directives, header-name lists,
 * codings, opaque validators) is exempt from the rules — masking a date or a rate limit as a
 * phone number would break it — only when its value validates as what the header holds; it is
 * then scrubbed of the secrets (`secrets`) alone, and a media type keeps only its `charset` and
 * `boundary` parameters. Any other value is masked. Returns the same object when nothing changed.
 */
export function scrubHeaders(headers: Record<string, string | string[]>, masker: TextMasker | undefined, secrets: TextMasker | undefined): Record<string, string | string[]> {
  if (masker === undefined && secrets === undefined) return headers;
  let out: Record<string, string | string[]> | undefined;
  for (const [name, value] of Object.entries(headers)) {
    const one = (v: string): string => scrubHeader(name, v, masker, secrets);
    const masked = Array.isArray(value) ? value.map(one) : one(value);
    if (Array.isArray(value) ? (masked as string[]).some((v, i) => v !== value[i]) : masked !== value) {
      out ??= { ...headers };
      out[name] = masked;
    }
  }
  return out ?? headers;
}

function scrubHeader(name: string, v: string, masker: TextMasker | undefined, secrets: TextMasker | undefined): string {
  const framing = framingValue(name, v);
  if (framing !== undefined) {
    // A media type, a list of header names or codings: masked with the rules too (a normal one has
    // nothing they find, and a token they would rewrite is not framing); dates and numbers: secrets only.
    const m = framing.rules ? masker ?? secrets : secrets;
    return m === undefined ? framing.value : m.mask(framing.value).text;
  }
  const m = masker ?? secrets;
  return m === undefined ? v : maskDecoded(v, m);
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^\\s*(${TOKEN}/${TOKEN})\\s*((?:;.*)?)$`);
const PARAM = new RegExp(`;\\s*(${TOKEN})=("(?:[^"\\\\]|\\\\.)*"|${TOKEN})\\s*`, 'y');
/** Media type parameters kept; others are dropped (a client reads no data from them). */
const KEPT_PARAMS = new Set(['charset', 'boundary']);
const TOKEN_LIST = /^\s*(?:\*|[A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*\s*$/;
const HTTP_DATE = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
/** A number or a duration as rate-limit headers write them (`4999`, `0.5`, `12ms`, `6m0s`). */
const NUMBER = /^\s*(?:\d+(?:\.\d+)?(?:ms|s|m|h)?)+\s*$/;
const CACHE_DIRECTIVES = new Set(['private', 'public', 'no-cache', 'no-store', 'max-age', 's-maxage', 'must-revalidate', 'proxy-revalidate', 'no-transform', 'immutable', 'stale-while-revalidate', 'stale-if-error', 'must-understand', 'only-if-cached', 'max-stale', 'min-fresh']);
const ETAG = /^(?:W\/)?"[A-Za-z0-9+/=_.:-]*"$/;

/**
 * The value a framing header keeps, when `v` validates as what header `name` holds (`rules`: the
 * connection's rules still apply to it); undefined for a header that is not framing or a value
 * that does not validate (then masked as content).
 */
function framingValue(name: string, v: string): { value: string; rules: boolean } | undefined {
  switch (name) {
    case 'content-type': return mediaType(v);
    case 'content-length': case 'age': return NUMBER.test(v) ? { value: v, rules: false } : undefined;
    case 'date': case 'last-modified': case 'expires': return HTTP_DATE.test(v) ? { value: v, rules: false } : undefined;
    case 'retry-after': return NUMBER.test(v) || HTTP_DATE.test(v) ? { value: v, rules: false } : undefined;
    case 'vary': case 'content-encoding': case 'transfer-encoding': case 'accept-ranges': return TOKEN_LIST.test(v) ? { value: v, rules: true } : undefined;
    case 'etag': return ETAG.test(v) ? { value: v, rules: true } : undefined;
    case 'cache-control': return cacheControl(v) ? { value: v, rules: false } : undefined;
  }
  if (name.startsWith('x-ratelimit-') || name.startsWith('anthropic-ratelimit-') || name.endsWith('-ms')) {
    return NUMBER.test(v) || ISO_DATE.test(v) || HTTP_DATE.test(v) ? { value: v, rules: false } : undefined;
  }
  return undefined;
}

/** `type/subtype` with its `charset` and `boundary` parameters (the value itself when it has no other). */
function mediaType(v: string): { value: string; rules: boolean } | undefined {
  const m = MEDIA_TYPE.exec(v);
  if (m === null) return undefined;
  const rest = m[2]!;
  const kept: string[] = [];
  let dropped = false;
  PARAM.lastIndex = 0;
  while (PARAM.lastIndex < rest.length) {
    const at = PARAM.lastIndex;
    const p = PARAM.exec(rest);
    if (p === null) {
      // A trailing `;` (with spaces) is harmless; anything else is not a media type.
      if (!/^[\s;]*$/.test(rest.slice(at))) return undefined;
      dropped = true;
      break;
    }
    if (KEPT_PARAMS.has(p[1]!.toLowerCase())) kept.push(`${p[1]!}=${p[2]!}`);
    else dropped = true;
  }
  return { value: dropped ? [m[1]!, ...kept].join('; ') : v, rules: true };
}

function cacheControl(v: string): boolean {
  return v.split(',').every((d) => {
    const [k, val, extra] = d.trim().split('=');
    return k !== undefined && extra === undefined && CACHE_DIRECTIVES.has(k.toLowerCase()) && (val === undefined || /^\d+$/.test(val));
  });
}
