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
  'replication', 'search_path', 'role', 'session_authorization', 'standard_conforming_strings',
  'backslash_quote', 'session_replication_role',
]);

/**
 * `default_transaction_read_only` passes only set on: off would turn off a read-only upstream
 * role's backstop without the decision SQL gets for it (`SET … = off` needs `sql.write`).
 */
function readOnlyOff(name: string, value: string): boolean {
  if (name !== 'default_transaction_read_only') return false;
  const v = value.trim().toLowerCase().replace(/^'|'$/g, '');
  return !['on', 'true', 'yes', '1', 't', 'y'].includes(v);
}

/** Client encodings under which the inspector's UTF-8 view of the text is the server's. */
const SAFE_ENCODINGS: ReadonlySet<string> = new Set(['utf8', 'utf-8', 'unicode', 'sql_ascii']);

/** Result of filtering a client's startup parameters. */
export type StartupParams =
  | { readonly ok: true; readonly forward: ReadonlyMap<string, string>; readonly dropped: readonly string[] }
  | { readonly ok: false; readonly error: string };

/**
 * Chooses which client startup parameters reach the upstream server: an allowlist of harmless
 * session settings is forwarded; `options` is parsed ({@link parseOptions}) and its settings
 * forwarded as separate parameters when every one is on that allowlist (else refused: it could
 * carry `-c role=…`/`-c search_path=…`); `replication`, `search_path`, `role` and custom `x.y` settings are refused (the client gets an
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
    if (name === 'options') {
      // Its `-c name=value` settings pass when each is one accepted as a separate parameter.
      const settings = parseOptions(value);
      if (!settings.ok) return { ok: false, error: `startup parameter "options": ${settings.error}` };
      for (const [k, v] of settings.settings) {
        const kl = k.toLowerCase();
        if (!FORWARDED.has(kl)) return { ok: false, error: `startup parameter "options" sets "${k}", which is not allowed through Gatehouse (allowed: ${[...FORWARDED].join(', ')})` };
        if (kl === 'client_encoding' && !SAFE_ENCODINGS.has(v.toLowerCase().replace(/^'|'$/g, ''))) {
          return { ok: false, error: `client_encoding "${v}" is not supported through Gatehouse (use UTF8)` };
        }
        if (readOnlyOff(kl, v)) return { ok: false, error: 'startup parameter "options" turns default_transaction_read_only off, which is not allowed through Gatehouse (set it with SQL, as a write)' };
        forward.set(k, v);
      }
      continue;
    }
    if (REFUSED.has(name) || name.includes('.') || name.startsWith('_pq_')) {
      return { ok: false, error: `startup parameter "${rawName}" is not allowed through Gatehouse` };
    }
    if (name === 'client_encoding' && !SAFE_ENCODINGS.has(value.toLowerCase().replace(/^'|'$/g, ''))) {
      return { ok: false, error: `client_encoding "${value}" is not supported through Gatehouse (use UTF8)` };
    }
    if (readOnlyOff(name, value)) return { ok: false, error: 'startup parameter "default_transaction_read_only" may only be on through Gatehouse (turn it off with SQL, as a write)' };
    if (FORWARDED.has(name)) forward.set(rawName, value);
    else dropped.push(rawName);
  }
  return { ok: true, forward, dropped };
}

/** Most settings one `options` parameter may carry. */
const MAX_OPTIONS = 64;

/**
 * Parses the `options` startup parameter as PostgreSQL does: words separated by spaces (a
 * backslash escapes the next character), each setting given as `-c name=value`, `-cname=value`
 * or `--name=value` (dashes in the name read as underscores). Any other switch is an error.
 *
 * @example parseOptions('-c statement_timeout=5s --application-name=x') // settings: [['statement_timeout','5s'],['application_name','x']]
 */
export function parseOptions(text: string): { readonly ok: true; readonly settings: readonly (readonly [string, string])[] } | { readonly ok: false; readonly error: string } {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) { cur += text.charAt(++i); inWord = true; continue; }
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') { if (inWord) { words.push(cur); cur = ''; inWord = false; } continue; }
    cur += ch;
    inWord = true;
  }
  if (inWord) words.push(cur);
  const settings: [string, string][] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    let assignment: string | undefined;
    if (w === '-c') assignment = words[++i];
    else if (w.startsWith('-c')) assignment = w.slice(2);
    else if (w.startsWith('--')) {
      const a = w.slice(2);
      const e = a.indexOf('=');
      assignment = e < 0 ? a : a.slice(0, e).replaceAll('-', '_') + a.slice(e);
    }
    if (assignment === undefined) return { ok: false, error: `"${w.slice(0, 40)}" is not a -c setting` };
    const eq = assignment.indexOf('=');
    if (eq <= 0) return { ok: false, error: `"${assignment.slice(0, 40)}" is not name=value` };
    settings.push([assignment.slice(0, eq), assignment.slice(eq + 1)]);
    if (settings.length > MAX_OPTIONS) return { ok: false, error: `more than ${MAX_OPTIONS} settings` };
  }
  return { ok: true, settings };
}
