/**
 * Curated lists of PostgreSQL functions whose effect a statement's kind does not show.
 *
 * Matching is on the unqualified, lowercased name, whatever the schema (`pg_catalog.x`, `public.x`
 * or none): a same-named function in another schema is treated as the built-in (fail closed).
 *
 * - **dangerous** (→ `sql.admin`): server file and program access, large objects (they live
 *   outside tables, so table policies cannot see them), remote connections (`dblink*`), signalling
 *   other backends, configuration (`set_config` can set `role`), replication and backup control,
 *   statistics resets, and functions that run SQL given as text (`query_to_xml`, `cursor_to_xml`,
 *   `ts_stat`, `ts_rewrite`) or read whole tables/schemas/databases by name
 *   (`table_to_xml`, `schema_to_xml`, `database_to_xml`): we cannot see what they touch.
 * - **write** (→ `sql.write`): `nextval`, `setval` change sequence state (PostgreSQL itself asks
 *   for UPDATE/USAGE on the sequence).
 *
 * Not listed, on purpose: `pg_sleep*` (a denial-of-service concern, bounded by `statement_timeout`,
 * not a privilege), `current_setting` (reads only), `pg_notify` (like NOTIFY, a utility).
 * Unknown user-defined functions cannot be judged from the text: they are reported in `functions`
 * so that policy can forbid or allow them by name.
 */

const DANGEROUS_NAMES: ReadonlySet<string> = new Set([
  // server files
  'pg_read_file', 'pg_read_binary_file', 'pg_stat_file',
  // large objects (server-side import/export and in-database contents)
  'loread', 'lowrite',
  // backends and configuration
  'pg_terminate_backend', 'pg_cancel_backend', 'pg_reload_conf', 'pg_rotate_logfile',
  'pg_logfile_rotate', 'set_config', 'pg_log_backend_memory_contexts',
  // SQL given as text, or whole relations by name
  'ts_stat', 'ts_rewrite',
  // WAL, replication, backup
  'pg_logical_emit_message', 'pg_switch_wal', 'pg_promote', 'pg_backup_start', 'pg_backup_stop',
  'pg_start_backup', 'pg_stop_backup', 'pg_create_restore_point', 'pg_wal_replay_pause',
  'pg_wal_replay_resume', 'pg_drop_replication_slot', 'pg_replication_slot_advance',
  'pg_copy_physical_replication_slot', 'pg_copy_logical_replication_slot',
  'pg_create_physical_replication_slot', 'pg_create_logical_replication_slot',
  'pg_import_system_collations',
]);

/** Name prefixes: every function starting with one of these is dangerous. */
const DANGEROUS_PREFIXES: readonly string[] = [
  'pg_ls_', // pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir, …
  'lo_', // lo_import, lo_export, lo_from_bytea, lo_get, lo_put, lo_unlink, …
  'dblink', // dblink, dblink_exec, dblink_connect(_u), dblink_send_query, …
  'query_to_xml', 'cursor_to_xml', 'table_to_xml', 'schema_to_xml', 'database_to_xml',
  'query_to_xmlschema', 'cursor_to_xmlschema', 'table_to_xmlschema', 'schema_to_xmlschema',
  'database_to_xmlschema',
  'pg_stat_reset', // pg_stat_reset, pg_stat_reset_shared, …
  'pg_replication_origin_',
  'pg_logical_slot_', // pg_logical_slot_get_changes, …_peek_changes, …
  'pg_file_', // adminpack: pg_file_write, pg_file_rename, pg_file_unlink, pg_file_sync
];

const WRITE_NAMES: ReadonlySet<string> = new Set(['nextval', 'setval']);

/** The effect of calling a function, by its (possibly qualified) name. */
export type FunctionEffect = 'dangerous' | 'write' | 'none';

/**
 * Classifies a function by name.
 *
 * @example
 *   functionEffect('pg_catalog.pg_read_file') // 'dangerous'
 *   functionEffect('nextval')                 // 'write'
 *   functionEffect('lower')                   // 'none'
 */
export function functionEffect(qualifiedName: string): FunctionEffect {
  const lower = qualifiedName.toLowerCase();
  const dot = lower.lastIndexOf('.');
  const name = dot === -1 ? lower : lower.slice(dot + 1);
  if (DANGEROUS_NAMES.has(name)) return 'dangerous';
  for (const prefix of DANGEROUS_PREFIXES) if (name.startsWith(prefix)) return 'dangerous';
  if (WRITE_NAMES.has(name)) return 'write';
  return 'none';
}
