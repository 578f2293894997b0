import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router } from '../http/router.ts';
import { GatehouseError } from '../kernel/errors.ts';
import type { AdminDeps } from './deps.ts';
import type { AdminState } from './context.ts';
import { HostGuard } from '../http/host-guard.ts';
import { authenticateHttp } from '../http/authenticate.ts';
import { registerApiKeyRoutes } from './routes/api-keys.ts';
import { registerAuditRoutes } from './routes/audit.ts';
import { registerPolicyRoutes } from './routes/policy.ts';
import { registerConnectionRoutes } from './routes/connections.ts';
import { registerReviewRoutes } from './routes/reviews.ts';
import { registerSessionRoutes } from './routes/sessions.ts';
import type { Principal } from '../identity/principal.ts';

/**
 * Authenticates a browser request by its console session cookie: the principal, or undefined
 * when the request carries no cookie (then the bearer credential is required). Throws when the
 * cookie names no live session, or a mutation lacks the session's CSRF token.
 */
export type CookieAuth = (req: IncomingMessage) => Promise<Principal | undefined>;

/** Builds the `/api/v1` router. Route modules are registered explicitly, here, in one list. */
export function buildAdminRouter(): Router<AdminState> {
  const r = new Router<AdminState>();
  registerConnectionRoutes(r);
  registerApiKeyRoutes(r);
  registerPolicyRoutes(r);
  registerAuditRoutes(r);
  registerReviewRoutes(r, (s) => s.svc.reviews);
  registerSessionRoutes(r);
  return r;
}

/**
 * The admin API handler: Host/Origin check, then bearer (or console cookie) authentication, then the route (each
 * route asks policy for its action). Returns the matched route pattern for metrics.
 */
export function adminHandler(svc: AdminDeps, guard: HostGuard, router = buildAdminRouter(), cookieAuth?: CookieAuth) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<string> => {
    guard.check(req.headers);
    const m = router.match(req.method ?? 'GET', url.pathname);
    if (!m) throw new GatehouseError('not_found', `no API route ${url.pathname}`);
    if ('methods' in m) throw new GatehouseError('method_not_allowed', `allowed: ${m.methods.join(', ')}`, { allow: m.methods });
    // A bearer credential wins; without one, the console's session cookie (CSRF-checked).
    const fromCookie = req.headers.authorization === undefined && cookieAuth ? await cookieAuth(req) : undefined;
    const principal = fromCookie ?? await authenticateHttp(svc, req, 'admin-api');
    await m.handler({ req, res, params: m.params, query: url.searchParams, state: { principal, svc } });
    return m.pattern;
  };
}
