/** Startup parameters forwarded upstream as sent (lower-cased names). */
const FORWARDED: ReadonlySet<string> = new Set([
  'application_name', 'client_encoding', 'datestyle', 'timezone', 'intervalstyle', 'extra_float_digits',
  'statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout', 'bytea_output',
  'default_transaction_isolation', 'default_transaction_read_only', 'geqo',
]);

/**
 * Parameters refused: they change who the session is, which objects names resolve to, or how
 * text is lexed (all `admin` when set with SQL), or start a replication session.
 */
const REFUSED: ReadonlySet<string> = new Set([
  'options', 'replication', 'search_path', 'role', 'session_authorization', 'standard_conforming_strings',
  'backslash_quote', 'session_replication_role',
]);

/** Client encodings under which the inspector's UTF-8 view of the text is the server's. */
const SAFE_ENCODINGS: ReadonlySet<string> = new Set(['utf8', 'utf-8', 'unicode', 'sql_ascii']);

/** Result of filtering a client's startup parameters. */
export type StartupParams =
  | { readonly ok: true; readonly forward: ReadonlyMap<string, string>; readonly dropped: readonly string[] }
  | { readonly ok: false; readonly error: string };

/**
 * Chooses which client startup parameters reach the upstream server: an allowlist of harmless
 * session settings is forwarded; `options` (it can carry `-c role=…`/`-c search_path=…`),
 * `replication`, `search_path`, `role` and custom `x.y` settings are refused (the client gets an
 * error rather than a session that silently differs from what it asked for); a `client_encoding`
 * other than UTF-8/SQL_ASCII is refused (the inspector must see the text as the server does);
 * anything else is dropped. `user` and `database` are Gatehouse's own and never forwarded.
 *
 * @example
 *   filterStartupParams(new Map([['application_name', 'psql'], ['options', '-c role=x']])) // ok: false
 */
export function filterStartupParams(params: ReadonlyMap<string, string>): StartupParams {
  const forward = new Map<string, string>();
  const dropped: string[] = [];
  for (const [rawName, value] of params) {
    const name = rawName.toLowerCase();
    if (name === 'user' || name === 'database') continue;
    if (REFUSED.has(name) || name.includes('.') || name.startsWith('_pq_')) {
      return { ok: false, error: `startup parameter "${rawName}" is not allowed through Gatehouse` };
    }
    if (name === 'client_encoding' && !SAFE_ENCODINGS.has(value.toLowerCase().replace(/^'|'$/g, ''))) {
      return { ok: false, error: `client_encoding "${value}" is not supported through Gatehouse (use UTF8)` };
    }
    if (FORWARDED.has(name)) forward.set(rawName, value);
    else dropped.push(rawName);
  }
  return { ok: true, forward, dropped };
}
