import type { SqlKind } from './types.ts';

/**
 * Settings that change who the session is, how later text is lexed, or which objects names
 * resolve to. Setting (or resetting) them is `admin`:
 * - `role`, `session_authorization`: privilege changes (also via RESET ROLE / RESET ALL).
 * - `standard_conforming_strings`, `backslash_quote`: with them off, the server lexes
 *   `'a\' || '; DELETE …'` differently from our parser — a classification bypass.
 * - `search_path`: decides which schema an unqualified table or function name means, so it
 *   would let a caller dodge table-based policy.
 * - `session_replication_role` (disables triggers), library loading, `log_*` (audit evasion),
 *   and a few developer options.
 */
const ADMIN_SETTINGS: ReadonlySet<string> = new Set([
  'role', 'session_authorization', 'search_path', 'standard_conforming_strings', 'backslash_quote',
  'session_replication_role', 'local_preload_libraries', 'session_preload_libraries',
  'shared_preload_libraries', 'dynamic_library_path', 'allow_system_table_mods',
  'ignore_system_indexes', 'zero_damaged_pages', 'lo_compat_privileges', 'jit_provider',
]);

/**
 * Settings that make transactions read-only: an operator may set them on the upstream role as a
 * backstop under the gateway's classification. Turning them off (or resetting them) asks for
 * writes, so it needs what a write needs (`write`); setting them on stays `utility`.
 */
const READ_ONLY_SETTINGS: ReadonlySet<string> = new Set(['default_transaction_read_only', 'transaction_read_only']);

/** Client encodings under which our UTF-8 view of the text is the server's view too. */
const SAFE_CLIENT_ENCODINGS: ReadonlySet<string> = new Set(['utf8', 'utf-8', 'unicode', 'sql_ascii']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Whether transaction options (`BEGIN …`, `SET TRANSACTION …`, `SET SESSION CHARACTERISTICS AS
 * TRANSACTION …`) ask for READ WRITE: a `transaction_read_only` option that is not exactly 1.
 */
export function asksReadWrite(options: unknown): boolean {
  if (!Array.isArray(options)) return false;
  for (const o of options as unknown[]) {
    if (!isRecord(o) || !isRecord(o.DefElem) || o.DefElem.defname !== 'transaction_read_only') continue;
    const arg = o.DefElem.arg;
    const ival = isRecord(arg) && isRecord(arg.A_Const) && isRecord(arg.A_Const.ival) ? arg.A_Const.ival.ival : undefined;
    if (ival !== 1) return true;
  }
  return false;
}

/** Whether `SET x = …` sets a boolean setting on (`on`, `true`, `1`, `yes`, as PostgreSQL reads them), from its one argument. */
function setsOn(body: Record<string, unknown>): boolean {
  if (body.kind !== 'VAR_SET_VALUE' || !Array.isArray(body.args) || body.args.length !== 1) return false;
  const first: unknown = body.args[0];
  if (!isRecord(first) || !isRecord(first.A_Const)) return false;
  const c = first.A_Const;
  if (isRecord(c.ival)) return c.ival.ival === 1;
  if (isRecord(c.boolval)) return c.boolval.boolval === true;
  const v = isRecord(c.sval) && typeof c.sval.sval === 'string' ? c.sval.sval.trim().toLowerCase() : undefined;
  return v === 'on' || v === 'true' || v === 'yes' || v === '1' || v === 't' || v === 'y';
}

/** The string value of `SET x = 'value'` / `SET x TO value`, when there is exactly one. */
function singleStringArg(body: Record<string, unknown>): string | undefined {
  const args = body.args;
  if (!Array.isArray(args) || args.length !== 1) return undefined;
  const first: unknown = args[0];
  if (!isRecord(first) || !isRecord(first.A_Const)) return undefined;
  const sval = first.A_Const.sval;
  if (isRecord(sval) && typeof sval.sval === 'string') return sval.sval;
  return undefined;
}

/**
 * Classifies a `VariableSetStmt` (SET / RESET / SET TRANSACTION …).
 *
 * - `SET TRANSACTION …`, `SET SESSION CHARACTERISTICS …` → `transaction`; with READ WRITE → `write`.
 * - `default_transaction_read_only` / `transaction_read_only` set off, to a value not read as on,
 *   or reset → `write` (a read-only upstream role's backstop turned off); set on → `utility`.
 * - `RESET ALL` → `admin` (it resets `role` and `session_authorization` too).
 * - settings in the admin list, custom settings (`app.tenant_id`: row-level-security policies
 *   often key on them), and `client_encoding`/`SET NAMES` to anything but UTF-8 (multi-byte
 *   encodings whose second byte can be `\` would make the server see a different text)
 *   → `admin`.
 * - everything else (`SET statement_timeout`, `SET TIME ZONE`, `RESET work_mem`, …) → `utility`.
 *
 * @example
 *   setStatementKind({ kind: 'VAR_SET_VALUE', name: 'role', args: [...] }) // 'admin'
 */
export function setStatementKind(body: Record<string, unknown>): SqlKind {
  const kind = body.kind;
  const name = typeof body.name === 'string' ? body.name.toLowerCase() : undefined;
  // READ WRITE asked for (a read-only backstop turned off) needs what a write needs.
  if (kind === 'VAR_SET_MULTI') return asksReadWrite(body.args) ? 'write' : 'transaction';
  if (kind === 'VAR_RESET_ALL') return 'admin';
  if (name === undefined) return 'admin';
  // track_* (track_activities off hides the session from pg_stat_activity): audit evasion, as log_*.
  if (ADMIN_SETTINGS.has(name) || name.includes('.') || name.startsWith('log_') || name.startsWith('track_')) return 'admin';
  if (READ_ONLY_SETTINGS.has(name)) return setsOn(body) ? 'utility' : 'write';
  if (name === 'client_encoding' && kind === 'VAR_SET_VALUE') {
    const value = singleStringArg(body);
    if (value === undefined || !SAFE_CLIENT_ENCODINGS.has(value.toLowerCase())) return 'admin';
  }
  return 'utility';
}
