import { MAX_DEPTH, type Ctx } from './context.ts';
import { expr, exprList, starOf } from './expr.ts';
import { fromItem } from './from.ts';
import { CLEAN, derived, sameLineage, union } from './lineage-set.ts';
import { figureName } from './names.ts';
import { columnsOf, Level, type CteDef } from './scope.ts';
import { isRecord, list, strings, tagOf, type Node } from './tree.ts';
import { LineageUnknownError, type Lineage, type OutputEntry } from './types.ts';

/** Most rounds of a recursive WITH before giving up (lineage only grows, so it settles fast). */
const MAX_FIXPOINT_ROUNDS = 12;

/**
 * The output entries of a query node: `{ SelectStmt }`, or a data-modifying statement (its
 * RETURNING list; none without one). `parent` is the enclosing level (outer references, CTEs).
 */
export function analyzeQuery(node: unknown, parent: Level | undefined, ctx: Ctx, depth: number): OutputEntry[] {
  if (depth > MAX_DEPTH) throw new LineageUnknownError('query nested too deeply');
  const t = tagOf(node);
  if (!t) throw new LineageUnknownError('unsupported query');
  switch (t.tag) {
    case 'SelectStmt': return select(t.body, parent, ctx, depth);
    case 'InsertStmt': case 'UpdateStmt': case 'DeleteStmt': case 'MergeStmt': return modify(t.tag, t.body, parent, ctx, depth);
    default: throw new LineageUnknownError(`unsupported query ${t.tag}`);
  }
}

function cteDef(outputs: readonly OutputEntry[], names: readonly string[] | undefined): CteDef {
  const c = columnsOf(outputs, names);
  return { columns: c.columns, ...(c.rest ? { rest: c.rest } : {}), star: c.star };
}

function sameDef(a: CteDef, b: CteDef): boolean {
  if (a.star.length !== b.star.length) return false;
  return a.star.every((e, i) => {
    const f = b.star[i]!;
    return e.kind === f.kind && sameLineage(e.lineage, f.lineage) && (e.kind !== 'column' || f.kind !== 'column' || e.name === f.name);
  });
}

/** Registers a WITH clause's CTEs on `level`; a recursive WITH is solved as a fixpoint. */
function withClause(w: Node, level: Level, ctx: Ctx, depth: number): void {
  const ctes = list(w.ctes).map((c) => {
    const t = tagOf(c);
    if (t?.tag !== 'CommonTableExpr' || typeof t.body.ctename !== 'string') throw new LineageUnknownError('unsupported CTE');
    const names = t.body.aliascolnames === undefined ? undefined : strings(t.body.aliascolnames);
    return { name: t.body.ctename, query: t.body.ctequery, names };
  });
  if (w.recursive !== true) {
    for (const c of ctes) level.ctes.set(c.name, cteDef(ctx.query(c.query, level, ctx, depth + 1), c.names));
    return;
  }
  // Any CTE of a recursive WITH may refer to any other: start from "unknown width, no sources".
  for (const c of ctes) level.ctes.set(c.name, { columns: [], rest: CLEAN, star: [{ kind: 'spread', lineage: CLEAN }] });
  for (let round = 0; round < MAX_FIXPOINT_ROUNDS; round++) {
    let changed = false;
    for (const c of ctes) {
      const next = cteDef(ctx.query(c.query, level, ctx, depth + 1), c.names);
      const prev = level.ctes.get(c.name)!;
      // Union with the previous round so lineage only grows.
      const sameShape = prev.star.length === next.star.length && prev.star.every((e, i) => e.kind === next.star[i]!.kind);
      const merged = sameShape ? cteDef(next.star.map((e, i) => ({ ...e, lineage: unionKeep(prev.star[i]!.lineage, e.lineage) })), undefined) : next;
      if (!sameDef(prev, merged)) { changed = true; level.ctes.set(c.name, merged); }
    }
    if (!changed) return;
  }
  throw new LineageUnknownError('recursive WITH did not settle');
}

