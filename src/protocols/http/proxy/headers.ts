import type { IncomingHttpHeaders } from 'node:http';
import type { Connection } from '../../../connections/registry.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import { GatehouseError } from '../../../kernel/errors.ts';
import { maskScalar } from './body-mask.ts';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and headers the gateway owns. */
const DROP = new Set([
  'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
  'content-length', 'expect', 'http2-settings',
]);
/** Client credentials and state that must never reach an upstream. */
const NEVER_FORWARD = new Set(['authorization', 'x-api-key', 'cookie', 'gatehouse-session', 'accept-encoding', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip']);
/**
 * Method and URL override headers: frameworks and proxies upstream run another method or path than
 * the request line's when they see one, and policy (and a review) decides on the method and path
 * the gateway sees. Never forwarded (attacker review, finding 3).
 */
export const OVERRIDE_HEADERS: ReadonlySet<string> = new Set([
  'x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-method', 'x-forwarded-method',
  'x-original-url', 'x-original-uri', 'x-rewrite-url', 'x-forwarded-uri', 'x-forwarded-path', 'x-forwarded-prefix',
  'x-envoy-original-path', 'x-envoy-original-method',
]);
/**
 * Forwarded headers left out of a review's fingerprint: trace context that clients set anew on
 * every request and that carries no instruction to the upstream.
 */
const VOLATILE = new Set(['traceparent', 'tracestate', 'baggage', 'sentry-trace', 'x-amzn-trace-id', 'x-cloud-trace-context', 'b3', 'x-stainless-retry-count']);

/**
 * Whether a client header is never forwarded: hop-by-hop, the client's credentials, the gateway's
 * own (`gatehouse-*`), overrides. Checked on the name with `_` read as `-`: CGI-style servers
 * (Rack, WSGI, PHP) map both to `_` (`X_HTTP_METHOD_OVERRIDE` is `HTTP_X_HTTP_METHOD_OVERRIDE`
 * there, the override header Rack honours), so a spelling with underscores is the same header upstream.
 */
function dropped(raw: string, extra: ReadonlySet<string>): boolean {
  const name = raw.includes('_') ? raw.replaceAll('_', '-') : raw;
  return DROP.has(name) || NEVER_FORWARD.has(name) || OVERRIDE_HEADERS.has(name) || extra.has(name) || extra.has(raw) || name.startsWith('proxy-') || name.startsWith('gatehouse-');
}

const NONE_LISTED: ReadonlySet<string> = new Set();

function listed(connectionHeader: string | string[] | undefined): ReadonlySet<string> {
  if (connectionHeader === undefined) return NONE_LISTED;
  const v = Array.isArray(connectionHeader) ? connectionHeader.join(',') : connectionHeader ?? '';
  return new Set(v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
}

/** Request headers whose values are media types and preferences, not content (never rewritten: refused when they carry data a rule redacts). */
const NOT_CONTENT = new Set(['content-type', 'content-encoding', 'accept', 'accept-charset', 'accept-language']);

/**
 * Headers for the upstream request: the client's, minus hop-by-hop ones (and those its
 * `Connection` header lists), minus its credentials and cookies, plus the vaulted credential.
 * `accept-encoding: identity` so that responses can be masked. With a request masking rule
 * (`egress`), every forwarded value but media types is masked (custom headers carry data too),
 * and the body's new `content-type` / undone `content-encoding` (see `prepare.ts`) apply.
 *
 * @example upstreamHeaders(req.headers, conn) // { 'content-type': 'application/json', authorization: 'Bearer sk-…' }
 */
export function upstreamHeaders(client: IncomingHttpHeaders, conn: Connection, egress?: TextMasker, body?: { readonly contentType?: string; readonly decoded?: boolean }): Record<string, string> {
  const extra = listed(client.connection);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(client)) {
    if (value === undefined || dropped(name, extra)) continue;
    const v = Array.isArray(value) ? value.join(', ') : value;
    if (egress === undefined) {
      out[name] = v;
      continue;
    }
    // Names and values are masked as the JSON walk masks a string: what their escapes and payloads
    // decode to too (`x-note: bob%40example.com`, base64), as a server or a client may decode them.
    // A header name cannot be rewritten into a placeholder (brackets are not token characters): one that carries data is refused.
    if (maskScalar(name, egress) !== name) throw new GatehouseError('bad_request', 'a request header name carries data the masking rules redact; refused');
    const masked = maskScalar(v, egress);
    if (masked === v) out[name] = v;
    else if (!NOT_CONTENT.has(name)) out[name] = masked;
    // A media type or preference cannot be rewritten (a placeholder is no media type), and its
    // parameters (`content-type: application/json; note=…`, re-emitted with the body) are free text:
    // one that carries data the rules redact is refused.
    else throw new GatehouseError('bad_request', `the ${name} header carries data the masking rules redact; refused`);
  }
  if (body?.contentType !== undefined) out['content-type'] = body.contentType;
  if (body?.decoded === true) delete out['content-encoding'];
  out['accept-encoding'] = 'identity';
  Object.assign(out, credentialHeaders(conn));
  return out;
}

/**
 * The names and values of the client headers that are forwarded (what {@link upstreamHeaders}
 * sends, media types and preferences included: their parameters are free text): they leave for
 * the upstream, so policy's facts cover them too.
 */
export function forwardedHeaderTexts(client: IncomingHttpHeaders): string[] {
  const extra = listed(client.connection);
  const out: string[] = [];
  for (const [name, value] of Object.entries(client)) {
    if (value === undefined || dropped(name, extra)) continue;
    out.push(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return out;
}

/**
 * The client headers that {@link upstreamHeaders} forwards, as `[name, value]` pairs sorted by
 * (lower-case) name, for a review's fingerprint and summary: an approval is for the request with
 * these headers. Left out: what is never forwarded, what the gateway sets itself (the vaulted
 * credential's header, `accept-encoding`) and trace context ({@link VOLATILE}). Values as the client
 * sent them (a request rule's masking of them is a function of them).
 *
 * @example reviewedHeaders({ 'X-Note': 'a', 'content-type': 'application/json' }, conn) // [['content-type', 'application/json'], ['x-note', 'a']]
 */
export function reviewedHeaders(client: IncomingHttpHeaders, conn: Connection): [string, string][] {
  const extra = listed(client.connection);
  const owned = new Set(Object.keys(credentialHeaders(conn)));
  const out: [string, string][] = [];
  for (const [raw, value] of Object.entries(client)) {
    const name = raw.toLowerCase();
    if (value === undefined || dropped(name, extra) || owned.has(name) || VOLATILE.has(name)) continue;
    out.push([name, Array.isArray(value) ? value.join(', ') : value]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
}

/** The vaulted credential as upstream headers (revealed only here). */
export function credentialHeaders(conn: Connection): Record<string, string> {
  const c = conn.credentials;
  if (conn.type === 'llm') {
    const key = c.api_key?.reveal() ?? c.bearer?.reveal();
    if (key === undefined) return {};
    return conn.provider === 'anthropic' ? { 'x-api-key': key } : { authorization: `Bearer ${key}` };
  }
  if (c.bearer) return { authorization: `Bearer ${c.bearer.reveal()}` };
  if (c.username && c.password) {
    return { authorization: `Basic ${Buffer.from(`${c.username.reveal()}:${c.password.reveal()}`).toString('base64')}` };
  }
  if (c.header_name && c.header_value) return { [c.header_name.reveal().toLowerCase()]: c.header_value.reveal() };
  if (c.api_key) return { authorization: `Bearer ${c.api_key.reveal()}` };
  return {};
}

/** Response headers for the client: upstream's minus hop-by-hop and length/encoding we recompute. */
export function clientHeaders(upstream: Record<string, string | string[] | undefined>, rewritten: boolean): Record<string, string | string[]> {
  const extra = listed(upstream.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || DROP.has(name) || extra.has(name) || name.startsWith('proxy-')) continue;
    if (rewritten && (name === 'content-encoding' || name === 'content-md5' || name === 'etag')) continue;
    out[name] = value;
  }
  return out;
}
