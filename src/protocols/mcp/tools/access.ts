import type { McpDeps } from '../deps.ts';
import { connectionResource } from '../../../enforce/authorize.ts';
import type { Connection } from '../../../connections/registry.ts';
import type { Principal } from '../../../identity/principal.ts';
import type { Action } from '../../../policy/request.ts';

/** The data actions a connection of each type can be used with. */
const ACTIONS_BY_TYPE: Readonly<Record<Connection['type'], readonly Action[]>> = {
  postgres: ['sql.read', 'sql.write', 'sql.ddl', 'sql.admin'],
  llm: ['llm.invoke'],
  http: ['http.request'],
  mcp: [],
  ssh: ['shell.exec'],
};

/**
 * The actions `p` may take on `conn` through MCP (allowed outright or after a review), decided
 * quietly with the decider — the same Cedar evaluation as every request, without facts and without
 * an audit record per probe (these are lookups, not requests). Empty when `mcp.call` on the
 * connection is denied.
 *
 * @example usableActions(svc, principal, conn) // ['sql.read']
 */
export function usableActions(svc: Pick<McpDeps, 'decider' | 'clock'>, p: Principal, conn: Connection): Action[] {
  const resource = connectionResource(conn);
  const decide = (action: Action, tool?: string): boolean =>
    svc.decider.decide({ principal: p, action, resource, facts: tool === undefined ? {} : { mcp: { tool } }, at: svc.clock.now() }).effect !== 'deny';
  const tool = conn.type === 'postgres' ? 'query' : conn.type === 'llm' ? 'call_llm' : conn.type === 'ssh' ? 'run_command' : 'http_request';
  if (!decide('mcp.call', tool)) return [];
  return ACTIONS_BY_TYPE[conn.type].filter((a) => decide(a));
}
