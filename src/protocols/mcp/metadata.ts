import type { McpDeps } from './deps.ts';

/** The path of the MCP endpoint on the HTTP listener. */
export const MCP_PATH = '/mcp';
/** RFC 9728 §3: the metadata of a resource with a path lives at the well-known prefix + that path. */
export const METADATA_PATH = '/.well-known/oauth-protected-resource';

/** The MCP server's resource identifier (RFC 8707/9728): `<publicUrl>/mcp`. */
export function mcpResource(svc: Pick<McpDeps, 'publicUrl'>): string {
  return `${svc.publicUrl}${MCP_PATH}`;
}

/** Where a client finds the protected resource metadata of `/mcp` (RFC 9728 §3.1, path-suffixed). */
export function metadataUrl(svc: Pick<McpDeps, 'publicUrl'>): string {
  return `${svc.publicUrl}${METADATA_PATH}${MCP_PATH}`;
}

/**
 * The OAuth 2.0 Protected Resource Metadata document (RFC 9728) of the MCP server, served at both
 * `/.well-known/oauth-protected-resource` and `/.well-known/oauth-protected-resource/mcp`.
 * `authorization_servers` lists the built-in issuer first (its RFC 8414 metadata is at
 * `/.well-known/oauth-authorization-server`), then every configured external OIDC issuer; tokens
 * are accepted only in the `Authorization` header. No scopes: what a principal may do is decided
 * by policy per call, not by token scopes.
 *
 * @example protectedResourceMetadata(svc).resource === 'https://gw.example/mcp'
 */
export function protectedResourceMetadata(svc: Pick<McpDeps, 'publicUrl' | 'config'>): Record<string, unknown> {
  const servers = [svc.publicUrl, ...svc.config.identity.issuers.map((i) => i.issuer)];
  return {
    resource: mcpResource(svc),
    authorization_servers: [...new Set(servers)],
    bearer_methods_supported: ['header'],
    resource_name: 'Gatehouse MCP server',
  };
}
