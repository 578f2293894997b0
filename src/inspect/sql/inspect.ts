import type { ParseResult } from 'libpg-query';
import { deepFreeze } from '../../kernel/freeze.ts';
import type { SqlFacts } from '../../policy/request.ts';
import { literalTemplate } from './literal-template.ts';
import { toTextRanges } from './location.ts';
import { TextLru } from './lru-cache.ts';
import { statementKinds } from './statement-kinds.ts';
import {
  kindAction, sortActions, sortKinds, type SqlAction, type SqlInspection, type StatementInfo, type TextRange,
} from './types.ts';
import { UnknownSqlError, walkTree, type TreeFacts } from './walk.ts';

/** Bounds of a `SqlInspector`; every one has a safe default. */
export interface SqlInspectorLimits {
  /** Longest SQL text in UTF-8 bytes (default 1 MiB); longer → `ok: false`. */
  readonly maxBytes?: number;
  /** Most statements in one text (default 1 000); more → `ok: false`. */
  readonly maxStatements?: number;
  /** Cache: most entries (default 1 000). */
  readonly cacheEntries?: number;
  /** Cache: most characters of SQL text kept in total (default 2 Mi). */
  readonly cacheChars?: number;
  /** Cache: texts longer than this are not cached (default 16 Ki characters). */
  readonly cacheMaxTextChars?: number;
  /** Literal-template cache (see literal-template.ts): most entries (default 1 000; 0 turns it off). */
  readonly templateEntries?: number;
  /**
   * Recent large texts (over `cacheMaxTextChars`): most entries kept (default 8; 0 turns it off), so
   * that a session asking again about the text it just had inspected (e.g. off the event loop)
   * does not parse it again. At most 16 Mi characters of such texts are held.
   */
  readonly recentLarge?: number;
}

/** A single-statement inspection shared by the texts of one literal template. */
interface TemplateEntry {
  readonly result: SqlInspection & { ok: true };
  readonly textLength: number;
}

let loading: Promise<void> | undefined;
let loaded = false;
let parseFn: ((sql: string) => ParseResult) | undefined;

/**
 * The parser's module (libpg-query instantiates its WASM when imported, so it is imported here, not
 * at the top: a gateway without PostgreSQL connections loads it only on its first SQL inspection).
 */
async function loadParser(): Promise<(sql: string) => ParseResult> {
  const m = await import('libpg-query');
  await m.loadModule();
  return m.parseSync;
}

/**
 * Loads the PostgreSQL parser (WASM) once; call before the first inspection. Idempotent; a failed
 * load can be retried. Until it resolves, every inspection is `ok: false` (fail closed). `load`
 * replaces the module's loader (tests: a load that fails).
 *
 * @example
 *   await initSqlInspector();
 *   inspectSql('SELECT 1').ok // true
 */
export function initSqlInspector(load: () => Promise<(sql: string) => ParseResult> = loadParser): Promise<void> {
  loading ??= load().then(
    (parse) => { parseFn = parse; loaded = true; },
    (err: unknown) => { loading = undefined; throw err; },
  );
  return loading;
}

/**
 * libpg-query's parse of `sql` (its protobuf-JSON tree). Throws when the parser is not loaded
 * ({@link initSqlInspector}) as it throws for text it cannot parse.
 */
export function parseSql(sql: string): ParseResult {
  if (parseFn === undefined) throw new Error('the SQL parser is not loaded');
  return parseFn(sql);
}

