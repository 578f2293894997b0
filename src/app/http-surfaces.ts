import type { Services } from './services.ts';
import { readiness, optionalToken } from './http-server.ts';
import { identityRoute } from './identity-routes.ts';
import { adminHandler, buildAdminRouter } from '../api/admin.ts';
import { ConsoleSurface } from '../console/surface.ts';
import { OidcLogin } from '../console/oidc-login.ts';
import type { ExternalSignIn } from '../console/external.ts';
import { openApiDocument } from '../api/openapi.ts';
import type { HostGuard } from '../http/host-guard.ts';
import { serveMetrics } from '../http/metrics-route.ts';
import { sendJson } from '../http/problem.ts';
import type { HttpSurface } from '../http/surface.ts';
import { proxyRoute } from '../protocols/http/proxy/route.ts';
import { MCP_PATH, METADATA_PATH } from '../protocols/mcp/metadata.ts';

/**
 * The surfaces of the HTTP listener, in the order they are asked: the `/proxy` data path, health,
 * `/metrics` (unless it has its own listener), the OpenAPI document, the admin API (`/api/v1`),
 * MCP (`/mcp` and its RFC 9728 metadata), the built-in issuer's endpoints and the web console
 * (`/` and `/ui`, whose session cookie the admin API accepts). This list is the
 * one place a new HTTP surface is mounted.
 *
 * @example const handle = createHttpHandler(services, await httpSurfaces(services, guard));
 */
export async function httpSurfaces(svc: Services, guard: HostGuard): Promise<HttpSurface[]> {
  const consoleUi = new ConsoleSurface({
    tls: svc.config.server.tls !== undefined || svc.publicUrl.startsWith('https:'), clock: svc.clock, apiKeys: svc.apiKeys,
    audit: svc.audit, log: svc.log, db: svc.db, authFailed: () => { svc.metrics.authFailures.inc({ protocol: 'console' }); },
  }, guard, await consoleSignIn(svc));
  const admin = adminHandler(svc, guard, buildAdminRouter(), async (req) => (await consoleUi.fromCookie(req))?.principal);
  const mcp = lazyMcp(svc, guard);
  const surfaces: HttpSurface[] = [
    // The data path parses its own raw target (parseProxyTarget), so it skips the URL parse.
    { name: 'proxy', rawPrefix: '/proxy/', serve: (req, res) => proxyRoute(svc, req, res) },
    {
      name: 'health',
      serve: async (_req, res, path) => {
        if (path === '/healthz') {
          sendJson(res, 200, { status: 'ok' });
          return path;
        }
        if (path !== '/readyz') return undefined;
        const r = await readiness(svc);
        sendJson(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', checks: r.checks });
        return path;
      },
    },
  ];
  if (svc.config.server.metrics.listen === undefined) {
    surfaces.push({
      name: 'metrics',
      serve: async (req, res, path) => {
        if (path !== '/metrics') return undefined;
        await serveMetrics(svc.metrics, { guard, ...optionalToken(svc) }, req, res);
        return path;
      },
    });
  }
  surfaces.push(
    {
      name: 'openapi',
      serve: (_req, res, path) => {
        if (path !== '/api/openapi.json') return Promise.resolve(undefined);
        sendJson(res, 200, openApiDocument(svc.publicUrl));
        return Promise.resolve(path);
      },
    },
    {
      name: 'admin-api',
      serve: (req, res, path, url) => (path.startsWith('/api/v1/') || path === '/api/v1') && url ? admin(req, res, url) : Promise.resolve(undefined),
    },
    { name: 'mcp', serve: (req, res, path) => mcp(req, res, path) },
    { name: 'identity', serve: (req, res, path) => identityRoute(svc, req, res, path) },
    { name: 'console', serve: (req, res, _path, url) => (url ? consoleUi.handle(req, res, url) : Promise.resolve(undefined)) },
  );
  return surfaces;
}

type McpHandler = ReturnType<typeof import('../protocols/mcp/server.ts').mcpHandler>;

/**
 * `/mcp` and its metadata, with the MCP server (the official SDK and zod: ~120 modules, several MB
 * of heap) loaded on the first request to one of its paths instead of at start. A load that fails
 * is not kept: that request fails (500, nothing served) and the next one tries again.
 */
function lazyMcp(svc: Services, guard: HostGuard): McpHandler {
  let loading: Promise<McpHandler> | undefined;
  const load = (): Promise<McpHandler> => {
    loading ??= import('../protocols/mcp/server.ts').then((m) => m.mcpHandler(svc, guard));
    loading.catch(() => { loading = undefined; });
    return loading;
  };
  return async (req, res, path) => {
    if (path !== MCP_PATH && path !== METADATA_PATH && path !== `${METADATA_PATH}${MCP_PATH}`) return undefined;
    return (await load())(req, res, path);
  };
}

/**
 * The console's external sign-in: the OIDC issuers that have a `console_client_id`, and the
 * SAML identity provider of `identity.saml` (a bad SAML configuration stops the start). The SAML
 * code and its XML libraries (~4 MB of heap, ~18 MB resident) are loaded only when it is configured.
 */
async function consoleSignIn(svc: Services): Promise<ExternalSignIn[]> {
  const out: ExternalSignIn[] = [];
  const tls = svc.config.server.tls !== undefined || svc.publicUrl.startsWith('https:');
  const issuers = svc.config.identity.issuers.filter((i) => i.console_client_id !== undefined)
    .map((i) => ({ issuer: i.issuer, clientId: i.console_client_id!, scope: i.console_scope }));
  if (issuers.length > 0) {
    out.push(new OidcLogin(issuers, {
      clock: svc.clock, publicUrl: svc.publicUrl, tls,
      verify: (idToken, audience) => svc.authenticator.authenticate(idToken, { audiences: [audience] }),
      flows: svc.signInFlows,
    }));
  }
  const saml = svc.config.identity.saml;
  if (saml !== undefined) {
    const [{ SamlLogin }, { samlIdp }] = await Promise.all([import('../console/saml-login.ts'), import('../console/saml-config.ts')]);
    out.push(new SamlLogin(samlIdp(saml, svc.publicUrl), {
      clock: svc.clock, publicUrl: svc.publicUrl, tls,
      issueToken: (p, expiresAt) => svc.issuer.issue(p, { expiresAt }),
      flows: svc.signInFlows,
    }));
  }
  return out;
}
