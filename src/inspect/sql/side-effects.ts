/**
 * What a statement does beyond reading and writing tables, and which server secrets it reads —
 * facts a policy can tell apart (`context.sql.side_effects`, `context.sql.settings`,
 * `context.sql.server_secrets`). Matching is on the unqualified, lowercased name whatever the
 * schema (a same-named object elsewhere is treated as the built-in: fail closed).
 *
 * Side-effect categories:
 * - `lock`: advisory locks (`pg_advisory_lock*`, `pg_try_advisory_*`, unlocks), `LOCK TABLE`,
 *   `SELECT … FOR UPDATE/SHARE` — they block other sessions;
 * - `notify`: `NOTIFY`, `LISTEN`, `UNLISTEN`, `pg_notify()` — they reach other sessions;
 * - `settings`: `SET`/`RESET` of a setting, `set_config()`, `setseed()` — they change how the
 *   session (and what it shares, e.g. a pooled connection) behaves; the names are in `settings`;
 * - `transaction_id`: `txid_current()`, `pg_current_xact_id()` — they assign a transaction id
 *   (a write to the server's state, visible to vacuum and replication);
 * - `sequence`: `nextval`, `setval`;
 * - `volatile_function`: a function the catalog marks volatile (added by the session, which asks
 *   the upstream catalog; see `protocols/postgres/function-volatility.ts`).
 *
 * Server secrets (→ `sql.admin`): password verifiers and user-mapping options (`pg_authid`,
 * `pg_shadow`, `pg_user_mapping(s)`, `pg_subscription`), the server's configuration files and
 * settings that name files or commands (`pg_hba_file_rules`, `pg_ident_file_mappings`,
 * `pg_file_settings`, `pg_settings`, `pg_config`, `SHOW`/`current_setting` of `data_directory`,
 * `config_file`, `archive_command`, …, `SHOW ALL`), other sessions' SQL (`pg_stat_activity`,
 * `pg_stat_statements`), and column statistics, which hold sample values of every column
 * (`pg_statistic`, `pg_stats`, …).
 */

const LOCK_FUNCTIONS: ReadonlySet<string> = new Set([
  'pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_advisory_unlock', 'pg_advisory_unlock_all',
  'pg_advisory_unlock_shared', 'pg_advisory_xact_lock', 'pg_advisory_xact_lock_shared',
  'pg_try_advisory_lock', 'pg_try_advisory_lock_shared', 'pg_try_advisory_xact_lock',
  'pg_try_advisory_xact_lock_shared',
]);
const EFFECT_BY_FUNCTION: ReadonlyMap<string, string> = new Map([
  ...[...LOCK_FUNCTIONS].map((n): [string, string] => [n, 'lock']),
  ['pg_notify', 'notify'],
  ['set_config', 'settings'], ['setseed', 'settings'],
  ['txid_current', 'transaction_id'], ['pg_current_xact_id', 'transaction_id'],
  ['nextval', 'sequence'], ['setval', 'sequence'],
]);

/** Settings whose value names server files, commands or connection strings. */
const SECRET_SETTINGS: ReadonlySet<string> = new Set([
  'all', 'data_directory', 'config_file', 'hba_file', 'ident_file', 'external_pid_file',
  'ssl_cert_file', 'ssl_key_file', 'ssl_ca_file', 'ssl_crl_file', 'ssl_crl_dir', 'ssl_dh_params_file',
  'ssl_passphrase_command', 'archive_command', 'archive_library', 'restore_command',
  'archive_cleanup_command', 'recovery_end_command', 'primary_conninfo', 'primary_slot_name',
  'log_directory', 'log_filename', 'krb_server_keyfile', 'unix_socket_directories',
  'shared_preload_libraries', 'local_preload_libraries', 'session_preload_libraries',
  'dynamic_library_path', 'data_directory_mode', 'log_line_prefix',
]);

/** Catalogs and views that hold server secrets (relation names, any schema). */
const SECRET_RELATIONS: ReadonlySet<string> = new Set([
  'pg_authid', 'pg_shadow', 'pg_user_mapping', 'pg_user_mappings', 'pg_subscription',
  'pg_hba_file_rules', 'pg_ident_file_mappings', 'pg_file_settings', 'pg_settings', 'pg_config',
  'pg_stat_activity', 'pg_stat_statements', 'pg_stat_statements_info',
  'pg_statistic', 'pg_stats', 'pg_statistic_ext_data', 'pg_stats_ext', 'pg_stats_ext_exprs',
  'pg_replication_origin_status', 'pg_stat_replication', 'pg_stat_wal_receiver', 'pg_stat_subscription',
]);

/** Functions that return the same secrets (the functions behind those views, and a few more). */
const SECRET_FUNCTIONS: ReadonlySet<string> = new Set([
  'pg_show_all_settings', 'pg_show_all_file_settings', 'pg_hba_file_rules', 'pg_ident_file_mappings',
  'pg_config', 'pg_stat_get_activity', 'pg_stat_statements', 'pg_stat_statements_info',
  'pg_current_logfile', 'pg_control_system', 'pg_control_checkpoint', 'pg_control_init',
  'pg_control_recovery', 'pg_stat_get_wal_receiver', 'pg_stat_get_subscription',
  'pg_get_backend_memory_contexts', 'pg_stat_get_backend_activity',
]);

function baseName(qualified: string): string {
  const lower = qualified.toLowerCase();
  const dot = lower.lastIndexOf('.');
  return dot === -1 ? lower : lower.slice(dot + 1);
}

/** The side-effect category of calling a function, if any. */
export function functionSideEffect(qualifiedName: string): string | undefined {
  return EFFECT_BY_FUNCTION.get(baseName(qualifiedName));
}

/** Whether a function call returns server secrets (`current_setting` is judged by its argument). */
export function isSecretFunction(qualifiedName: string): boolean {
  return SECRET_FUNCTIONS.has(baseName(qualifiedName));
}

/** Whether reading this setting (SHOW, current_setting) reveals a server secret. */
export function isSecretSetting(name: string): boolean {
  return SECRET_SETTINGS.has(name.toLowerCase());
}

/** Whether a relation (any schema) holds server secrets. */
export function isSecretRelation(qualifiedName: string): boolean {
  return SECRET_RELATIONS.has(baseName(qualifiedName));
}

/** Functions that read a setting by name (first argument). */
export function readsSettingByName(qualifiedName: string): boolean {
  const n = baseName(qualifiedName);
  return n === 'current_setting';
}
