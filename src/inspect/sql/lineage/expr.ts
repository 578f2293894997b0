import type { Ctx } from './context.ts';
import { MAX_DEPTH } from './context.ts';
import { CLEAN, derived, OPAQUE, union } from './lineage-set.ts';
import { readsHiddenData } from './names.ts';
import type { Level } from './scope.ts';
import { isRecord, list, str, strings, tagOf, type Node } from './tree.ts';
import { LineageUnknownError, type Lineage, type OutputEntry } from './types.ts';

/** Functions whose arguments leave the result path: notifications and settings (readable later). */
const SINK_FUNCTIONS: ReadonlySet<string> = new Set(['pg_notify', 'set_config']);

/** Lineage of a list of expressions (derived), e.g. a GROUP BY list. */
export function exprList(v: unknown, level: Level, ctx: Ctx, depth: number, windows?: Lineage): Lineage {
  return derived(union(list(v).map((x) => expr(x, level, ctx, depth, windows))));
}

/** `*` / `t.*` in a column reference: what it expands to. Undefined when the reference has no star. */
export function starOf(colRef: Node, level: Level, ctx: Ctx): readonly OutputEntry[] | undefined {
  const fields = list(colRef.fields);
  const last = fields[fields.length - 1];
  if (tagOf(last)?.tag !== 'A_Star') return undefined;
  const qualifier = strings(fields.slice(0, -1));
  if (qualifier === undefined) throw new LineageUnknownError('unsupported column reference');
  const entries = level.star(qualifier.length === 0 ? undefined : qualifier);
  for (const e of entries) ctx.touched.push(e.lineage);
  return entries;
}

/**
 * The lineage of an expression: every column it references anywhere (arguments, CASE
 * conditions, window definitions, subqueries including their filters), derived unless it is a
 * bare column reference. `windows` is the lineage of the query's named windows.
 */
export function expr(node: unknown, level: Level, ctx: Ctx, depth: number, windows?: Lineage): Lineage {
  ctx.budget.spend();
  if (depth > MAX_DEPTH) throw new LineageUnknownError('expression nested too deeply');
  if (Array.isArray(node)) return exprList(node, level, ctx, depth + 1, windows);
  const t = tagOf(node);
  if (!t) return isRecord(node) ? generic(node, level, ctx, depth, windows) : CLEAN;
  const b = t.body;
  switch (t.tag) {
    case 'ColumnRef': {
      const star = starOf(b, level, ctx);
      if (star) return derived(union(star.map((e) => e.lineage)));
      const fields = strings(b.fields);
      if (fields === undefined || fields.length === 0) throw new LineageUnknownError('unsupported column reference');
      const l = level.resolve(fields);
      ctx.touched.push(l);
      // `t.f` may call f(t) (attribute notation): a hidden function makes it opaque.
      return fields.length > 1 && hiddenCall(fields.slice(1), ctx) ? derived(union([l, OPAQUE])) : l;
    }
    case 'A_Indirection': {
      const l = generic(b, level, ctx, depth, windows);
      const names = list(b.indirection).map(str).filter((x): x is string => x !== undefined);
      return hiddenCall(names, ctx) ? derived(union([l, OPAQUE])) : l;
    }
    case 'SubLink': {
      // The subquery's value depends on everything it reads, its filters included.
      const start = ctx.touched.length;
      const outputs = ctx.query(b.subselect, level, ctx, depth + 1);
      const inner = ctx.touched.slice(start);
      const test = b.testexpr === undefined ? CLEAN : expr(b.testexpr, level, ctx, depth + 1, windows);
      return derived(union([...outputs.map((o) => o.lineage), ...inner, test]));
    }
    case 'FuncCall': {
      const name = strings(b.funcname);
      if (name === undefined || name.length === 0) throw new LineageUnknownError('unsupported function name');
      const fn = name[name.length - 1]!;
      const schema = name.length > 1 ? name[name.length - 2] : undefined;
      const parts: Lineage[] = [generic(b, level, ctx, depth, windows)];
      if (readsHiddenData(fn) || ctx.catalog.opaqueCall(schema, fn)) parts.push(OPAQUE);
      // A value sent where column rules cannot follow it (a notification payload, a setting).
      if (SINK_FUNCTIONS.has(fn.toLowerCase())) ctx.sinks.push(parts[0]!);
      if (isRecord(b.over) && windows !== undefined && (typeof b.over.name === 'string' || typeof b.over.refname === 'string')) parts.push(windows);
      return derived(union(parts));
    }
    case 'SelectStmt': case 'InsertStmt': case 'UpdateStmt': case 'DeleteStmt': case 'MergeStmt':
      throw new LineageUnknownError(`unexpected ${t.tag} in an expression`);
    case 'A_Const': case 'ParamRef': case 'String': case 'Integer': case 'Float': case 'Boolean': case 'TypeName':
      return CLEAN;
    default:
      return generic(b, level, ctx, depth, windows);
  }
}

/** Every child of a node, unioned (derived). */
function generic(body: Node, level: Level, ctx: Ctx, depth: number, windows: Lineage | undefined): Lineage {
  const parts: Lineage[] = [];
  for (const [key, child] of Object.entries(body)) {
    if (key === 'location' || typeof child !== 'object' || child === null) continue;
    parts.push(expr(child, level, ctx, depth + 1, windows));
  }
  return parts.length === 0 ? CLEAN : derived(union(parts));
}

/** Whether any of `names` is a function whose body the analysis cannot see. */
function hiddenCall(names: readonly string[], ctx: Ctx): boolean {
  return names.some((n) => readsHiddenData(n) || ctx.catalog.opaqueFunction(undefined, n));
}
