import type { Clock } from '../../kernel/clock.ts';

/** Runs one catalog query on the upstream (serialized, own connection); rows as text. */
export type CatalogRows = (sql: string) => Promise<(string | null)[][]>;

/**
 * Volatile functions of `pg_catalog` that change nothing (or whose effect is a separate fact:
 * advisory locks → `lock`, `pg_notify` → `notify`, `set_config`/`setseed` → `settings`,
 * `nextval`/`setval` → `sequence` and sql.write; file and server functions are dangerous →
 * sql.admin by name). Only their `pg_catalog` versions are trusted: a same-named function in
 * another schema is judged by its own volatility.
 */
const BUILTIN_READS: ReadonlySet<string> = new Set([
  'random', 'random_normal', 'setseed', 'clock_timestamp', 'timeofday', 'gen_random_uuid', 'uuidv4', 'uuidv7',
  'currval', 'lastval', 'nextval', 'setval', 'set_config', 'pg_sleep', 'pg_sleep_for', 'pg_sleep_until', 'current_query',
  'pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_advisory_unlock', 'pg_advisory_unlock_all',
  'pg_advisory_unlock_shared', 'pg_advisory_xact_lock', 'pg_advisory_xact_lock_shared',
  'pg_try_advisory_lock', 'pg_try_advisory_lock_shared', 'pg_try_advisory_xact_lock',
  'pg_try_advisory_xact_lock_shared', 'pg_notify', 'pg_notification_queue_usage',
  'pg_current_wal_lsn', 'pg_current_wal_insert_lsn', 'pg_current_wal_flush_lsn', 'pg_is_in_recovery',
  'pg_is_wal_replay_paused', 'pg_get_wal_replay_pause_state', 'pg_last_wal_receive_lsn',
  'pg_last_wal_replay_lsn', 'pg_last_xact_replay_timestamp', 'pg_jit_available', 'pg_database_size',
  'pg_relation_size', 'pg_table_size', 'pg_indexes_size', 'pg_total_relation_size', 'pg_tablespace_size',
  'pg_partition_tree', 'pg_partition_ancestors', 'pg_lock_status', 'pg_blocking_pids',
  'pg_safe_snapshot_blocking_pids', 'pg_sequence_last_value', 'pg_xact_commit_timestamp', 'pg_xact_status',
  'txid_status', 'pg_last_committed_xact', 'pg_collation_actual_version',
  'pg_database_collation_actual_version', 'pg_stat_clear_snapshot',
]);

/** Options of a {@link FunctionVolatility}. */
export interface FunctionVolatilityOptions {
  readonly clock: Clock;
  /** `server.postgres.safe_functions`: volatile functions known to change nothing (`name` or `schema.name`). */
  readonly safe?: readonly string[];
  /** Answers younger than this are used as they are (default 60 s). */
  readonly ttlMs?: number;
  /** Older answers (up to this age, default 10 min) are used while a refresh runs in the background. */
  readonly staleMs?: number;
}

/**
 * Which functions the upstream catalog marks volatile (`pg_proc.provolatile = 'v'`), so that a
 * statement calling one — by name or in attribute notation — is treated as a write unless the
 * configuration lists it as safe. One catalog query loads every volatile function's schema and
 * name (a few hundred rows); answers are then synchronous. A qualified name matches its schema;
 * an unqualified one (a call or attribute notation) every schema on the upstream role's search
 * path — sessions cannot change it (`SET search_path` is admin, the startup parameter is
 * refused) — whatever the argument types: fail closed.
 *
 * @example
 *   const v = new FunctionVolatility((sql) => catalog.rows(sql), { clock, safe: ['audit.touch'] });
 *   await v.load(); v.check(['lower', 'log_visit']) // ['log_visit'] when log_visit is volatile
 */
export class FunctionVolatility {
  readonly #rows: CatalogRows;
  readonly #clock: Clock;
  readonly #safe: ReadonlySet<string>;
  readonly #ttl: number;
  readonly #stale: number;
  /** name → schemas where a volatile function of that name exists (true: on the search path). */
  #volatile: Map<string, Map<string, boolean>> | undefined;
  #at = 0;
  #loading: Promise<void> | undefined;

  constructor(rows: CatalogRows, opts: FunctionVolatilityOptions) {
    this.#rows = rows;
    this.#clock = opts.clock;
    this.#safe = new Set((opts.safe ?? []).map((s) => s.toLowerCase()));
    this.#ttl = opts.ttlMs ?? 60_000;
    this.#stale = opts.staleMs ?? 600_000;
  }

  /**
   * The names (as given) that may call a volatile function not known to be safe, or undefined
   * when the catalog must be read first ({@link load}). A stale answer is used while a refresh
   * runs in the background.
   */
  check(names: readonly string[]): string[] | undefined {
    if (names.length === 0) return [];
    const map = this.#volatile;
    const age = this.#clock.now() - this.#at;
    if (!map || age >= this.#stale) return undefined;
    if (age >= this.#ttl) this.load().catch(() => undefined);
    const out: string[] = [];
    for (const name of names) if (this.#isVolatile(map, name.toLowerCase())) out.push(name);
    return out;
  }

  /** Starts reading the catalog in the background when there is no fresh answer (a session opens). */
  warm(): void {
    if (!this.#volatile || this.#clock.now() - this.#at >= this.#ttl) this.load().catch(() => undefined);
  }

  /** Reads the catalog (one load at a time); rejects when it cannot be read. */
  load(): Promise<void> {
    this.#loading ??= this.#rows(
      'SELECT n.nspname, p.proname, n.nspname = ANY (pg_catalog.current_schemas(true)) FROM pg_catalog.pg_proc p ' +
      "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.provolatile = 'v' AND p.prokind IN ('f', 'a', 'w')",
    ).then((rows) => {
      const map = new Map<string, Map<string, boolean>>();
      for (const r of rows) {
        const [schema, name, onPath] = r;
        if (schema == null || name == null) continue;
        const key = name.toLowerCase();
        let m = map.get(key);
        if (!m) { m = new Map(); map.set(key, m); }
        m.set(schema.toLowerCase(), (m.get(schema.toLowerCase()) ?? false) || onPath === 't');
      }
      this.#volatile = map;
      this.#at = this.#clock.now();
    }).finally(() => { this.#loading = undefined; });
    return this.#loading;
  }

  #isVolatile(map: ReadonlyMap<string, ReadonlyMap<string, boolean>>, qualified: string): boolean {
    const dot = qualified.lastIndexOf('.');
    const name = dot === -1 ? qualified : qualified.slice(dot + 1);
    const schemas = map.get(name);
    if (!schemas) return false;
    const wanted = dot === -1 ? undefined : qualified.slice(0, dot).split('.').pop();
    for (const [schema, onPath] of schemas) {
      // Unqualified: only the search path (the upstream role's; sessions may not change it).
      if (wanted === undefined ? !onPath : schema !== wanted) continue;
      if (schema === 'pg_catalog' && BUILTIN_READS.has(name)) continue;
      if (this.#safe.has(name) || this.#safe.has(`${schema}.${name}`)) continue;
      return true;
    }
    return false;
  }
}
