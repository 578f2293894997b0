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

/** Client encodings under which our UTF-8 view of the text is the server's view too. */
const SAFE_CLIENT_ENCODINGS: ReadonlySet<string> = new Set(['utf8', 'utf-8', 'unicode', 'sql_ascii']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
 * - `SET TRANSACTION …`, `SET SESSION CHARACTERISTICS …` → `transaction`.
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
  if (kind === 'VAR_SET_MULTI') return 'transaction';
  if (kind === 'VAR_RESET_ALL') return 'admin';
  if (name === undefined) return 'admin';
  if (ADMIN_SETTINGS.has(name) || name.includes('.') || name.startsWith('log_')) return 'admin';
  if (name === 'client_encoding' && kind === 'VAR_SET_VALUE') {
    const value = singleStringArg(body);
    if (value === undefined || !SAFE_CLIENT_ENCODINGS.has(value.toLowerCase())) return 'admin';
  }
  return 'utility';
}
