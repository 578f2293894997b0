import type { CedarContext, CedarValueJson, EntityJson } from './cedar.ts';
import { REGISTRY, type ProtocolSet } from '../protocols/registry.ts';
import type { AccessRequest, Facts } from './request.ts';
import type { ContextUse, RequestUsage } from './request-usage.ts';

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
 * Throws when the action and the resource kind do not fit (`admin`: the gateway; `mcp.call`:
 * either; every other action: a connection).
 *
 * @example toCedarRequest(req).principal // { type: 'User', id: 'alice' }
 */
export function toCedarRequest(req: AccessRequest, set: ProtocolSet = REGISTRY): CedarRequest {
  const { principal: p, resource: r } = req;
  if (!appliesTo(set, req.action, r.kind)) {
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
    // The attributes the registered types declare (the schema's optional ones), never another.
    if (r.attrs !== undefined) {
      for (const a of set.resourceAttributes) {
        const v = r.attrs[a.name];
        if (v !== undefined) attrs[a.name] = v;
      }
    }
    entities.push({ uid: resource, attrs, parents: [] });
  } else if (r.kind === 'session') {
    resource = { type: 'Session', id: r.id };
    const attrs: Record<string, CedarValueJson> = { protocol: r.protocol };
    if (r.owner !== undefined) attrs.owner = r.owner;
    if (r.agent !== undefined) attrs.agent = r.agent;
    if (r.connection !== undefined) attrs.connection = r.connection;
    // A session is `in` its owner: `resource in principal` is "my own session".
    entities.push({ uid: resource, attrs, parents: r.owner === undefined ? [] : [{ type: 'User', id: r.owner }] });
  } else {
    resource = { type: 'Gateway', id: GATEWAY_ID };
    entities.push({ uid: resource, attrs: {}, parents: [] });
  }

  const at = new Date(req.at);
  const context: CedarContext = {
    via: p.via,
    time: { hour: at.getUTCHours(), weekday: at.getUTCDay(), epoch: Math.floor(req.at / 1000) },
    ...factsContext(set, req.facts),
  };
  if (agent) context.agent = { id: agent.id, groups: [...agent.groups] };
  return { principal, action: { type: 'Action', id: req.action }, resource, context, entities };
}

/**
 * The resource kinds of the schema's `appliesTo` for each action: `admin` the gateway,
 * `review.approve` a connection, a protocol's action what it declares.
 */
function appliesTo(set: ProtocolSet, action: string, kind: AccessRequest['resource']['kind']): boolean {
  if ((action === 'session.view') !== (kind === 'session')) return false;
  if (kind === 'session') return true;
  const declared = set.actions.find((a) => a.name === action);
  if (declared) return declared.resources.includes(kind === 'gateway' ? 'Gateway' : 'Connection');
  return (action === 'admin') === (kind === 'gateway');
}

function groupUids(names: readonly string[], all: Set<string>): CedarUid[] {
  const out: CedarUid[] = [];
  for (const g of new Set(names)) {
    all.add(g);
    out.push({ type: 'Group', id: g });
  }
  return out;
}

/**
 * Copies exactly the schema's attributes (never extra fields a protocol may have added): each
 * registered facts record present in `f`, through its declaration's `toContext`.
 */
function factsContext(set: ProtocolSet, f: Facts): CedarContext {
  const c: CedarContext = {};
  const present = f as Readonly<Record<string, unknown>>;
  for (const [key, decl] of set.facts) {
    const value = present[key];
    if (value !== undefined) c[key] = decl.toContext(value);
  }
  return c;
}

