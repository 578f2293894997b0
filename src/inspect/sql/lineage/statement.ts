import { newCtx, type Ctx } from './context.ts';
import { expr } from './expr.ts';
import { fromItem } from './from.ts';
import { CLEAN, derived, OPAQUE, union } from './lineage-set.ts';
import { settingMayCarryData } from './names.ts';
import { analyzeQuery } from './query.ts';
import { Level } from './scope.ts';
import { isRecord, list, strings, tagOf, type Node } from './tree.ts';
import { LineageUnknownError, type LineageCatalog, type OutputEntry, type StatementLineage } from './types.ts';

/** Statements that read no table data and return no rows derived from any. */
const NO_DATA: ReadonlySet<string> = new Set([
  'TransactionStmt', 'VariableSetStmt', 'VariableShowStmt', 'DeallocateStmt', 'ClosePortalStmt', 'DiscardStmt',
  'ListenStmt', 'UnlistenStmt', 'CheckPointStmt', 'LoadStmt', 'ConstraintsSetStmt',
]);

function result(ctx: Ctx, outputs: readonly OutputEntry[] | undefined, extra: Partial<StatementLineage> = {}): StatementLineage {
  return {
    outputs, touches: derived(union([...ctx.touched, ...ctx.filters, ...ctx.sinks, ...(outputs ?? []).map((o) => o.lineage)])),
    filters: derived(union(ctx.filters)), sinks: derived(union(ctx.sinks)), ...extra,
  };
}

function copy(b: Node, ctx: Ctx): StatementLineage {
  let outputs: OutputEntry[];
  if (b.query !== undefined) outputs = analyzeQuery(b.query, undefined, ctx, 0);
  else if (isRecord(b.relation)) {
    const level = new Level(undefined);
    const it = fromItem({ RangeVar: b.relation }, level, ctx, 0);
    const cols = b.attlist === undefined ? undefined : strings(b.attlist);
    outputs = cols === undefined ? it.star : cols.map((c) => ({ kind: 'column' as const, name: c, lineage: level.resolve([c]) }));
    if (b.whereClause !== undefined) ctx.filters.push(expr(b.whereClause, level, ctx, 0));
  } else throw new LineageUnknownError('COPY without a source');
  // COPY FROM fires the table's triggers (see the DML case in statementLineage).
  if (b.is_from === true) { ctx.touched.push(OPAQUE); return result(ctx, undefined, {}); }
  return result(ctx, outputs, { copiesOut: true });
}

/**
 * The lineage of one top-level statement (a parse-tree node `{ Tag: body }`), against a catalog
 * that already holds every relation it names. Throws {@link LineageUnknownError} when the lineage
 * cannot be determined (unknown names, unsupported constructs, statements not analyzed): the
 * caller then denies the statement if it may touch a protected column.
 *
 * @example
 *   const l = statementLineage(parseSync('SELECT upper(phone) FROM customers').stmts[0].stmt, catalog);
 *   l.outputs[0].lineage.sources // Map { 'public.customers.phone' => … }, bare: false
 */
