import { CLEAN, derived, union } from './lineage-set.ts';
import { LineageUnknownError, type Lineage, type OutputEntry } from './types.ts';

/** A named column a FROM item provides. */
export interface ItemColumn {
  /** Its name; undefined when the analysis cannot be sure of it (then it matches every name). */
  readonly name: string | undefined;
  readonly lineage: Lineage;
}

/**
 * One FROM item as seen by column references: its qualifier (alias, or the relation's name), its
 * columns, and `rest` when it may provide columns whose names are not known (a function's record).
 */
export interface RangeItem {
  readonly alias: string | undefined;
  /** Schema of a relation referenced by a qualified name (for `schema.table.column`). */
  readonly schema?: string;
  readonly columns: readonly ItemColumn[];
  readonly rest?: Lineage;
  /** What `*` / `alias.*` expands to, in order. */
  readonly star: readonly OutputEntry[];
}

/** A CTE visible by name. */
export interface CteDef {
  readonly columns: readonly ItemColumn[];
  readonly rest?: Lineage;
  readonly star: readonly OutputEntry[];
}

/**
 * The names a query level sees: its FROM items, its CTEs, and the enclosing levels (outer
 * references of subqueries). Resolution follows PostgreSQL: the innermost level that has a
 * match wins; inside a level every possible match is unioned (over-approximation).
 */
export class Level {
  readonly items: RangeItem[] = [];
  /** What `*` expands to: the FROM list's entries in order (a join's merged columns first). */
  readonly stars: (readonly OutputEntry[])[] = [];
  readonly ctes = new Map<string, CteDef>();
  readonly parent: Level | undefined;

  constructor(parent: Level | undefined) {
    this.parent = parent;
  }

  /** The CTE `name` visible here (innermost first). */
  cte(name: string): CteDef | undefined {
    return this.ctes.get(name) ?? this.parent?.cte(name);
  }

  /** The lineage of a column reference (`fields` are its name parts; no `*`). Throws when unknown. */
  resolve(fields: readonly string[]): Lineage {
    const hit = this.#resolveHere(fields);
    if (hit) return hit;
    if (this.parent) return this.parent.resolve(fields);
    throw new LineageUnknownError(`column "${fields.join('.')}" cannot be resolved`);
  }

  /** What `alias.*` (or `*` when `alias` is undefined) expands to here. Throws when unknown. */
  star(qualifier: readonly string[] | undefined): readonly OutputEntry[] {
    if (qualifier === undefined) return this.stars.flat();
    const items = this.#qualified(qualifier);
    if (items.length > 0) return items.length === 1 ? items[0]!.star : [{ kind: 'spread', lineage: union(items.map(whole)) }];
    if (this.parent) return this.parent.star(qualifier);
    throw new LineageUnknownError(`"${qualifier.join('.')}.*" cannot be resolved`);
  }

  #qualified(q: readonly string[]): RangeItem[] {
    const name = q[q.length - 1];
    const schema = q.length >= 2 ? q[q.length - 2] : undefined;
    return this.items.filter((i) => i.alias === name && (schema === undefined || i.schema === undefined || i.schema === schema));
  }

  #resolveHere(fields: readonly string[]): Lineage | undefined {
    if (fields.length === 1) {
      const name = fields[0]!;
      const found: Lineage[] = [];
      let bareCount = 0;
      for (const item of this.items) {
        for (const c of item.columns) if (c.name === undefined || c.name === name) { found.push(c.lineage); bareCount++; }
        if (item.rest) found.push(item.rest);
      }
      if (found.length > 0) return bareCount === 1 && found.length === 1 ? found[0]! : derived(union(found));
      // No column of that name: a FROM item's name is its whole row.
      const rows = this.items.filter((i) => i.alias === name);
      return rows.length > 0 ? derived(union(rows.map(whole))) : undefined;
    }
    // `t.c`, `s.t.c`, `db.s.t.c`: the last part is the column, the rest qualifies the item.
    const items = this.#qualified(fields.slice(0, -1));
    if (items.length === 0) return undefined;
    const col = fields[fields.length - 1]!;
    const found: Lineage[] = [];
    for (const item of items) {
      const cols = item.columns.filter((c) => c.name === undefined || c.name === col);
      for (const c of cols) found.push(c.lineage);
      if (item.rest) found.push(item.rest);
      // `t.f` where t has no column f calls f(t): it derives from the whole row.
      if (cols.length === 0 && !item.rest) found.push(derived(whole(item)));
    }
    return found.length === 1 ? found[0]! : derived(union(found));
  }
}

/** The whole-row value of an item (`t` in `SELECT t FROM t`): everything it provides. */
export function whole(item: RangeItem): Lineage {
  const parts = item.columns.map((c) => c.lineage);
  if (item.rest) parts.push(item.rest);
  for (const s of item.star) parts.push(s.lineage);
  return parts.length === 0 ? CLEAN : derived(union(parts));
}

/** Columns (with names) of a list of output entries; spreads become `rest`. */
export function columnsOf(outputs: readonly OutputEntry[], names?: readonly string[]): { columns: ItemColumn[]; rest?: Lineage; star: OutputEntry[] } {
  const columns: ItemColumn[] = [];
  const spreads: Lineage[] = [];
  let i = 0;
  const star: OutputEntry[] = [];
  for (const o of outputs) {
    if (o.kind === 'spread') {
      // Alias names after a spread cannot be placed: every later name may be any of them.
      spreads.push(o.lineage);
      star.push(o);
      continue;
    }
    const alias = names?.[i];
    const name = spreads.length > 0 && names !== undefined && i < names.length ? undefined : (alias ?? o.name);
    columns.push({ name, lineage: o.lineage });
    star.push({ kind: 'column', name, lineage: o.lineage });
    i++;
  }
  if (spreads.length === 0) return { columns, star };
  return { columns, rest: derived(union(spreads)), star };
}
