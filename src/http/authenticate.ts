import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../kernel/errors.ts';
import type { Principal } from '../identity/principal.ts';
import { authenticateAndAudit, type AuthenticateDeps } from '../enforce/authenticate.ts';

/** The credential of an HTTP request: `Authorization: Bearer …`, or `x-api-key` when allowed. */
export function bearerCredential(req: IncomingMessage, allowXApiKey = false): string | undefined {
  const h = req.headers.authorization;
  if (h !== undefined) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(h);
    return m ? m[1] : undefined;
  }
  if (allowXApiKey) {
    const k = req.headers['x-api-key'];
    if (typeof k === 'string' && k.length > 0) return k;
  }
  return undefined;
}

/** How a surface authenticates: its audit label, metrics protocol, and what it accepts. */
export interface AuthSurface {
  /** `detail.surface` of the `auth.failure` audit record. */
  readonly surface: string;
  /** Metrics label (default `http`). */
  readonly protocol?: string;
  /** Accept `x-api-key` (Anthropic-style clients on llm connections). */
  readonly allowXApiKey?: boolean;
  /** Extra audiences an external OIDC token may carry (the MCP resource on `/mcp`). */
  readonly audiences?: readonly string[];
}

/**
 * Authenticates an HTTP request and returns the principal with the credential as presented (for
 * a caller that must pass it on; never logged). Failures are audited (`auth.failure`, without the
 * credential) and counted by {@link authenticateAndAudit}, and surface as 401 problems.
 */
export async function authenticateCredential(deps: AuthenticateDeps, req: IncomingMessage, how: AuthSurface): Promise<{ principal: Principal; credential: string }> {
  const credential = bearerCredential(req, how.allowXApiKey ?? false);
  const principal = await authenticateAndAudit(deps, credential, {
    surface: how.surface, protocol: how.protocol ?? 'http', remote: req.socket.remoteAddress ?? null,
    detail: { credential_kind: credentialKind(credential) },
    missing: () => new GatehouseError('unauthenticated', 'send Authorization: Bearer <credential>'),
    ...(how.audiences ? { audiences: how.audiences } : {}),
  });
  return { principal, credential: credential! };
}

/** {@link authenticateCredential} for a surface that only needs the principal. */
export async function authenticateHttp(deps: AuthenticateDeps, req: IncomingMessage, surface: string, allowXApiKey = false): Promise<Principal> {
  return (await authenticateCredential(deps, req, { surface, allowXApiKey })).principal;
}

/** What kind of credential was presented, without any of its value. */
function credentialKind(c: string | undefined): string {
  if (c === undefined) return 'none';
  if (c.startsWith('ghk_')) return 'api_key';
  if (c.split('.').length === 3) return 'jwt';
  return 'unknown';
}
