import type { IncomingMessage } from 'node:http';
import { GatehouseError, isGatehouseError } from '../../kernel/errors.ts';
import type { Principal } from '../../identity/principal.ts';
import type { Services } from '../../app/services.ts';

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
 * credential) and counted, and surface as 401 problems.
 */
export async function authenticateCredential(svc: Services, req: IncomingMessage, how: AuthSurface): Promise<{ principal: Principal; credential: string }> {
  const credential = bearerCredential(req, how.allowXApiKey ?? false);
  try {
    if (credential === undefined) throw new GatehouseError('unauthenticated', 'send Authorization: Bearer <credential>');
    const principal = await svc.authenticator.authenticate(credential, how.audiences ? { audiences: how.audiences } : {});
    return { principal, credential };
  } catch (err) {
    const problem = isGatehouseError(err) ? err : new GatehouseError('invalid_credential');
    svc.metrics.authFailures.inc({ protocol: how.protocol ?? 'http' });
    await svc.audit.append({
      kind: 'auth.failure', outcome: problem.code,
      detail: { surface: how.surface, remote: req.socket.remoteAddress ?? null, credential_kind: credentialKind(credential) },
    }).catch((e: unknown) => svc.log.error({ err: String(e) }, 'audit append failed'));
    throw problem;
  }
}

/** {@link authenticateCredential} for a surface that only needs the principal. */
export async function authenticateHttp(svc: Services, req: IncomingMessage, surface: string, allowXApiKey = false): Promise<Principal> {
  return (await authenticateCredential(svc, req, { surface, allowXApiKey })).principal;
}

/** What kind of credential was presented, without any of its value. */
function credentialKind(c: string | undefined): string {
  if (c === undefined) return 'none';
  if (c.startsWith('ghk_')) return 'api_key';
  if (c.split('.').length === 3) return 'jwt';
  return 'unknown';
}
