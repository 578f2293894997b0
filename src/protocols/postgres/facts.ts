/** The facts a SQL text yields (`context.sql`): produced by inspect/sql, read by policy. */

/** Facts extracted from a SQL request (inspect/sql). */
export interface SqlFacts {
  readonly kinds: readonly string[];
  readonly tables: readonly string[];
  readonly functions: readonly string[];
  readonly dangerous_functions: readonly string[];
  readonly statements: number;
  /** Every UPDATE/DELETE has a WHERE clause (true when there is none of either). */
  readonly has_where: boolean;
  readonly data_modifying_cte: boolean;
  readonly do_block: boolean;
  readonly copy_program: boolean;
  /** COPY … TO STDOUT is present (absent: false). */
  readonly copy_out?: boolean;
  /** Side-effect categories: lock, notify, settings, transaction_id, sequence, volatile_function (absent: none). */
  readonly side_effects?: readonly string[];
  /** Settings changed by SET/RESET/set_config, lowercased; `all` for RESET ALL, `*` when unknown (absent: none). */
  readonly settings?: readonly string[];
  /** Server secrets read: secret catalogs/views, secret settings, functions returning them (absent: none). */
  readonly server_secrets?: readonly string[];
  /** Names that may be function calls (explicit calls and attribute notation `t.f`, `(x).f`) (absent: `functions`). */
  readonly possible_functions?: readonly string[];
  /** Functions the upstream catalog marks volatile and the configuration does not list as safe (absent: none). */
  readonly volatile_functions?: readonly string[];
  /**
   * Protected columns (connection column rules) the statement's result columns derive from, as
   * `schema.table.column` and `table.column`. Empty (absent) without column rules.
   */
  readonly protected_reads?: readonly string[];
  /** Protected columns it filters, joins, groups or orders on (WHERE, JOIN … ON, HAVING, ORDER BY, LIMIT …). */
  readonly protected_filters?: readonly string[];
}
