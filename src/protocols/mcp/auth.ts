import type { IncomingMessage } from 'node:http';
import type { Services } from '../../app/services.ts';
import type { Principal } from '../../identity/principal.ts';
import { GatehouseError, isGatehouseError } from '../../kernel/errors.ts';
import { bearerCredential } from '../http/authenticate.ts';
import { mcpResource, metadataUrl } from './metadata.ts';

/** An authenticated MCP caller: who, and the credential it presented (kept for /proxy calls). */
export interface McpCaller {
  readonly principal: Principal;
  /** The bearer credential as presented; never logged or recorded. */
  readonly credential: string;
}

/**
 * The `WWW-Authenticate` challenge of a 401 on `/mcp` (RFC 6750 §3, RFC 9728 §5.1): it names the
 * protected resource metadata so that MCP clients can discover the authorization servers.
 */
export function challenge(svc: Pick<Services, 'publicUrl'>, err?: GatehouseError): string {
  const base = `Bearer resource_metadata="${metadataUrl(svc)}"`;
  if (!err || err.code === 'unauthenticated') return base;
  return `${base}, error="invalid_token", error_description="${err.detail.replace(/["\\]/g, '')}"`;
}

/**
 * Authenticates an MCP request from `Authorization: Bearer …` (the MCP authorization spec: header
 * only, never a query parameter). API keys and Gatehouse JWTs as everywhere; an external OIDC JWT
 * when its audience is this MCP resource (`<publicUrl>/mcp`) or its issuer's configured audience —
 * any other audience is refused. Failures are audited (`auth.failure`, surface `mcp`, never the
 * credential), counted, and thrown as 401 GatehouseErrors.
 *
 * @example const { principal } = await authenticateMcp(svc, req);
 */
export async function authenticateMcp(svc: Services, req: IncomingMessage): Promise<McpCaller> {
  const credential = bearerCredential(req);
  try {
    if (credential === undefined) throw new GatehouseError('unauthenticated', 'send Authorization: Bearer <credential>');
    const principal = await svc.authenticator.authenticate(credential, { audiences: [mcpResource(svc)] });
    return { principal, credential };
  } catch (err) {
    const problem = isGatehouseError(err) ? err : new GatehouseError('invalid_credential');
    svc.metrics.authFailures.inc({ protocol: 'mcp' });
    await svc.audit.append({
      kind: 'auth.failure', outcome: problem.code,
      detail: { surface: 'mcp', remote: req.socket.remoteAddress ?? null, credential_kind: credentialKind(credential) },
    }).catch((e: unknown) => svc.log.error({ err: String(e) }, 'audit append failed'));
    throw problem;
  }
}

/** What kind of credential was presented, without any of its value. */
function credentialKind(c: string | undefined): string {
  if (c === undefined) return 'none';
  if (c.startsWith('ghk_')) return 'api_key';
  if (c.split('.').length === 3) return 'jwt';
  return 'unknown';
}
