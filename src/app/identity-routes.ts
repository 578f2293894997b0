import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Services } from './services.ts';
import { sendJson } from '../http/problem.ts';
import { readForm } from '../http/body.ts';
import { handleTokenRequest } from '../identity/token-endpoint.ts';
import { GatehouseError, isGatehouseError } from '../kernel/errors.ts';

const FORM_LIMIT = 64 * 1024;

/**
 * The built-in issuer's public surface: discovery, JWKS and the token endpoint
 * (client_credentials and RFC 8693 token exchange). Returns the route name, or undefined.
 */
export async function identityRoute(svc: Services, req: IncomingMessage, res: ServerResponse, path: string): Promise<string | undefined> {
  const method = req.method ?? 'GET';
  if (path === '/.well-known/openid-configuration' || path === '/.well-known/oauth-authorization-server') {
    if (method !== 'GET') throw new GatehouseError('method_not_allowed', 'allowed: GET');
    sendJson(res, 200, svc.issuer.discovery(), { 'cache-control': 'public, max-age=300' });
    return path;
  }
  if (path === '/oauth/jwks') {
    if (method !== 'GET') throw new GatehouseError('method_not_allowed', 'allowed: GET');
    sendJson(res, 200, svc.issuer.jwks(), { 'cache-control': 'public, max-age=300' });
    return path;
  }
  if (path === '/oauth/token') {
    if (method !== 'POST') throw new GatehouseError('method_not_allowed', 'allowed: POST');
    let form: URLSearchParams;
    try {
      form = await readForm(req, FORM_LIMIT);
    } catch (err) {
      // RFC 6749 §5.2: token endpoint errors are JSON {error, error_description}.
      const detail = isGatehouseError(err) ? err.detail : 'unreadable body';
      sendJson(res, 400, { error: 'invalid_request', error_description: detail });
      return path;
    }
    const out = await handleTokenRequest(form, req.headers.authorization, { authenticate: (c) => svc.authenticator.authenticate(c), issuer: svc.issuer });
    if (out.status >= 400) {
      svc.metrics.authFailures.inc({ protocol: 'oauth' });
      await svc.audit.append({ kind: 'auth.failure', outcome: typeof out.body.error === 'string' ? out.body.error : 'error', detail: { surface: 'oauth-token', grant_type: form.get('grant_type') ?? null } });
    }
    sendJson(res, out.status, out.body, { pragma: 'no-cache' });
    return path;
  }
  return undefined;
}
