import type { IncomingMessage } from 'node:http';
import type { McpDeps } from './deps.ts';
import type { Principal } from '../../identity/principal.ts';
import type { GatehouseError } from '../../kernel/errors.ts';
import { authenticateCredential } from '../../http/authenticate.ts';
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
export function challenge(svc: Pick<McpDeps, 'publicUrl'>, err?: GatehouseError): string {
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
export function authenticateMcp(svc: McpDeps, req: IncomingMessage): Promise<McpCaller> {
  return authenticateCredential(svc, req, { surface: 'mcp', protocol: 'mcp', audiences: [mcpResource(svc)] });
}
