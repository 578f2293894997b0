import type { IncomingHttpHeaders } from 'node:http';
import type { Connection } from '../../../connections/registry.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import { GatehouseError } from '../../../kernel/errors.ts';
import { isCleanText } from '../../../inspect/prompt/inspect.ts';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and headers the gateway owns. */
const DROP = new Set([
  'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
  'content-length', 'expect', 'http2-settings',
]);
/** Client credentials and state that must never reach an upstream. */
const NEVER_FORWARD = new Set(['authorization', 'x-api-key', 'cookie', 'gatehouse-session', 'accept-encoding', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip']);

const NONE_LISTED: ReadonlySet<string> = new Set();

function listed(connectionHeader: string | string[] | undefined): ReadonlySet<string> {
  if (connectionHeader === undefined) return NONE_LISTED;
  const v = Array.isArray(connectionHeader) ? connectionHeader.join(',') : connectionHeader ?? '';
  return new Set(v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
}

/** Request headers whose values are media types and preferences, not content (never masked). */
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
    if (value === undefined || DROP.has(name) || NEVER_FORWARD.has(name) || extra.has(name) || name.startsWith('proxy-')) continue;
    const v = Array.isArray(value) ? value.join(', ') : value;
    // A header name cannot be rewritten into a placeholder (brackets are not token characters): one that carries data is refused.
    if (egress !== undefined && !isCleanText(egress, name) && egress.mask(name).text !== name) throw new GatehouseError('bad_request', 'a request header name carries data the masking rules redact; refused');
    out[name] = egress === undefined || NOT_CONTENT.has(name) || isCleanText(egress, v) ? v : egress.mask(v).text;
  }
  if (body?.contentType !== undefined) out['content-type'] = body.contentType;
  if (body?.decoded === true) delete out['content-encoding'];
  out['accept-encoding'] = 'identity';
  Object.assign(out, credentialHeaders(conn));
  return out;
}

/**
 * The names and values of the client headers that are forwarded as content (what
 * {@link upstreamHeaders} sends and masks): they leave for the upstream, so policy's facts cover
 * them too.
 */
export function forwardedHeaderTexts(client: IncomingHttpHeaders): string[] {
  const extra = listed(client.connection);
  const out: string[] = [];
  for (const [name, value] of Object.entries(client)) {
    if (value === undefined || DROP.has(name) || NEVER_FORWARD.has(name) || extra.has(name) || name.startsWith('proxy-') || NOT_CONTENT.has(name)) continue;
    out.push(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return out;
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
