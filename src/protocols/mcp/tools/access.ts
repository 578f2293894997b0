import type { McpDeps } from '../deps.ts';
import { connectionResource } from '../../../enforce/authorize.ts';
import type { Connection } from '../../../connections/registry.ts';
import type { Principal } from '../../../identity/principal.ts';
import { isAction, type Action } from '../../../policy/request.ts';
import { REGISTRY } from '../../registry.ts';

/**
 * The MCP tool that uses a connection of each type; a type with none (a protocol MCP has no tool
 * for) is not usable through MCP.
 */
export const TOOL_BY_TYPE: Readonly<Partial<Record<Connection['type'], string>>> = { postgres: 'query', llm: 'call_llm', http: 'http_request', ssh: 'run_command' };

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
  const tool = TOOL_BY_TYPE[conn.type];
  if (tool === undefined || !decide('mcp.call', tool)) return [];
  // The data actions a connection of this type is used with, as its protocol declares them.
  const actions = (REGISTRY.connectionType(conn.type)?.actions ?? []).filter(isAction);
  return actions.filter((a) => decide(a));
}
