import type { ConnectionRegistry } from '../connections/registry.ts';
import type { Principal } from '../identity/principal.ts';
import { authorize, connectionResource, type DecideDeps } from './authorize.ts';

/**
 * Policy's word on approving: `p` may approve on `connection` when Cedar permits it
 * `review.approve` on that Connection (audited like every decision). Unknown connection: no.
 *
 * @example
 *   const reviews = await openReviews({ …, mayApprove: policyApprover({ decider, audit, metrics, clock, log, decisions, connections }) });
 */
export function policyApprover(deps: DecideDeps & { readonly connections: Pick<ConnectionRegistry, 'get'> }) {
  return async (p: Principal, connection: string): Promise<boolean> => {
    const conn = await deps.connections.get(connection);
    if (!conn) return false;
    return (await authorize(deps, p, 'review.approve', connectionResource(conn))).effect === 'allow';
  };
}
