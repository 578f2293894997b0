import type { CedarContext, EntityJson } from './cedar.ts';
import type { AccessRequest, Facts } from './request.ts';

/** A Cedar entity reference. */
export interface CedarUid { readonly type: string; readonly id: string }

/** The Cedar form of an `AccessRequest`: what `explain` shows and what every decision evaluates. */
export interface CedarRequest {
  readonly principal: CedarUid;
  readonly action: CedarUid;
  readonly resource: CedarUid;
  readonly context: CedarContext;
  readonly entities: EntityJson[];
}

/** The single entity id of the `Gateway` type (resource of the `admin` action). */
export const GATEWAY_ID = 'gatehouse';

/**
 * Builds the Cedar request for `req`: principal `User::"alice"` or `Agent::"bot"` with its groups
 * as parents; the acting agent's entity (with its groups) when an agent acts for a user; the
 * Group entities; the resource (`Connection` with its attributes, or `Gateway::"gatehouse"`);
 * and the context of the schema (agent, via, time in UTC, and the facts present).
 * Throws when the action and the resource kind do not fit (`admin` ⇔ gateway).
 *
 * @example toCedarRequest(req).principal // { type: 'User', id: 'alice' }
 */
export function toCedarRequest(req: AccessRequest): CedarRequest {
  const { principal: p, resource: r } = req;
  if ((req.action === 'admin') !== (r.kind === 'gateway')) {
    throw new Error(`action ${req.action} does not apply to a ${r.kind} resource`);
  }
  const entities: EntityJson[] = [];
  const groups = new Set<string>();
  const principal = { type: p.kind === 'agent' ? 'Agent' : 'User', id: p.id };
  entities.push({ uid: principal, attrs: {}, parents: groupUids(p.groups, groups) });
  const agent = p.agent;
  if (agent && !(p.kind === 'agent' && agent.id === p.id)) {
    entities.push({ uid: { type: 'Agent', id: agent.id }, attrs: {}, parents: groupUids(agent.groups, groups) });
  }
  for (const g of groups) entities.push({ uid: { type: 'Group', id: g }, attrs: {}, parents: [] });

  let resource: CedarUid;
  if (r.kind === 'connection') {
    resource = { type: 'Connection', id: r.name };
    const attrs: Record<string, string | string[]> = { name: r.name, type: r.type, tags: [...(r.tags ?? [])] };
    if (r.provider !== undefined) attrs.provider = r.provider;
    entities.push({ uid: resource, attrs, parents: [] });
  } else {
    resource = { type: 'Gateway', id: GATEWAY_ID };
    entities.push({ uid: resource, attrs: {}, parents: [] });
  }

  const at = new Date(req.at);
  const context: CedarContext = {
    via: p.via,
    time: { hour: at.getUTCHours(), weekday: at.getUTCDay(), epoch: Math.floor(req.at / 1000) },
    ...factsContext(req.facts),
  };
  if (agent) context.agent = { id: agent.id, groups: [...agent.groups] };
  return { principal, action: { type: 'Action', id: req.action }, resource, context, entities };
}

function groupUids(names: readonly string[], all: Set<string>): CedarUid[] {
  const out: CedarUid[] = [];
  for (const g of new Set(names)) {
    all.add(g);
    out.push({ type: 'Group', id: g });
  }
  return out;
}

/** Copies exactly the schema's attributes (never extra fields a protocol may have added). */
function factsContext(f: Facts): CedarContext {
  const c: CedarContext = {};
  if (f.sql) {
    const s = f.sql;
    c.sql = {
      kinds: [...s.kinds], tables: [...s.tables], functions: [...s.functions],
      dangerous_functions: [...s.dangerous_functions], statements: s.statements, has_where: s.has_where,
      data_modifying_cte: s.data_modifying_cte, do_block: s.do_block, copy_program: s.copy_program,
    };
  }
  if (f.llm) {
    const l = f.llm;
    c.llm = {
      provider: l.provider, endpoint: l.endpoint, model: l.model, stream: l.stream, tools: [...l.tools],
      secret_types: [...l.secret_types], pii_types: [...l.pii_types], findings: l.findings,
    };
  }
  if (f.http) c.http = { method: f.http.method, path: f.http.path };
  if (f.mcp) c.mcp = { tool: f.mcp.tool };
  return c;
}