export function statementLineage(node: unknown, catalog: LineageCatalog): StatementLineage {
  const t = tagOf(node);
  if (!t) throw new LineageUnknownError('malformed statement');
  const b = t.body;
  const ctx = newCtx(catalog, analyzeQuery);
  switch (t.tag) {
    case 'SelectStmt': {
      const outputs = analyzeQuery(node, undefined, ctx, 0);
      if (isRecord(b.intoClause)) { ctx.sinks.push(...outputs.map((o) => o.lineage)); return result(ctx, undefined); }
      return result(ctx, outputs);
    }
    case 'InsertStmt': case 'UpdateStmt': case 'DeleteStmt': case 'MergeStmt': {
      const outputs = analyzeQuery(node, undefined, ctx, 0);
      const returning = isRecord(b.returningClause) || b.returningList !== undefined;
      // A write fires the table's triggers and rules, code the analysis does not see (an audit
      // trigger may RAISE a protected value): the statement counts as touching something opaque.
      ctx.touched.push(OPAQUE);
      return result(ctx, returning ? outputs : undefined);
    }
    case 'DeclareCursorStmt': {
      if (typeof b.portalname !== 'string') throw new LineageUnknownError('cursor without a name');
      const outputs = analyzeQuery(b.query, undefined, ctx, 0);
      const r = result(ctx, outputs, { declares: b.portalname });
      return r;
    }
    case 'FetchStmt':
      if (typeof b.portalname !== 'string') throw new LineageUnknownError('FETCH without a cursor name');
      // MOVE computes the cursor's rows as FETCH does (their errors may quote them): the same name lookup.
      return result(ctx, undefined, { fetches: b.portalname });
    case 'ExecuteStmt':
      if (typeof b.name !== 'string') throw new LineageUnknownError('EXECUTE without a name');
      ctx.touched.push(expr(b.params, new Level(undefined), ctx, 0));
      return result(ctx, undefined, { executes: b.name });
    case 'PrepareStmt': {
      if (typeof b.name !== 'string') throw new LineageUnknownError('PREPARE without a name');
      const inner = statementLineage(b.query, catalog);
      if (inner.declares !== undefined || inner.fetches !== undefined || inner.executes !== undefined) throw new LineageUnknownError('unsupported prepared statement');
      return { ...inner, prepares: b.name };
    }
    case 'ExplainStmt': {
      const inner = statementLineage(b.query, catalog);
      if (inner.executes !== undefined) throw new LineageUnknownError('EXPLAIN EXECUTE is not analyzed');
      // The plan shows the statement's own text and estimates, not row values — except what the
      // planner computed: a call of a function whose body is hidden (an IMMUTABLE one is folded into
      // a constant, `Output: '555-…'::text`) makes the plan text opaque.
      return { outputs: [{ kind: 'column', name: 'QUERY PLAN', lineage: inner.touches.opaque ? OPAQUE : CLEAN }], touches: inner.touches, filters: inner.filters, ...(inner.sinks ? { sinks: inner.sinks } : {}) };
    }
    case 'CopyStmt': return copy(b, ctx);
    case 'CreateTableAsStmt': {
      ctx.sinks.push(...analyzeQuery(b.query, undefined, ctx, 0).map((o) => o.lineage));
      return result(ctx, undefined);
    }
    default:
      if (t.tag === 'VariableShowStmt') {
        // A setting may hold what a hidden function set it to (`set_config('app.x', phone, false)`),
        // as `current_setting` may: opaque, unless its value is one of a fixed set of words.
        const name = typeof b.name === 'string' ? b.name : 'all';
        if (name.toLowerCase() === 'all') return { outputs: [{ kind: 'spread', lineage: OPAQUE }], touches: OPAQUE, filters: CLEAN };
        const lineage = settingMayCarryData(name) ? OPAQUE : CLEAN;
        return { outputs: [{ kind: 'column', name: undefined, lineage }], touches: lineage, filters: CLEAN };
      }
      if (NO_DATA.has(t.tag)) return { outputs: undefined, touches: CLEAN, filters: CLEAN };
      throw new LineageUnknownError(`${t.tag} is not analyzed for column lineage`);
  }
}

/** Relation and function names a statement mentions anywhere (for loading the catalog first). */
export function mentionedNames(root: unknown): { relations: { schema: string | undefined; name: string }[]; functions: { schema: string | undefined; name: string }[] } {
  const relations: { schema: string | undefined; name: string }[] = [];
  const functions: { schema: string | undefined; name: string }[] = [];
  const stack: unknown[] = [root];
  for (let n = 0, v = stack.pop(); v !== undefined; v = stack.pop()) {
    if (++n > 2_000_000) throw new LineageUnknownError('statement too large');
    if (Array.isArray(v)) { for (const x of v as unknown[]) stack.push(x); continue; }
    if (!isRecord(v)) continue;
    if (typeof v.relname === 'string') relations.push({ schema: typeof v.schemaname === 'string' && v.schemaname !== '' ? v.schemaname : undefined, name: v.relname });
    const fn = v.funcname === undefined ? undefined : strings(v.funcname);
    if (fn !== undefined && fn.length > 0) functions.push({ schema: fn.length > 1 ? fn[fn.length - 2] : undefined, name: fn[fn.length - 1]! });
    // `t.f` / `(x).f` may call f(t) (attribute notation): every field name may be a function.
    const fields = v.fields ?? v.indirection;
    for (const f of list(fields).slice(v.fields !== undefined ? 1 : 0)) {
      const s = tagOf(f)?.tag === 'String' ? (f as { String: { sval?: unknown } }).String.sval : undefined;
      if (typeof s === 'string') functions.push({ schema: undefined, name: s });
    }
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push(child);
  }
  return { relations, functions };
}
