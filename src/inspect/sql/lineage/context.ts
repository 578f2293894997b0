import type { Level } from './scope.ts';
import { Budget } from './tree.ts';
import type { Lineage, LineageCatalog, OutputEntry } from './types.ts';

/** Most nested expressions/queries followed (deeper → lineage unknown). */
export const MAX_DEPTH = 300;
/** Most views expanded inside one another. */
export const MAX_VIEW_DEPTH = 16;

/** State of one statement's analysis. */
export interface Ctx {
  readonly catalog: LineageCatalog;
  readonly budget: Budget;
  /** Every lineage resolved anywhere (what the statement touches). */
  readonly touched: Lineage[];
  /** Lineage of filters, joins, grouping and ordering. */
  readonly filters: Lineage[];
  /**
   * Values the statement stores or sends somewhere column rules cannot follow: rows it writes
   * (INSERT, UPDATE, MERGE, CREATE TABLE AS, SELECT INTO) and arguments of sinks (`pg_notify`,
   * `set_config`).
   */
  readonly sinks: Lineage[];
  /** Analyzes a query node (SelectStmt, DML with RETURNING) under `parent`; set by query.ts. */
  readonly query: (node: unknown, parent: Level | undefined, ctx: Ctx, depth: number) => OutputEntry[];
  viewDepth: number;
}

export function newCtx(catalog: LineageCatalog, query: Ctx['query']): Ctx {
  return { catalog, budget: new Budget(500_000), touched: [], filters: [], sinks: [], query, viewDepth: 0 };
}
