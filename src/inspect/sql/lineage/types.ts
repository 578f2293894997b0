/**
 * Column lineage of SQL statements: for every output column of a statement, the source columns
 * (`schema.table.column`) its values derive from. See `docs/design/postgres-proxy.md` ("Column
 * lineage") for the rules; everything here over-approximates (a value may be said to derive from
 * a column it does not, never the other way round).
 */
import type { ErrorCode } from '../../../kernel/errors.ts';

/** A column of a stored relation. */
export interface SourceColumn {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
}

/**
 * Where a value comes from. `sources` are keyed by {@link sourceKey}. `bare` is true only for a
 * value that IS one source column's value, unchanged (a column reference passed through
 * subqueries, CTEs and views). `opaque` means it may derive from anything the server can read
 * (a function whose body is not visible, a catalog that holds other tables' values).
 */
export interface Lineage {
  readonly sources: ReadonlyMap<string, SourceColumn>;
  readonly bare: boolean;
  readonly opaque: boolean;
}

/**
 * One output column of a statement: a named column, or `spread`, a run of zero or more columns
 * whose number is not known from the text (e.g. `*` over a function returning a record), each
 * with `lineage`.
 */
export type OutputEntry =
  | { readonly kind: 'column'; readonly name: string | undefined; readonly lineage: Lineage }
  | { readonly kind: 'spread'; readonly lineage: Lineage };

/** A relation as the catalog knows it (one candidate for a name). */
export interface RelationInfo {
  readonly schema: string;
  readonly name: string;
  /** Column names in attribute order (dropped columns left out). */
  readonly columns: readonly string[];
  /** For a view or materialized view: its defining query (a parse-tree node such as `{ SelectStmt }`). */
  readonly query?: unknown;
  /** Tables it inherits from or is a partition of (a column rule on a parent covers it). */
  readonly ancestors: readonly { readonly schema: string; readonly table: string }[];
  /**
   * Tables inheriting from it or partitions of it, at any depth: a read of it may return their
   * rows, so a column rule on one of them covers its column of the same name.
   */
  readonly descendants: readonly { readonly schema: string; readonly table: string }[];
  /** Its values may derive from any column (statistics catalogs such as `pg_stats`). */
  readonly opaque?: boolean;
}

/** What lineage needs from the server's catalog; answers must already be loaded (synchronous). */
export interface LineageCatalog {
  /**
   * Every relation `name` may refer to: for a qualified name, the one in `schema`; for an
   * unqualified one, the candidates of every schema (the union over all of them is what makes the
   * analysis independent of the session's `search_path`). `undefined` when not loaded.
   */
  relations(schema: string | undefined, name: string): readonly RelationInfo[] | undefined;
  /** Whether a call of this function may read data the analysis cannot see (a user function). */
  opaqueFunction(schema: string | undefined, name: string): boolean;
  /**
   * Whether an explicit call `schema.name(…)` may run a body the analysis cannot see: a user
   * function, a name no schema defined when it was looked up (it may have been created since), and
   * once the session may have defined functions, any call not qualified with a system schema (a
   * new overload may shadow a built-in). Attribute notation (`t.f`) asks {@link opaqueFunction}.
   */
  opaqueCall(schema: string | undefined, name: string): boolean;
}

/** The lineage of one top-level statement. */
export interface StatementLineage {
  /** Its result columns, or undefined when the statement returns no rows of its own. */
  readonly outputs: readonly OutputEntry[] | undefined;
  /** Every value the statement reads anywhere (outputs, filters, subqueries, writes' sources). */
  readonly touches: Lineage;
  /** What it filters, joins, groups or orders on (WHERE, JOIN … ON, HAVING, ORDER BY, …). */
  readonly filters: Lineage;
  /** What it writes to tables or sends as notifications/settings (see `Ctx.sinks`). */
  readonly sinks?: Lineage;
  /** A cursor it declares (`DECLARE c CURSOR FOR …`: `outputs` are the cursor's rows). */
  readonly declares?: string;
  /** A cursor it fetches from or moves in (FETCH, MOVE: its rows are that cursor's; `outputs` undefined). */
  readonly fetches?: string;
  /** A prepared statement it executes (`EXECUTE p`: its rows are p's). */
  readonly executes?: string;
  /** `PREPARE p AS …`: `outputs` are p's when executed. */
  readonly prepares?: string;
  /** `COPY … TO`: `outputs` are what is copied out. */
  readonly copiesOut?: boolean;
}

/** Lineage could not be determined; the caller denies when protected data may be involved. */
export class LineageUnknownError extends Error {
  override readonly name = 'LineageUnknownError';
  /** The registry code: a statement whose lineage is unknown is denied when it matters (42501). */
  readonly code = 'policy_denied' satisfies ErrorCode;
}