function unionKeep(a: Lineage, b: Lineage): Lineage {
  return sameLineage(a, b) ? a : derived(union([a, b]));
}

/** The named windows of a query (`WINDOW w AS (…)`) as one lineage, and as filters. */
function windowLineage(s: Node, level: Level, ctx: Ctx, depth: number): Lineage {
  const l = exprList(s.windowClause, level, ctx, depth + 1);
  ctx.filters.push(l);
  return l;
}

/** ORDER BY / GROUP BY / DISTINCT ON items: input columns, or output names and ordinals. */
function clauseLineage(items: unknown, level: Level, outputs: readonly OutputEntry[], ctx: Ctx, depth: number, windows: Lineage): Lineage {
  const parts: Lineage[] = [];
  for (const raw of list(items)) {
    const t = tagOf(raw);
    const node = t?.tag === 'SortBy' ? t.body.node : raw;
    const nt = tagOf(node);
    if (nt?.tag === 'A_Const' && isRecord(nt.body.ival)) {
      const n = typeof nt.body.ival.ival === 'number' ? nt.body.ival.ival : 0;
      const o = outputs.some((e) => e.kind === 'spread') ? undefined : outputs[n - 1];
      parts.push(o ? o.lineage : union(outputs.map((e) => e.lineage)));
      continue;
    }
    const name = nt?.tag === 'ColumnRef' ? strings(nt.body.fields) : undefined;
    const byName = name?.length === 1 ? outputs.filter((e) => e.kind === 'spread' || e.name === undefined || e.name === name[0]) : [];
    try {
      parts.push(expr(node, level, ctx, depth + 1, windows));
      if (byName.length > 0) parts.push(...byName.map((e) => e.lineage));
    } catch (err) {
      if (!(err instanceof LineageUnknownError) || byName.length === 0) throw err;
      parts.push(...byName.map((e) => e.lineage));
    }
  }
  return derived(union(parts));
}

function targets(list_: unknown, level: Level, ctx: Ctx, depth: number, windows: Lineage): OutputEntry[] {
  const out: OutputEntry[] = [];
  for (const raw of list(list_)) {
    const t = tagOf(raw);
    if (t?.tag !== 'ResTarget') throw new LineageUnknownError('unsupported target');
    const val = t.body.val;
    const vt = tagOf(val);
    const star = vt?.tag === 'ColumnRef' ? starOf(vt.body, level, ctx) : undefined;
    if (star) { out.push(...star); continue; }
    const lineage = expr(val, level, ctx, depth + 1, windows);
    const name = typeof t.body.name === 'string' ? t.body.name : figureName(val);
    out.push({ kind: 'column', name, lineage });
  }
  return out;
}

/** Pairs the outputs of a set operation's two sides. */
function setOp(l: readonly OutputEntry[], r: readonly OutputEntry[]): OutputEntry[] {
  if (l.some((e) => e.kind === 'spread') || r.some((e) => e.kind === 'spread') || l.length !== r.length) {
    return [{ kind: 'spread', lineage: derived(union([...l, ...r].map((e) => e.lineage))) }];
  }
  // Names come from the left side; values from both.
  return l.map((e, i) => ({ kind: 'column', name: e.kind === 'column' ? e.name : undefined, lineage: derived(union([e.lineage, r[i]!.lineage])) }));
}

