import type { Ctx } from './context.ts';
import { MAX_VIEW_DEPTH } from './context.ts';
import { expr } from './expr.ts';
import { column, derived, OPAQUE, union } from './lineage-set.ts';
import { holdsHiddenValues } from './names.ts';
import { columnsOf, Level, type ItemColumn, type RangeItem } from './scope.ts';
import { isRecord, list, strings, tagOf, type Node } from './tree.ts';
import { LineageUnknownError, type Lineage, type OutputEntry, type RelationInfo } from './types.ts';

function aliasOf(v: unknown): { name: string | undefined; cols: string[] | undefined } {
  if (!isRecord(v)) return { name: undefined, cols: undefined };
  const name = typeof v.aliasname === 'string' ? v.aliasname : undefined;
  const cols = v.colnames === undefined ? undefined : strings(v.colnames);
  if (v.colnames !== undefined && cols === undefined) throw new LineageUnknownError('unsupported column aliases');
  return { name, cols };
}

/** A level that sees the CTEs of `level` but not its FROM items (a subquery that is not LATERAL). */
function ctesOnly(level: Level): Level {
  const l = new Level(level.parent);
  for (const [k, v] of level.ctes) l.ctes.set(k, v);
  return l;
}

/** The output entries of one relation candidate (a table's columns, or a view's query). */
function relationOutputs(rel: RelationInfo, ctx: Ctx, depth: number): OutputEntry[] {
  if (rel.opaque === true || (rel.schema === 'pg_catalog' && holdsHiddenValues(rel.name))) {
    return rel.columns.map((name) => ({ kind: 'column', name, lineage: OPAQUE }));
  }
  if (rel.query === undefined) {
    return rel.columns.map((name) => ({
      kind: 'column', name,
      lineage: column([{ schema: rel.schema, table: rel.name, column: name }, ...[...rel.ancestors, ...rel.descendants].map((a) => ({ ...a, column: name }))]),
    }));
  }
  if (ctx.viewDepth >= MAX_VIEW_DEPTH) throw new LineageUnknownError(`views nested more than ${MAX_VIEW_DEPTH} deep`);
  ctx.viewDepth++;
  try {
    const outs = ctx.query(rel.query, undefined, ctx, depth + 1);
    if (outs.length !== rel.columns.length || outs.some((o) => o.kind === 'spread')) {
      throw new LineageUnknownError(`view ${rel.schema}.${rel.name} could not be expanded`);
    }
    return outs.map((o, i) => ({ kind: 'column', name: rel.columns[i], lineage: o.lineage }));
  } finally {
    ctx.viewDepth--;
  }
}

/** Several candidates for one unqualified name: position by position when they agree in width. */
function mergeCandidates(all: OutputEntry[][]): OutputEntry[] {
  if (all.length === 1) return all[0]!;
  const width = all[0]!.length;
  if (all.some((o) => o.length !== width)) return [{ kind: 'spread', lineage: derived(union(all.flat().map((o) => o.lineage))) }];
  return all[0]!.map((_, i) => {
    const col = all.map((o) => o[i]!);
    const name = col.every((c) => c.kind === 'column' && c.name === (col[0] as { name?: string }).name) ? (col[0] as { name?: string }).name : undefined;
    return { kind: 'column', name, lineage: union(col.map((c) => c.lineage)) };
  });
}

function item(alias: string | undefined, outputs: readonly OutputEntry[], cols: string[] | undefined, schema?: string): RangeItem {
  const c = columnsOf(outputs, cols);
  return { alias, ...(schema === undefined ? {} : { schema }), columns: c.columns, ...(c.rest ? { rest: c.rest } : {}), star: c.star };
}

function rangeVar(b: Node, level: Level, ctx: Ctx, depth: number): RangeItem {
  const name = b.relname;
  if (typeof name !== 'string') throw new LineageUnknownError('relation without a name');
  const schema = typeof b.schemaname === 'string' && b.schemaname !== '' ? b.schemaname : undefined;
  const alias = aliasOf(b.alias);
  const cte = schema === undefined ? level.cte(name) : undefined;
  if (cte) return item(alias.name ?? name, cte.star, alias.cols);
  const rels = ctx.catalog.relations(schema, name);
  if (rels === undefined || rels.length === 0) throw new LineageUnknownError(`relation "${schema === undefined ? name : `${schema}.${name}`}" is not known to the catalog`);
  const outputs = mergeCandidates(rels.map((r) => relationOutputs(r, ctx, depth)));
  return item(alias.name ?? name, outputs, alias.cols, alias.name === undefined ? schema : undefined);
}

/** The lineage of a function in FROM: its arguments (and opaque when its body is hidden). */
function rangeFunction(b: Node, level: Level, ctx: Ctx, depth: number): RangeItem {
  const parts: Lineage[] = [];
  for (const f of list(b.functions)) {
    const items = tagOf(f)?.tag === 'List' ? list((f as { List: Node }).List.items) : [f];
    // FROM functions see the FROM items before them (implicitly LATERAL).
    parts.push(expr(items[0], level, ctx, depth + 1));
  }
  const lineage = derived(union(parts));
  // Its arguments decide how many rows it returns (`generate_series(1, length(c.phone))`): a filter.
  ctx.filters.push(lineage);
  const alias = aliasOf(b.alias);
  const columns: ItemColumn[] = (alias.cols ?? []).map((name) => ({ name, lineage }));
  return { alias: alias.name, columns, rest: lineage, star: [{ kind: 'spread', lineage }] };
}