/** Whether the PostgreSQL parser is loaded ({@link initSqlInspector} resolved). */
export function sqlInspectorLoaded(): boolean {
  return loaded;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(error: string): SqlInspection {
  return Object.freeze({ ok: false, error });
}

/** The only key of a tagged node (`{ SelectStmt: {...} }`), with its body. */
function tagged(node: unknown): { tag: string; body: Record<string, unknown> } {
  if (!isRecord(node)) throw new UnknownSqlError('statement is not a node');
  const keys = Object.keys(node);
  const tag = keys[0];
  if (keys.length !== 1 || tag === undefined || !isRecord(node[tag])) throw new UnknownSqlError('malformed statement node');
  return { tag, body: node[tag] };
}

/** Writing through the `pg_settings` view runs `set_config`: treat it as admin. */
function writesSettings(f: TreeFacts): boolean {
  if (!f.kinds.has('write')) return false;
  for (const t of f.tables) if (t.toLowerCase() === 'pg_settings' || t.toLowerCase().endsWith('.pg_settings')) return true;
  return false;
}

function statementInfo(
  tag: string, body: Record<string, unknown>, f: TreeFacts, location: TextRange,
  extra: Pick<StatementInfo, 'prepared' | 'deallocates'>,
): StatementInfo {
  const own = statementKinds(tag, body)?.[0];
  if (own === undefined) throw new UnknownSqlError(`unknown statement type ${tag}`);
  const kinds = sortKinds(f.kinds);
  const actions = new Set<SqlAction>(kinds.map(kindAction));
  if (f.dangerous.size > 0 || f.copyProgram || f.doBlock || writesSettings(f) || f.secrets.size > 0) actions.add('sql.admin');
  if (f.writeFunction) actions.add('sql.write');
  if (actions.size === 0) actions.add('sql.read');
  return {
    kind: own, kinds, actions: sortActions(actions),
    tables: [...f.tables].sort(), functions: [...f.functions].sort(), dangerous_functions: [...f.dangerous].sort(),
    has_where: f.hasWhere, data_modifying_cte: f.dataModifyingCte, do_block: f.doBlock, copy_program: f.copyProgram,
    copy_out: f.copyOut, side_effects: [...f.sideEffects].sort(), settings: [...f.settings].sort(),
    server_secrets: [...f.secrets].sort(), possible_functions: [...new Set([...f.functions, ...f.attributeNames])].sort(),
    location, executes: [...f.executes],
    ...(extra.prepared === undefined ? {} : { prepared: extra.prepared }),
    ...(extra.deallocates === undefined ? {} : { deallocates: extra.deallocates }),
  };
}

function inspectStatement(node: unknown, location: TextRange): StatementInfo {
  const { tag, body } = tagged(node);
  const facts = walkTree(node);
  const extra: { -readonly [K in 'prepared' | 'deallocates']?: StatementInfo[K] } = {};
  if (tag === 'PrepareStmt') {
    if (typeof body.name !== 'string') throw new UnknownSqlError('PREPARE without a name');
    const inner = tagged(body.query);
    extra.prepared = { name: body.name, statement: statementInfo(inner.tag, inner.body, walkTree(body.query), location, {}) };
  } else if (tag === 'DeallocateStmt') {
    if (body.isall === true) extra.deallocates = { all: true };
    else if (typeof body.name === 'string') extra.deallocates = { all: false, name: body.name };
    else throw new UnknownSqlError('DEALLOCATE without a name');
  } else if (tag === 'DiscardStmt' && body.target === 'DISCARD_ALL') {
    extra.deallocates = { all: true };
  }
  return statementInfo(tag, body, facts, location, extra);
}

function unionFacts(statements: readonly StatementInfo[]): SqlFacts {
  const union = (pick: (s: StatementInfo) => readonly string[]): string[] =>
    [...new Set(statements.flatMap(pick))].sort();
  return {
    kinds: sortKinds(statements.flatMap((s) => s.kinds)),
    tables: union((s) => s.tables),
    functions: union((s) => s.functions),
    dangerous_functions: union((s) => s.dangerous_functions),
    statements: statements.length,
    has_where: statements.every((s) => s.has_where),
    data_modifying_cte: statements.some((s) => s.data_modifying_cte),
    do_block: statements.some((s) => s.do_block),
    copy_program: statements.some((s) => s.copy_program),
    copy_out: statements.some((s) => s.copy_out),
    side_effects: union((s) => s.side_effects),
    settings: union((s) => s.settings),
    server_secrets: union((s) => s.server_secrets),
    possible_functions: union((s) => s.possible_functions),
  };
}

/**
 * Classifies SQL text with the real PostgreSQL parser. Pure: the result depends only on the text
 * (and the limits), is frozen, and is cached by exact text in a bounded LRU. Never throws.
 *
 * @example
 *   const inspector = new SqlInspector({ maxStatements: 100 });
 *   await initSqlInspector();
 *   inspector.inspect('SELECT 1; DROP TABLE t') // { ok: true, actions: ['sql.read', 'sql.ddl'], … }
 */
export class SqlInspector {
  readonly #maxBytes: number;
  readonly #maxStatements: number;
  readonly #cacheMaxText: number;
  readonly #cache: TextLru<SqlInspection>;
  readonly #templates: TextLru<TemplateEntry>;
  readonly #recent: TextLru<SqlInspection>;

  constructor(limits: SqlInspectorLimits = {}) {
    this.#maxBytes = limits.maxBytes ?? 1024 * 1024;
    this.#maxStatements = limits.maxStatements ?? 1_000;
    this.#cacheMaxText = limits.cacheMaxTextChars ?? 16 * 1024;
    this.#cache = new TextLru({ maxEntries: limits.cacheEntries ?? 1000, maxKeyChars: limits.cacheChars ?? 2 * 1024 * 1024 });
    this.#templates = new TextLru({ maxEntries: limits.templateEntries ?? 1000, maxKeyChars: limits.cacheChars ?? 2 * 1024 * 1024 });
    this.#recent = new TextLru({ maxEntries: limits.recentLarge ?? 8, maxKeyChars: 16 * 1024 * 1024 });
  }

  /** Entries and characters held by the cache (for tests and metrics). */
  get cacheStats(): { entries: number; chars: number } {
    return { entries: this.#cache.size, chars: this.#cache.keyChars };
  }

  /**
   * Inspects `sql`; `ok: false` means deny. A text seen before is answered from the cache; a
   * single statement that differs from one seen before only in its numeric literals is answered
   * from the literal-template cache (same facts object; see literal-template.ts), without parsing.
   */
  inspect(sql: string): SqlInspection {
    if (typeof sql !== 'string') return fail('SQL text must be a string');
    const cached = this.cached(sql);
    if (cached !== undefined) return cached;
    const result = this.#compute(sql);
    this.remember(sql, result);
    return result;
  }

  /**
   * The inspection of `sql` from the caches (exact text, or a single statement's literal
   * template), or undefined when it would have to be parsed. Never parses.
   */
  cached(sql: string): SqlInspection | undefined {
    const hit = this.#cache.get(sql);
    if (hit !== undefined) return hit;
    if (sql.length > this.#cacheMaxText) return this.#recent.get(sql);
    const template = this.#templateOf(sql);
    if (template === undefined) return undefined;
    const entry = this.#templates.get(template.key);
    return entry === undefined ? undefined : relocated(entry, sql.length);
  }

  /**
   * Keeps `result` for `sql` in the caches. `result` must be what {@link inspect} computes with
   * this inspector's limits (e.g. computed on a worker thread by an inspector with equal limits).
   */
  remember(sql: string, result: SqlInspection): void {
    // Only results of a loaded parser are cached: "not initialized" must not stick.
    if (!loaded) return;
    if (sql.length > this.#cacheMaxText) {
      if (sql.length <= this.#maxBytes) this.#recent.set(sql, result);
      return;
    }
    this.#cache.set(sql, result);
    const template = this.#templateOf(sql);
    if (template !== undefined && result.ok && result.statements.length === 1 && result.statements[0]?.prepared === undefined) {
      this.#templates.set(template.key, { result, textLength: sql.length });
    }
  }

  /** The literal template of a cacheable text (ASCII: one byte per character, so its length is its size). */
  #templateOf(sql: string): ReturnType<typeof literalTemplate> {
    return loaded && sql.length <= this.#cacheMaxText && sql.length <= this.#maxBytes ? literalTemplate(sql) : undefined;
  }

  #compute(sql: string): SqlInspection {
    if (!loaded) return fail('SQL inspector is not initialized');
    if (sql.length > this.#maxBytes || Buffer.byteLength(sql, 'utf8') > this.#maxBytes) {
      return fail(`SQL text exceeds ${this.#maxBytes} bytes`);
    }
    if (!sql.isWellFormed()) return fail('SQL text is not well-formed Unicode');
    // The parser reads a C string: text after a NUL would be invisible to it.
    if (sql.includes('\0')) return fail('SQL text contains a NUL character');
    try {
      const stmts = sql === '' ? [] : (parseSql(sql).stmts ?? []);
      if (stmts.length > this.#maxStatements) return fail(`SQL text has more than ${this.#maxStatements} statements`);
      const ranges = toTextRanges(sql, stmts.map((s) => ({ byteStart: s.stmt_location ?? 0, byteLength: s.stmt_len ?? 0 })));
      const statements = stmts.map((s, i) => inspectStatement(s.stmt, ranges[i] ?? { start: 0, end: sql.length }));
      const actions = sortActions(statements.flatMap((s) => s.actions));
      return deepFreeze({
        ok: true,
        facts: unionFacts(statements),
        actions: actions.length === 0 ? ['sql.read'] : actions,
        statements,
        executes: [...new Set(statements.flatMap((s) => s.executes))],
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const details = isRecord(err) && isRecord(err.sqlDetails) ? err.sqlDetails : undefined;
      if (details && typeof details.message === 'string' && typeof details.cursorPosition === 'number' && /^syntax error/.test(details.message)) {
        // libpg-query reports the 0-based character offset; PostgreSQL sends it 1-based.
        const syntax = { message: details.message.slice(0, 200), position: details.cursorPosition + 1 };
        return Object.freeze({ ok: false, error: `SQL not understood: ${syntax.message}`, syntax: Object.freeze(syntax) });
      }
      return fail(`SQL not understood: ${message.slice(0, 200)}`);
    }
  }
}

/**
 * The template's inspection for a text of `length` characters: the same facts, actions and
 * statement, with the statement's range shifted by the length its literals added or removed (every
 * literal lies inside the one statement, so its start is unchanged).
 */
function relocated(entry: TemplateEntry, length: number): SqlInspection {
  const r = entry.result;
  const s = r.statements[0];
  if (s === undefined) throw new Error('template entry without its statement');
  const location = Object.freeze({ start: s.location.start, end: s.location.end + length - entry.textLength });
  return Object.freeze({ ...r, statements: Object.freeze([Object.freeze({ ...s, location })]) });
}

const defaultInspector = new SqlInspector();

/**
 * Inspects `sql` with the default limits and the shared cache. See `SqlInspector.inspect`.
 *
 * @example
 *   await initSqlInspector();
 *   const r = inspectSql('WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x');
 *   if (!r.ok) deny(r.error); else authorize(r.actions, r.facts);
 */
export function inspectSql(sql: string): SqlInspection {
  return defaultInspector.inspect(sql);
}