function select(s: Node, parent: Level | undefined, ctx: Ctx, depth: number): OutputEntry[] {
  ctx.budget.spend();
  const level = new Level(parent);
  if (isRecord(s.withClause)) withClause(s.withClause, level, ctx, depth);
  let outputs: OutputEntry[];
  if (s.op !== undefined && s.op !== 'SETOP_NONE') {
    const l = select(s.larg as Node, level, ctx, depth + 1);
    const r = select(s.rarg as Node, level, ctx, depth + 1);
    outputs = setOp(l, r);
    ctx.filters.push(clauseLineage(s.sortClause, new Level(level), outputs, ctx, depth, CLEAN));
  } else if (s.valuesLists !== undefined) {
    const rows = list(s.valuesLists).map((row) => {
      const items = tagOf(row)?.tag === 'List' ? list((row as { List: Node }).List.items) : list(row);
      return items.map((x) => expr(x, level, ctx, depth + 1));
    });
    const width = rows[0]?.length ?? 0;
    if (rows.some((r) => r.length !== width)) throw new LineageUnknownError('VALUES rows of different widths');
    outputs = Array.from({ length: width }, (_, i) => ({
      kind: 'column' as const, name: `column${i + 1}`, lineage: rows.length === 1 ? rows[0]![i]! : derived(union(rows.map((r) => r[i]!))),
    }));
    ctx.filters.push(clauseLineage(s.sortClause, level, outputs, ctx, depth, CLEAN));
  } else {
    for (const f of list(s.fromClause)) level.stars.push(fromItem(f, level, ctx, depth + 1).star);
    if (s.whereClause !== undefined) ctx.filters.push(expr(s.whereClause, level, ctx, depth + 1));
    const windows = windowLineage(s, level, ctx, depth);
    outputs = targets(s.targetList, level, ctx, depth, windows);
    ctx.filters.push(clauseLineage(s.groupClause, level, outputs, ctx, depth, windows));
    if (s.havingClause !== undefined) ctx.filters.push(expr(s.havingClause, level, ctx, depth + 1, windows));
    ctx.filters.push(clauseLineage(s.sortClause, level, outputs, ctx, depth, windows));
    ctx.filters.push(clauseLineage(s.distinctClause, level, outputs, ctx, depth, windows));
  }
  for (const k of ['limitCount', 'limitOffset'] as const) if (s[k] !== undefined) ctx.filters.push(expr(s[k], level, ctx, depth + 1));
  return outputs;
}

/** INSERT/UPDATE/DELETE/MERGE: what they read, and their RETURNING list. */
function modify(tag: string, s: Node, parent: Level | undefined, ctx: Ctx, depth: number): OutputEntry[] {
  ctx.budget.spend();
  const level = new Level(parent);
  if (isRecord(s.withClause)) withClause(s.withClause, level, ctx, depth);
  if (!isRecord(s.relation)) throw new LineageUnknownError(`${tag} without a target`);
  const first = fromItem({ RangeVar: s.relation }, level, ctx, depth + 1);
  const target = first.items[0]!;
  level.stars.push(first.star);
  // RETURNING may name the row before and after the change (old.*, new.*); ON CONFLICT names excluded.
  for (const alias of ['old', 'new', 'excluded']) level.items.push({ ...target, alias });
  if (tag === 'InsertStmt' && s.selectStmt !== undefined) ctx.sinks.push(...ctx.query(s.selectStmt, level, ctx, depth + 1).map((o) => o.lineage));
  for (const f of [...list(s.fromClause), ...list(s.usingClause)]) level.stars.push(fromItem(f, level, ctx, depth + 1).star);
  if (s.sourceRelation !== undefined) level.stars.push(fromItem(s.sourceRelation, level, ctx, depth + 1).star);
  for (const k of ['whereClause', 'joinCondition'] as const) if (s[k] !== undefined) ctx.filters.push(expr(s[k], level, ctx, depth + 1));
  // What is written: SET values, ON CONFLICT updates, MERGE actions.
  for (const k of ['targetList', 'onConflictClause', 'mergeWhenClauses'] as const) if (s[k] !== undefined) ctx.sinks.push(expr(s[k], level, ctx, depth + 1));
  const returning = isRecord(s.returningClause) ? s.returningClause.exprs : s.returningList;
  return returning === undefined ? [] : targets(returning, level, ctx, depth, CLEAN);
}