/** What `JOIN … USING (cols)` / NATURAL merges: one column per name, from both sides. */
function joinItems(b: Node, level: Level, ctx: Ctx, depth: number): { items: RangeItem[]; star: OutputEntry[] } {
  const left = fromItem(b.larg, level, ctx, depth + 1);
  const right = fromItem(b.rarg, level, ctx, depth + 1);
  if (b.quals !== undefined) ctx.filters.push(expr(b.quals, level, ctx, depth + 1));
  let using = b.usingClause === undefined ? [] : strings(b.usingClause);
  if (using === undefined) throw new LineageUnknownError('unsupported USING list');
  const names = (s: readonly OutputEntry[]): (string | undefined)[] => s.map((e) => (e.kind === 'column' ? e.name : undefined));
  if (b.isNatural === true) {
    const l = names(left.star);
    const r = names(right.star);
    if (l.includes(undefined) || r.includes(undefined)) {
      // Which columns merge is unknown: every output may be any of them.
      const lineage = derived(union([...left.star, ...right.star].map((e) => e.lineage)));
      return { items: [...left.items, ...right.items], star: [{ kind: 'spread', lineage }] };
    }
    using = l.filter((n): n is string => n !== undefined && r.includes(n));
  }
  if (using.length === 0) return { items: [...left.items, ...right.items], star: [...left.star, ...right.star] };
  const pick = (s: readonly OutputEntry[], n: string): Lineage[] => s.filter((e) => e.kind === 'spread' || e.name === undefined || e.name === n).map((e) => e.lineage);
  const merged: OutputEntry[] = using.map((n) => ({ kind: 'column', name: n, lineage: derived(union([...pick(left.star, n), ...pick(right.star, n)])) }));
  for (const m of merged) ctx.filters.push(m.lineage);
  const rest = (s: readonly OutputEntry[]): OutputEntry[] => s.filter((e) => !(e.kind === 'column' && e.name !== undefined && using.includes(e.name)));
  const star = [...merged, ...rest(left.star), ...rest(right.star)];
  const mergedItem: RangeItem = { alias: undefined, columns: merged.map((m) => ({ name: (m as { name: string }).name, lineage: m.lineage })), star: [] };
  return { items: [mergedItem, ...left.items, ...right.items], star };
}

/**
 * Adds one FROM item to `level` (its items become visible to the items after it, which is what
 * LATERAL and FROM functions may see) and returns its `*` expansion.
 */
export function fromItem(node: unknown, level: Level, ctx: Ctx, depth: number): { items: RangeItem[]; star: OutputEntry[] } {
  ctx.budget.spend();
  const t = tagOf(node);
  if (!t) throw new LineageUnknownError('unsupported FROM item');
  const b = t.body;
  const start = level.items.length;
  let star: OutputEntry[];
  switch (t.tag) {
    case 'RangeVar': { const it = rangeVar(b, level, ctx, depth); level.items.push(it); star = [...it.star]; break; }
    case 'RangeSubselect': {
      const parent = b.lateral === true ? level : ctesOnly(level);
      const outs = ctx.query(b.subquery, parent, ctx, depth + 1);
      const alias = aliasOf(b.alias);
      const it = item(alias.name, outs, alias.cols);
      level.items.push(it);
      star = [...it.star];
      break;
    }
    case 'RangeFunction': { const it = rangeFunction(b, level, ctx, depth); level.items.push(it); star = [...it.star]; break; }
    case 'RangeTableFunc': case 'JsonTable': {
      const lineage = derived(expr(Object.fromEntries(Object.entries(b).filter(([k]) => k !== 'alias')), level, ctx, depth + 1));
      ctx.filters.push(lineage); // its document and paths decide the row count, as a FROM function's arguments do
      const alias = aliasOf(b.alias);
      level.items.push({ alias: alias.name, columns: [], rest: lineage, star: [{ kind: 'spread', lineage }] });
      star = [{ kind: 'spread', lineage }];
      break;
    }
    case 'RangeTableSample': {
      const args = expr(b.args, level, ctx, depth + 1);
      ctx.touched.push(args);
      ctx.filters.push(args); // the sample's size decides the row count
      return fromItem(b.relation, level, ctx, depth + 1);
    }
    case 'JoinExpr': {
      const j = joinItems(b, level, ctx, depth);
      level.items.splice(start, level.items.length - start);
      const alias = aliasOf(b.alias);
      if (alias.name !== undefined) {
        // A join alias hides the names inside it.
        const it = item(alias.name, j.star, alias.cols);
        level.items.push(it);
        return { items: [it], star: [...it.star] };
      }
      level.items.push(...j.items);
      star = j.star;
      return { items: j.items, star };
    }
    default: throw new LineageUnknownError(`unsupported FROM item ${t.tag}`);
  }
  return { items: level.items.slice(start), star };
}