/**
 * The smallest Cedar request that decides `req` exactly as `toCedarRequest(req)` does under a
 * policy set whose usage is `usage` (see `RequestUsage`): context values the set never reads are
 * left out (so `context.time.epoch` is absent unless a policy reads it), entity attributes keep
 * only the names read, the principal's (and agent's) groups keep only those written as
 * `Group::"…"` literals, sorted, the acting agent's entity is there only when `Agent::"<id>"` is
 * written, and Group entities (no attributes, no parents) are not sent: `in` reads the child's
 * parents, not the group's entity. Sets are sorted, so the JSON of the result is a canonical key.
 * Every value (kept or not) is type-checked (string, boolean, safe integer, set of strings,
 * record); a malformed value throws, which denies (fail closed) as Cedar would.
 * Not for schema validation: required attributes may be missing.
 *
 * @example JSON.stringify(toPrunedCedarRequest(req, usage)) // the decision cache key
 */
export function toPrunedCedarRequest(req: AccessRequest, usage: RequestUsage, set: ProtocolSet = REGISTRY): CedarRequest {
  const full = toCedarRequest(req, set);
  const groups = usage.literals.get('Group');
  const keepGroups = (names: readonly string[]): CedarUid[] => {
    if (!groups) return [];
    const kept = names.filter((g) => groups.has(g));
    return [...new Set(kept)].sort().map((id) => ({ type: 'Group', id }));
  };
  const p = req.principal;
  const entities: EntityJson[] = [{ uid: full.principal, attrs: {}, parents: keepGroups(p.groups) }];
  const agent = p.agent;
  if (agent && !(p.kind === 'agent' && agent.id === p.id) && usage.literals.get('Agent')?.has(agent.id) === true) {
    entities.push({ uid: { type: 'Agent', id: agent.id }, attrs: {}, parents: keepGroups(agent.groups) });
  }
  const resource = full.entities[full.entities.length - 1];
  if (!resource) throw new Error('request has no resource entity');
  const attrs: Record<string, CedarValueJson> = {};
  for (const [name, value] of Object.entries(checkedRecord(resource.attrs ?? {}))) {
    if (usage.entityAttrs.has(name)) attrs[name] = value;
  }
  entities.push({ uid: full.resource, attrs, parents: resource.parents ?? [] });
  // Everything is checked, read or not: a malformed fact denies as it would in Cedar.
  const context = prune(checkedRecord(full.context), usage.context) as CedarContext;
  return { principal: full.principal, action: full.action, resource: full.resource, context, entities };
}

/** Keeps the parts of a (checked) context value that `use` reads. */
function prune(value: CedarValueJson, use: ContextUse): CedarValueJson {
  const rec = asRecord(value);
  if (use.full || !rec) return value;
  const out: Record<string, CedarValueJson> = {};
  for (const [attr, child] of use.children) {
    const v = rec[attr];
    if (v !== undefined) out[attr] = prune(v, child);
  }
  return out;
}

type CedarRecord = Readonly<Partial<Record<string, CedarValueJson>>>;

function asRecord(v: CedarValueJson): CedarRecord | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as CedarRecord : undefined;
}

function checkedRecord(value: CedarValueJson): Record<string, CedarValueJson> {
  return checked(value, true) as Record<string, CedarValueJson>;
}

/** `value` itself, with sets sorted, after checking it has a type the schema allows. */
function checked(value: CedarValueJson, top: boolean): CedarValueJson {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return Object.is(value, -0) ? 0 : value;
  if (Array.isArray(value) && top) {
    const items = value.map((v) => checked(v, false));
    const strings = items.filter((v) => typeof v === 'string');
    if (strings.length === items.length) return [...new Set(strings)].sort();
  } else {
    const rec = asRecord(value);
    if (!rec || '__entity' in rec || '__extn' in rec) throw new Error(`malformed request value: ${typeof value}`);
    const out: Record<string, CedarValueJson> = {};
    for (const [k, v] of Object.entries(rec)) {
      if (v === undefined) throw new Error(`malformed request value: ${k} is undefined`);
      out[k] = checked(v, true);
    }
    return out;
  }
  throw new Error(`malformed request value: ${typeof value}`);
}
