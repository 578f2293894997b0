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

/**
 * Authenticates an HTTP request. Failures are audited (`auth.failure`, without the credential)
 * and counted, and surface as 401 problems.
 */
export async function authenticateHttp(svc: Services, req: IncomingMessage, surface: string, allowXApiKey = false): Promise<Principal> {
  const credential = bearerCredential(req, allowXApiKey);
  try {
    if (credential === undefined) throw new GatehouseError('unauthenticated', 'send Authorization: Bearer <credential>');
    return await svc.authenticator.authenticate(credential);
  } catch (err) {
    const problem = isGatehouseError(err) ? err : new GatehouseError('invalid_credential');
    svc.metrics.authFailures.inc({ protocol: 'http' });
    await svc.audit.append({
      kind: 'auth.failure', outcome: problem.code,
      detail: { surface, remote: req.socket.remoteAddress ?? null, credential_kind: credentialKind(credential) },
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
