import { cedar } from './cedar.ts';

/**
 * One node of the context paths a policy set reads. A node that exists is needed (at least its
 * presence, for `has`); `full` means its whole value is read; `children` are the sub-attributes
 * read one by one.
 */
export interface ContextUse {
  full: boolean;
  readonly children: Map<string, ContextUse>;
}

/**
 * What a policy set can observe of a request, found in Cedar's own parsed (JSON) form of each
 * policy. Everything outside it cannot change a decision, so the request builder leaves it out
 * and the decision cache does not key on it:
 *  - `context`: the context paths read (`context.sql.do_block`, `context has agent` …). Any use
 *    of `context` other than an attribute chain (e.g. `context == {…}`) marks the root `full`.
 *  - `entityAttrs`: every attribute name read with `.` or `has` anywhere (a superset of the
 *    entity attributes read).
 *  - `literals`: the entity literals written anywhere (`Group::"dba"` → `Group` ↦ {`dba`}). An
 *    entity the gateway builds is reachable only as principal/resource or through a literal, and
 *    a group matters only as the right side of `in`, which is always such a literal here.
 *
 * @example
 *   const u = analyzeUsage(['forbid (principal, action, resource) when { context has sql && context.sql.do_block };']);
 *   u.context.children.get('sql')?.children.has('do_block'); // true
 */
export interface RequestUsage {
  readonly context: ContextUse;
  readonly entityAttrs: ReadonlySet<string>;
  readonly literals: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Analyzes policy texts (Cedar syntax). Throws when a text does not parse. */
export function analyzeUsage(policies: Iterable<string>): RequestUsage {
  const usage = { context: newUse(), entityAttrs: new Set<string>(), literals: new Map<string, Set<string>>() };
  for (const text of policies) {
    const res = cedar.policyToJson(text);
    if (res.type === 'failure') throw new Error(`cannot analyze policy: ${res.errors.map((e) => e.message).join('; ')}`);
    collectLiterals(res.json, usage.literals);
    for (const clause of res.json.conditions) walk(clause.body, usage);
  }
  return usage;
}

/** A usage that keeps everything (used when pruning must not happen). */
export function fullUsage(): RequestUsage {
  return { context: { full: true, children: new Map() }, entityAttrs: new Set(), literals: new Map() };
}

function newUse(): ContextUse {
  return { full: false, children: new Map() };
}

type Usage = { context: ContextUse; entityAttrs: Set<string>; literals: Map<string, Set<string>> };

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The attribute path of `context.a.b…` (empty for `context` itself), or undefined. */
function contextPath(expr: unknown): string[] | undefined {
  if (!isRecord(expr)) return undefined;
  if (expr.Var === 'context' && Object.keys(expr).length === 1) return [];
  const dot = expr['.'];
  if (!isRecord(dot) || typeof dot.attr !== 'string') return undefined;
  const base = contextPath(dot.left);
  return base ? [...base, dot.attr] : undefined;
}

function mark(root: ContextUse, path: readonly string[], full: boolean): void {
  let node = root;
  for (const attr of path) {
    let next = node.children.get(attr);
    if (!next) {
      next = newUse();
      node.children.set(attr, next);
    }
    node = next;
  }
  if (full) node.full = true;
}

/** Walks an expression (any JSON): records context paths and attribute names read. */
function walk(node: unknown, u: Usage): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, u);
    return;
  }
  if (!isRecord(node)) return;
  if (node.Var === 'context') {
    u.context.full = true;
    return;
  }
  const dot = node['.'];
  if (isRecord(dot) && typeof dot.attr === 'string') {
    u.entityAttrs.add(dot.attr);
    const path = contextPath(node);
    if (path) {
      mark(u.context, path, true);
      return;
    }
  }
  const has = node.has;
  if (isRecord(has)) {
    const attrs = typeof has.attr === 'string' ? [has.attr] : Array.isArray(has.attr) ? has.attr.filter((a) => typeof a === 'string') : [];
    for (const a of attrs) u.entityAttrs.add(a);
    const path = contextPath(has.left);
    if (path && attrs.length > 0) {
      mark(u.context, [...path, ...attrs], false);
      return;
    }
  }
  for (const v of Object.values(node)) walk(v, u);
}

/** Every `{ type, id }` (entity reference) anywhere in the policy, scope included. */
function collectLiterals(node: unknown, out: Map<string, Set<string>>): void {
  if (Array.isArray(node)) {
    for (const n of node) collectLiterals(n, out);
    return;
  }
  if (!isRecord(node)) return;
  if (typeof node.type === 'string' && typeof node.id === 'string') {
    let ids = out.get(node.type);
    if (!ids) {
      ids = new Set();
      out.set(node.type, ids);
    }
    ids.add(node.id);
  }
  for (const v of Object.values(node)) collectLiterals(v, out);
}

/**
 * Whether a policy set with this usage can decide differently at different times: it reads
 * `context.time` (or the whole context). When it cannot, a decision depends only on the principal,
 * the action, the resource and the facts.
 */
export function readsTime(u: RequestUsage): boolean {
  return u.context.full || u.context.children.has('time');
}
