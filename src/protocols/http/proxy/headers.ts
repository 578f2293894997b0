import type { IncomingHttpHeaders } from 'node:http';
import type { Connection } from '../../../connections/registry.ts';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and headers the gateway owns. */
const DROP = new Set([
  'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
  'content-length', 'expect', 'http2-settings',
]);
/** Client credentials and state that must never reach an upstream. */
const NEVER_FORWARD = new Set(['authorization', 'x-api-key', 'cookie', 'gatehouse-session', 'accept-encoding', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip']);

function listed(connectionHeader: string | string[] | undefined): Set<string> {
  const v = Array.isArray(connectionHeader) ? connectionHeader.join(',') : connectionHeader ?? '';
  return new Set(v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
}

/**
 * Headers for the upstream request: the client's, minus hop-by-hop ones (and those its
 * `Connection` header lists), minus its credentials and cookies, plus the vaulted credential.
 * `accept-encoding: identity` so that responses can be masked.
 *
 * @example upstreamHeaders(req.headers, conn) // { 'content-type': 'application/json', authorization: 'Bearer sk-…' }
 */
export function upstreamHeaders(client: IncomingHttpHeaders, conn: Connection): Record<string, string> {
  const extra = listed(client.connection);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(client)) {
    if (value === undefined || DROP.has(name) || NEVER_FORWARD.has(name) || extra.has(name) || name.startsWith('proxy-')) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  out['accept-encoding'] = 'identity';
  Object.assign(out, credentialHeaders(conn));
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
