import type { Connection } from '../connections/registry.ts';

/** One statement's result: masked rows (as text) up to the caps. */
export interface StatementResult {
  /** The command tag (`SELECT 3`, `INSERT 0 1`), or null when the statement did not complete. */
  command: string | null;
  readonly columns: { readonly name: string; readonly type_oid: number }[];
  readonly rows: (string | null)[][];
  /** Rows the server sent for this statement (kept or not). */
  row_count: number;
  /** Rows were left out (row or byte cap) or cells were cut. */
  truncated: boolean;
}

/** The outcome of one query text (one or more statements). */
export interface QueryRun {
  readonly results: StatementResult[];
  /** The server's error (message masked), if a statement failed. */
  readonly error?: { readonly sqlstate: string; readonly message: string };
}

/** Caps and deadlines of one run. */
export interface QueryLimits {
  readonly maxRows: number;
  /** Most characters of cell text kept over all statements. */
  readonly maxChars: number;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/**
 * Runs SQL on a database connection on a caller's behalf (MCP's `query` and
 * `describe_connection`), with the vaulted credential, on a fresh upstream session. With
 * `masked`, every row is masked with the connection's rules (column rules through the catalog,
 * content detectors) before it is kept, exactly as the wire listener masks it. The SQL must have
 * passed `guardSql` (and its holds) first: the runner decides nothing.
 *
 * A database protocol provides one per connection type it serves (the PostgreSQL one:
 * `protocols/postgres/query-runner.ts`); the composition root hands them to their consumers, so
 * no consumer imports a protocol's internals.
 *
 * @example const run = await runner.run(conn, 'SELECT 1', { masked: true }, { maxRows: 100, maxChars: 1 << 20, timeoutMs: 60_000 });
 */
export interface SqlQueryRunner {
  run(conn: Connection, sql: string, opts: { readonly masked: boolean }, limits: QueryLimits): Promise<QueryRun>;
}
