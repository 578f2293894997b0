import type { McpDeps } from '../deps.ts';
import { connectionResource } from '../../../enforce/authorize.ts';
import type { Connection } from '../../../connections/registry.ts';
import type { Principal } from '../../../identity/principal.ts';
import { isAction, type Action } from '../../../policy/request.ts';
import { REGISTRY, type ConnectionType, type ProtocolSet } from '../../registry.ts';

/**
 * The MCP tool that uses a connection of `type`, as its protocol declares it (`mcpTool` of the
 * connection type); undefined when it declares none (MCP has no tool for it).
 *
 * @example toolFor('postgres') // 'query'
 */
export function toolFor(type: string, set: ProtocolSet = REGISTRY): string | undefined {
  return set.connectionType(type)?.mcpTool;
}

/**
 * Whether `conn` is a connection the tool `tool` uses (its type declares that tool): how each
 * connection tool refuses another type's connection, without naming a type.
 *
 * @example uses('query', conn) // true for a postgres connection
 */
export function uses(tool: string, conn: Connection): boolean {
  return toolFor(conn.type) === tool;
}

/**
 * The MCP tool of each registered connection type that has one, derived from the protocols'
 * declarations (`{ postgres: 'query', llm: 'call_llm', http: 'http_request', ssh: 'run_command' }`);
 * a type absent here is not usable through MCP.
 */
export const TOOL_BY_TYPE: Readonly<Partial<Record<ConnectionType, string>>> = Object.freeze(Object.fromEntries(
  REGISTRY.connectionTypes.flatMap((t) => {
    const tool = toolFor(t);
    return tool === undefined ? [] : [[t, tool] as const];
  }),
));

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
  const tool = toolFor(conn.type);
  if (tool === undefined || !decide('mcp.call', tool)) return [];
  // The data actions a connection of this type is used with, as its protocol declares them.
  const actions = (REGISTRY.connectionType(conn.type)?.actions ?? []).filter(isAction);
  return actions.filter((a) => decide(a));
}
