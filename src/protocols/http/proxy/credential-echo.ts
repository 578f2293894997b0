import { Buffer } from 'node:buffer';
import type { Connection } from '../../../connections/registry.ts';
import { ExactBytesScrubber, withExactValues } from '../../../masking/exact-values.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';

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
 * Response header values masked with `masker` (rules + secrets), and for the headers that only
 * carry framing and caching metadata with `secrets` alone (their values are not content).
 * Returns the same object when nothing changed.
 */
export function scrubHeaders(headers: Record<string, string | string[]>, masker: TextMasker | undefined, secrets: TextMasker | undefined): Record<string, string | string[]> {
  let out: Record<string, string | string[]> | undefined;
  for (const [name, value] of Object.entries(headers)) {
    const m = isMetadata(name) ? secrets : masker;
    if (m === undefined) continue;
    const masked = Array.isArray(value) ? value.map((v) => m.mask(v).text) : m.mask(value).text;
    if (Array.isArray(value) ? (masked as string[]).some((v, i) => v !== value[i]) : masked !== value) {
      out ??= { ...headers };
      out[name] = masked;
    }
  }
  return out ?? headers;
}

/** Headers whose values are framing, dates, cache validators or rate limits: never content. */
const FRAMING = new Set(['content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'date', 'last-modified', 'expires', 'etag', 'cache-control', 'vary', 'age', 'accept-ranges', 'server-timing', 'retry-after', 'retry-after-ms']);

function isMetadata(name: string): boolean {
  return FRAMING.has(name) || name.startsWith('x-ratelimit-') || name.startsWith('anthropic-ratelimit-') || name.endsWith('-ms');
}
