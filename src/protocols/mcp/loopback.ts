import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { GatehouseError } from '../../kernel/errors.ts';
import type { Loopback, ToolEnv } from './env.ts';

/** Largest `/proxy` answer a tool reads (the rest is refused, not truncated: JSON must parse). */
export const MAX_PROXY_RESPONSE = 4 * 1024 * 1024;
const PROBLEM_TYPE = 'https://gatehouse.dev/errors/';

/** One request to send through `/proxy/<connection><endpoint>`. */
export interface ProxyCall {
  readonly connection: string;
  readonly method: string;
  /** Path below the connection, with its query (`/v1/chat/completions`). */
  readonly endpoint: string;
  readonly body?: Buffer;
  readonly contentType?: string;
  readonly justification?: string;
  readonly signal: AbortSignal;
}

/** What `/proxy` answered, bounded. */
export interface ProxyAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

/** A `/proxy` problem the gateway itself produced (not the upstream's), if `a` is one. */
export function gatewayProblem(a: ProxyAnswer): { code: string; detail: string; reviewId?: string } | undefined {
  if (!/^application\/problem\+json/i.test(a.contentType)) return undefined;
  try {
    const p = JSON.parse(a.body.toString('utf8')) as Record<string, unknown>;
    if (typeof p.type !== 'string' || !p.type.startsWith(PROBLEM_TYPE) || typeof p.code !== 'string') return undefined;
    return { code: p.code, detail: typeof p.detail === 'string' ? p.detail : p.code, ...(typeof p.review_id === 'string' ? { reviewId: p.review_id } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * Sends a request through the gateway's own `/proxy` route over a loopback connection to its
 * listener, carrying the caller's bearer credential and the MCP recording session in
 * `Gatehouse-Session` — so authentication, facts, policy, egress redaction, response masking,
 * review holding and recording are exactly those of `/proxy` (there is no second code path).
 * The answer is read up to {@link MAX_PROXY_RESPONSE} bytes.
 *
 * An external OIDC token is not passed on: its audience is the MCP resource, not `/proxy` (and
 * passing a token to another resource is what the MCP authorization spec forbids). The built-in
 * issuer signs a short-lived token for the same principal (user, agent, groups) instead.
 *
 * @example const a = await proxyCall(env, { connection: 'openai', method: 'POST', endpoint: '/v1/chat/completions', body, signal });
 */
export async function proxyCall(env: ToolEnv, call: ProxyCall): Promise<ProxyAnswer> {
  const lb = env.loopback;
  const headers: Record<string, string> = {
    host: hostHeader(lb), authorization: `Bearer ${await forwardedCredential(env)}`, 'gatehouse-session': env.session.id,
    accept: 'application/json', 'user-agent': 'gatehouse-mcp',
  };
  if (call.body !== undefined) {
    headers['content-type'] = call.contentType ?? 'application/json';
    headers['content-length'] = String(call.body.length);
  }
  // A header value is Latin-1 without controls: anything else becomes "?" (never a thrown request).
  if (call.justification !== undefined) headers['gatehouse-justification'] = call.justification.replace(/[^\x20-\x7e\xa0-\xff]/g, '?');
  const options = {
    host: connectHost(lb), port: lb.port, method: call.method, path: `/proxy/${encodeURIComponent(call.connection)}${call.endpoint}`,
    headers, signal: call.signal, agent: false as const,
  };
  return new Promise<ProxyAnswer>((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_PROXY_RESPONSE) {
          res.destroy();
          reject(new GatehouseError('payload_too_large', `the answer exceeds ${MAX_PROXY_RESPONSE} bytes; ask for less (e.g. max_tokens)`));
          return;
        }
        parts.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 502, contentType: res.headers['content-type'] ?? '', body: Buffer.concat(parts) }));
      res.on('error', (e) => reject(e));
    };
    // The TLS listener presents the gateway's own certificate for its public name; this loopback
    // connection goes to the socket this process is bound to, so the name is not checked.
    const req = lb.tls ? httpsRequest({ ...options, rejectUnauthorized: false }, onResponse) : httpRequest(options, onResponse);
    req.on('error', (e) => reject(call.signal.aborted ? new GatehouseError('bad_request', 'the call was cancelled') : new GatehouseError('upstream_unreachable', `the gateway's /proxy route could not be reached: ${e.message}`)));
    req.end(call.body);
  });
}

/** Lifetime of the token minted for an OIDC caller's /proxy call. */
const MINTED_TTL_MS = 5 * 60_000;

/** The credential for /proxy: the caller's own key or Gatehouse token, or a minted one (OIDC). */
async function forwardedCredential(env: ToolEnv): Promise<string> {
  if (env.caller.principal.via !== 'oidc') return env.caller.credential;
  const { access_token } = await env.svc.issuer.issue(env.caller.principal, { expiresAt: env.svc.clock.now() + MINTED_TTL_MS });
  return access_token;
}

/** Where to connect: the bound address, or loopback when bound to every interface. */
function connectHost(lb: Loopback): string {
  if (lb.host === '0.0.0.0' || lb.host === '') return '127.0.0.1';
  if (lb.host === '::') return '::1';
  return lb.host;
}

function hostHeader(lb: Loopback): string {
  const h = connectHost(lb);
  return `${h.includes(':') ? `[${h}]` : h}:${lb.port}`;
}
