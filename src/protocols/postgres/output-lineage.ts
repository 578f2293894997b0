import { parseSql, sqlInspectorLoaded } from '../../inspect/sql/inspect.ts';
import type { Clock } from '../../kernel/clock.ts';
import { planOutputs, protectedFacts, protectedSources, type ColumnDecision, type OutputPlan } from '../../inspect/sql/lineage/decide.ts';
import { mentionedNames, statementLineage } from '../../inspect/sql/lineage/statement.ts';
import { LineageUnknownError, type SourceColumn, type StatementLineage } from '../../inspect/sql/lineage/types.ts';
import { tagOf } from '../../inspect/sql/lineage/tree.ts';
import type { MaskingRules } from '../../masking/rules.ts';
import type { Strategy } from '../../masking/strategies.ts';
import type { CatalogResolver } from './catalog.ts';
import { lineageCatalogFor, type LineageCatalogCache } from './lineage-catalog.ts';
import { LineageNames, type LineageNameOp, type Space } from './lineage-names.ts';
import { changesNameResolution } from './search-path-change.ts';

/** The output plan of a statement on a connection with column rules. */
export type Plan = OutputPlan<Strategy>;
export type Decision = ColumnDecision<Strategy>;

/** What a named statement or cursor yields when executed or fetched. */
interface Named {
  readonly plan: Plan | undefined;
  /** It reads a protected column (or something opaque) anywhere: server texts are withheld. */
  readonly sensitive: string | undefined;
  readonly reads: readonly string[];
  readonly filters: readonly string[];
  /** A cursor declared WITH HOLD (it outlives its transaction). */
  readonly hold?: boolean;
  /**
   * Running it declares a WITH HOLD cursor reading a protected column (this column): the cursor
   * is computed when its transaction commits, so whatever ends the transaction may quote it.
   */
  readonly holds?: string;
  /** It FETCHes / EXECUTEs this name (a Parse's statement): what the name is when it runs counts too. */
  readonly via?: { readonly space: Space; readonly name: string };
}

/**
 * Cursors and prepared statements as they will be once the statements of one text before the
 * current one ran (each ran only if those before it did): the session's names, changed by them.
 */
class Names {
  readonly #session: LineageNames<Named>;
  readonly #local = { cursor: new Map<string, Named | null>(), prepared: new Map<string, Named | null>() };
  readonly #cleared = { cursor: false, prepared: false };
  /** Names the text defines that the session does not know (counted against the bound). */
  readonly #added = { cursor: new Set<string>(), prepared: new Set<string>() };
  /** What the text does to names, in statement order (applied as the server confirms each). */
  readonly ops: LineageNameOp<Named>[] = [];

  constructor(session: LineageNames<Named>) {
    this.#session = session;
  }

  /** What `name` denotes (the stricter of all it may denote), or undefined when unknown. */
  get(space: Space, name: string): Named | undefined {
    const l = this.#local[space];
    if (l.has(name)) return l.get(name) ?? undefined;
    if (this.#cleared[space]) return undefined;
    return strictest(this.#session.lookup(space, name));
  }

  /** A name the session may not define: past the bound of names (none is forgotten to make room). */
  refused(space: Space, name: string): boolean {
    if (this.#session.has(space, name) || this.#added[space].has(name)) return false;
    return this.#session.size(space) + this.#added[space].size >= MAX_NAMED;
  }

  /** DECLARE / PREPARE: a name that may still exist keeps the stricter of both (re-creating it fails). */
  define(space: Space, name: string, n: Named | undefined): void {
    if (!this.#session.has(space, name)) this.#added[space].add(name);
    const prev = this.get(space, name);
    this.#local[space].set(name, n === undefined ? null : prev ? mergeNamed(prev, n) : n);
    this.ops.push({ op: 'define', space, name, value: n });
  }

  drop(space: Space, name: string | undefined): void {
    if (name !== undefined) { this.#local[space].set(name, null); this.ops.push({ op: 'drop', space, name }); return; }
    this.#local[space].clear();
    this.#cleared[space] = true;
    this.ops.push({ op: 'drop-all', space });
  }

  discardAll(): void {
    for (const space of ['cursor', 'prepared'] as const) { this.#local[space].clear(); this.#cleared[space] = true; }
    this.ops.push({ op: 'drop-all', space: 'all' });
  }
}

/** Names of prepared statements a statement executes anywhere (`CREATE TABLE x AS EXECUTE p`, `EXPLAIN EXECUTE p`). */
function executedNames(stmt: unknown): string[] {
  const out: string[] = [];
  const stack: unknown[] = [stmt];
  for (let n = 0, v = stack.pop(); v !== undefined && n < 100_000; v = stack.pop(), n++) {
    if (Array.isArray(v)) { for (const x of v as unknown[]) stack.push(x); continue; }
    if (typeof v !== 'object' || v === null) continue;
    const e = (v as { ExecuteStmt?: { name?: unknown } }).ExecuteStmt;
    if (e && typeof e.name === 'string') out.push(e.name);
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push(child);
  }
  return out;
}

/** CURSOR_OPT_HOLD in DeclareCursorStmt.options. */
const CURSOR_OPT_HOLD = 0x20;

function holdable(stmt: unknown): boolean {
  const d = (stmt as { DeclareCursorStmt?: { options?: unknown } }).DeclareCursorStmt;
  return typeof d?.options === 'number' && (d.options & CURSOR_OPT_HOLD) !== 0;
}

/** CLOSE / DEALLOCATE / DISCARD ALL: the names are gone once it runs (once the server confirms it, for the session). */
function forgets(stmt: unknown, names: Names): void {
  const t = stmt as Record<string, Record<string, unknown> | undefined>;
  const close = t.ClosePortalStmt;
  if (close) names.drop('cursor', typeof close.portalname === 'string' ? close.portalname : undefined);
  const dealloc = t.DeallocateStmt;
  if (dealloc) names.drop('prepared', typeof dealloc.name === 'string' ? dealloc.name : undefined);
  if (t.DiscardStmt?.target === 'DISCARD_ALL') names.discardAll();
}

/** The name a DECLARE or PREPARE defines, whatever its lineage. */
function definedName(stmt: unknown): { readonly space: Space; readonly name: string } | undefined {
  const t = stmt as Record<string, Record<string, unknown> | undefined>;
  if (typeof t.DeclareCursorStmt?.portalname === 'string') return { space: 'cursor', name: t.DeclareCursorStmt.portalname };
  if (typeof t.PrepareStmt?.name === 'string') return { space: 'prepared', name: t.PrepareStmt.name };
  return undefined;
}

/** The stricter of two things one name may denote. */
function mergeNamed(prev: Named, n: Named): Named {
  return {
    plan: mergePlans(prev.plan, n.plan), sensitive: prev.sensitive ?? n.sensitive,
    reads: [...new Set([...prev.reads, ...n.reads])], filters: [...new Set([...prev.filters, ...n.filters])],
    ...(prev.hold === true || n.hold === true ? { hold: true } : {}),
    ...(prev.via ?? n.via ? { via: prev.via ?? n.via } : {}),
    ...(prev.holds !== undefined || n.holds !== undefined ? { holds: prev.holds ?? n.holds } : {}),
  };
}

/** The stricter of everything one name may denote (undefined: nothing known). */
function strictest(all: readonly Named[]): Named | undefined {
  return all.reduce<Named | undefined>((a, b) => (a ? mergeNamed(a, b) : b), undefined);
}

/** Adds a portal; one that may still exist keeps the stricter of both plans (re-binding it fails). */
function remember(m: Map<string, Named>, name: string, n: Named): void {
  const prev = m.get(name);
  m.set(name, prev ? mergeNamed(prev, n) : n);
}

/** Why a definition past the bound of names is refused. */
function tooMany(space: Space): string {
  return space === 'cursor'
    ? `Gatehouse denied the statement: too many cursors in this session (at most ${MAX_NAMED}); CLOSE some first`
    : `Gatehouse denied the statement: too many prepared statements in this session (at most ${MAX_NAMED}); DEALLOCATE some first`;
}

/** A name Gatehouse did not see created: no plan (strict default) and server texts withheld. */
const UNKNOWN_NAME: Named = Object.freeze({
  plan: undefined, sensitive: '(of a statement Gatehouse did not see prepared)', reads: [], filters: [],
  holds: '(of a statement Gatehouse did not see prepared)',
});

/** Most cursors, prepared statements and portals per session (each kind); beyond, a new name is refused. */
const MAX_NAMED = 1000;

/**
 * The outcome of analyzing a Query or Parse: denied (lineage unknown while a protected column may
 * be read), or the plan of each statement's rows, the facts for policy and the names it creates.
 */
export type LineageVerdict =
  | { readonly ok: false; readonly message: string }
  | {
    readonly ok: true;
    /** One per top-level statement, in order (undefined: no plan; rows fall back to the strict default). */
    readonly plans: readonly (Plan | undefined)[];
    /** The first protected column it reads anywhere (server texts are then withheld), if any. */
    readonly sensitive: string | undefined;
    /** It declares a WITH HOLD cursor reading this protected column (see {@link Named.holds}). */
    readonly holds?: string;
    /** Facts: protected columns in outputs and in filters (`schema.table.column` and `table.column`). */
    readonly reads: readonly string[];
    readonly filters: readonly string[];
    /** Apply once the statement is forwarded: names declared, prepared, closed. */
    readonly commit: () => void;
  };

function deny(column: string, why: string): LineageVerdict {
  return { ok: false, message: `Gatehouse denied the statement: it may read protected column ${column} and its column lineage cannot be determined (${why})` };
}

/** Both spellings a policy may use for a protected column. */
function factNames(keys: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const k of keys) {
    out.add(k);
    const parts = k.split('.');
    if (parts.length === 3) out.add(`${parts[1]}.${parts[2]}`);
  }
  return [...out].sort();
}

/** The stricter of two plans for one name (a name re-declared when the first still exists). */
function mergePlans(a: Plan | undefined, b: Plan | undefined): Plan | undefined {
  if (!a || !b) return a ?? b;
  const strict = (d: Decision, e: Decision): Decision => (d.kind === 'redact' ? d : e.kind === 'redact' ? e : d.kind === 'rule' ? d : e);
  if (a.entries.length === b.entries.length && a.entries.every((x, i) => x.spread === b.entries[i]!.spread)) {
    return { entries: a.entries.map((x, i) => ({ spread: x.spread, decision: strict(x.decision, b.entries[i]!.decision) })) };
  }
  const all = [...a.entries, ...b.entries].map((x) => x.decision).reduce<Decision>(strict, { kind: 'clean' });
  return { entries: [{ spread: true, decision: all.kind === 'rule' ? { kind: 'redact', column: all.column } : all }] };
}

/**
 * Column lineage for one session on a connection with column rules (see `inspect/sql/lineage`):
 * each statement's output columns are traced to their source columns through the upstream
 * catalog; derived values of protected columns are redacted, and a statement whose lineage cannot
 * be determined while it may read a protected column is denied (fail closed). Cursors (`DECLARE`)
 * and prepared statements (SQL `PREPARE`, protocol Parse) keep their plans for `FETCH`/`EXECUTE`.
 */
export class OutputLineage {
  readonly #rules: MaskingRules;
  readonly #connection: string;
  readonly #catalog: LineageCatalogCache;
  /** Cursors and prepared statements, as the server confirms them (follows the session's `StatementNames`). */
  readonly names = new LineageNames<Named>();
  /** Portals created by Bind (protocol), with their statement's plan. */
  readonly #portals = new Map<string, Named>();
  /** The session may have changed its search_path or role: unqualified names match every schema. */
  #unionAll = false;
  /** The session may have defined or renamed functions: its unqualified calls may run one (opaque). */
  #functionsChanged = false;

  constructor(rules: MaskingRules, connection: string, resolver: CatalogResolver, clock: Clock) {
    this.#rules = rules;
    this.#connection = connection;
    this.#catalog = lineageCatalogFor(resolver, clock);
  }

  #protection = (c: SourceColumn): Strategy | undefined => this.#rules.columnStrategy(this.#connection, c.schema, c.table, c.column);

  /**
   * A Bind was forwarded: the portal runs the statement's plan. The unnamed portal is replaced by
   * every Bind; a named one that still exists makes the Bind fail, so both plans are kept.
   */
  bind(portal: string, statement: string): void {
    const n = strictest(this.names.lookup('prepared', statement)) ?? UNKNOWN_NAME;
    if (portal === '') { this.#portals.delete(''); this.#portals.set('', n); } else remember(this.#portals, portal, n);
  }

  /** Why a Bind into `portal` is refused (a new name past the bound of portals), or undefined. */
  refusesBind(portal: string): string | undefined {
    if (portal === '' || this.#portals.has(portal) || this.#portals.size < MAX_NAMED) return undefined;
    return `Gatehouse denied Bind: too many portals in this transaction (at most ${MAX_NAMED}); close some first`;
  }

  /** What an Execute of `portal` yields: a bound portal's or a declared cursor's plan (else the strict default). */
  portal(name: string): Named {
    const at = this.#portals.get(name);
    // A statement that FETCHes / EXECUTEs a name runs what the name is now, not when it was parsed.
    const now = at?.via && (strictest(this.names.lookup(at.via.space, at.via.name)) ?? UNKNOWN_NAME);
    const bound = at && now ? mergeNamed(at, now) : at;
    const cursor = strictest(this.names.lookup('cursor', name));
    if (bound && cursor) {
      const holds = bound.holds ?? cursor.holds;
      return { plan: mergePlans(bound.plan, cursor.plan), sensitive: bound.sensitive ?? cursor.sensitive, reads: [], filters: [], ...(holds !== undefined ? { holds } : {}) };
    }
    return bound ?? cursor ?? UNKNOWN_NAME;
  }

  /** Analyzes every statement of `sql` (a Query's text, or a Parse's). Never throws. */
  async analyze(sql: string, statementName?: string): Promise<LineageVerdict> {
    let stmts: unknown[];
    try {
      stmts = (sql === '' ? [] : (parseSql(sql).stmts ?? [])).map((s) => s.stmt);
    } catch {
      // Not loaded (the gateway loads it at start when a PostgreSQL connection exists): fail closed.
      if (!sqlInspectorLoaded()) return { ok: false, message: 'Gatehouse denied the statement: the SQL parser is not loaded' };
      return { ok: true, plans: [], sensitive: undefined, reads: [], filters: [], commit: () => undefined };
    }
    try {
      const names = { relations: [] as { schema: string | undefined; name: string }[], functions: [] as { schema: string | undefined; name: string }[] };
      for (const s of stmts) { const m = mentionedNames(s); names.relations.push(...m.relations); names.functions.push(...m.functions); }
      await this.#catalog.load(names);
    } catch (err) {
      return { ok: false, message: `Gatehouse denied the statement: the column lineage could not be looked up (${err instanceof Error ? err.message : String(err)})` };
    }
    return this.#decide(stmts, statementName);
  }

  #decide(stmts: readonly unknown[], statementName: string | undefined): LineageVerdict {
    const plans: (Plan | undefined)[] = [];
    const reads = new Set<string>();
    const filters = new Set<string>();
    let sensitive: string | undefined;
    let holds: string | undefined;
    // Names as they will be once the statements ran (a FETCH sees the DECLARE before it).
    const names = new Names(this.names);
    let parsed: Named | undefined;
    let unionAll = this.#unionAll;
    let functionsChanged = this.#functionsChanged;
    for (const stmt of stmts) {
      const catalog = this.#catalog.view({ searchPath: this.#catalog.searchPath, unionAll }, functionsChanged);
      if (definesFunctions(stmt)) functionsChanged = true;
      let l: StatementLineage;
      try {
        l = statementLineage(stmt, catalog);
      } catch (err) {
        if (!(err instanceof LineageUnknownError)) throw err;
        const risk = this.#mayTouch(stmt, names);
        if (risk !== undefined) return deny(risk, err.message);
        plans.push(undefined);
        if (changesNameResolution(stmt)) unionAll = true;
        const d = definedName(stmt);
        if (d !== undefined) {
          if (names.refused(d.space, d.name)) return { ok: false, message: tooMany(d.space) };
          names.define(d.space, d.name, undefined);
        }
        forgets(stmt, names);
        continue;
      }
      if (changesNameResolution(stmt)) unionAll = true;
      // A value from a function whose body is hidden may be a protected column's (`UPDATE orders SET
      // total = digits(hidden_phone())`): written where no rule follows it, it would be read back unmasked.
      const sunk = l.sinks ? protectedSources(l.sinks, this.#protection) : [];
      if (sunk.length > 0) {
        const what = sunk[0] === '*' ? 'a function whose body Gatehouse cannot see (it may read protected columns)' : `protected column ${sunk[0]!}`;
        return { ok: false, message: `Gatehouse denied the statement: it writes or sends values derived from ${what} where column rules cannot follow them (a table, a notification or a setting)` };
      }
      const found = this.#named(l, names);
      if (found === null) return deny(`(cursor or prepared statement "${l.fetches ?? l.executes ?? ''}")`, 'its name was not created through Gatehouse');
      const own: Named = l.declares !== undefined && holdable(stmt) && found.sensitive !== undefined ? { ...found, holds: found.sensitive } : found;
      holds ??= own.holds;
      if (l.copiesOut === true) {
        return { ok: false, message: `Gatehouse denied COPY TO STDOUT: the connection has column masking rules${own.reads.length > 0 ? ` (it reads protected column ${own.reads[0]})` : ''}; use SELECT` };
      }
      for (const r of own.reads) reads.add(r);
      for (const f of own.filters) filters.add(f);
      sensitive ??= own.sensitive;
      plans.push(own.plan);
      // Every DECLARE and PREPARE is an operation (its CommandComplete is matched to it, in order).
      const d = definedName(stmt);
      if (d !== undefined && names.refused(d.space, d.name)) return { ok: false, message: tooMany(d.space) };
      if (d !== undefined) names.define(d.space, d.name, d.space === 'cursor' ? { ...found, hold: holdable(stmt) } : own);
      parsed = own;
      forgets(stmt, names);
    }
    // A Parse defines its statement name: the unnamed one is replaced once the server confirms it;
    // a named one that still exists makes the Parse fail (the session keeps both until then).
    if (statementName !== undefined && statementName !== '' && names.refused('prepared', statementName)) return { ok: false, message: tooMany('prepared') };
    return {
      ok: true, plans, sensitive, ...(holds !== undefined ? { holds } : {}), reads: factNames(reads), filters: factNames(filters),
      commit: () => {
        if (statementName === undefined) this.names.stageQuery(names.ops);
        else this.names.stageParse(stmts.length === 1 ? parsed : undefined, names.ops);
        if (unionAll) this.#unionAll = true;
        if (functionsChanged && !this.#functionsChanged) { this.#functionsChanged = true; this.#catalog.forgetFunctions(); }
      },
    };
  }

  /** The transaction ended with nothing in flight: cursors without WITH HOLD and all portals are gone. */
  idle(): void {
    this.names.retainCursors((v) => v.hold === true);
    this.#portals.clear();
  }

  /** The plan, facts and sensitivity of a statement; null when it fetches/executes an unknown name. */
  #named(l: StatementLineage, names: Names): Named | null {
    const via = l.fetches !== undefined ? names.get('cursor', l.fetches) : l.executes !== undefined ? names.get('prepared', l.executes) : undefined;
    if ((l.fetches !== undefined || l.executes !== undefined) && via === undefined) return null;
    const facts = protectedFacts(l, this.#protection);
    const touched = protectedFacts({ outputs: [{ kind: 'spread', lineage: l.touches }], touches: l.touches, filters: l.filters }, this.#protection).reads;
    const sensitive = via?.sensitive ?? (touched[0] === '*' ? 'a column whose source cannot be seen' : touched[0]);
    return {
      plan: via ? via.plan : l.outputs === undefined ? undefined : planOutputs(l.outputs, this.#protection),
      ...(l.fetches !== undefined ? { via: { space: 'cursor' as const, name: l.fetches } } : l.executes !== undefined ? { via: { space: 'prepared' as const, name: l.executes } } : {}),
      sensitive,
      reads: [...facts.reads.filter((r) => r !== '*'), ...(via?.reads ?? [])],
      filters: [...facts.filters.filter((r) => r !== '*'), ...(via?.filters ?? [])],
    };
  }


  /**
   * Whether a statement whose lineage is unknown may read a protected column: it names (through
   * views too) a relation with one, calls a function whose body is hidden, or uses a cursor.
   * Returns the column to name in the denial, or undefined.
   */
  #mayTouch(stmt: unknown, names: Names): string | undefined {
    // Code the analysis cannot see may read a protected column and hand it on where no rule
    // follows it: a RAISE text, a setting, a row written to another table.
    const code = tagOf(stmt)?.tag;
    if (code === 'DoStmt') return '(through a DO block, whose code Gatehouse cannot see)';
    if (code === 'CallStmt') return '(through a procedure, whose body Gatehouse cannot see)';
    for (const e of executedNames(stmt)) {
      const p = names.get('prepared', e);
      if (p === undefined || p.sensitive !== undefined) return `(through prepared statement "${e}")`;
    }
    const catalog = this.#catalog.view({ searchPath: this.#catalog.searchPath, unionAll: true });
    const m = mentionedNames(stmt);
    for (const f of m.functions) if (catalog.opaqueFunction(f.schema, f.name)) return `(through function ${f.name}, whose body Gatehouse cannot see)`;
    const seen = new Set<string>();
    const queue = [...m.relations];
    for (let i = 0; i < queue.length && i < 10_000; i++) {
      const r = queue[i]!;
      const rels = catalog.relations(r.schema, r.name) ?? [];
      for (const rel of rels) {
        const key = `${rel.schema}.${rel.name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        for (const c of rel.columns) {
          for (const t of [{ schema: rel.schema, table: rel.name }, ...rel.ancestors, ...rel.descendants]) {
            if (this.#protection({ ...t, column: c }) !== undefined) return `${t.schema}.${t.table}.${c}`;
          }
        }
        if (rel.query !== undefined) queue.push(...mentionedNames(rel.query).relations);
      }
    }
    const t = stmt as Record<string, unknown>;
    if (t.FetchStmt !== undefined || t.DeclareCursorStmt !== undefined) return '(a cursor)';
    return undefined;
  }
}

/** Statements that may define, rename or move functions (what a call name resolves to changes). */
const FUNCTION_DDL: ReadonlySet<string> = new Set([
  'CreateFunctionStmt', 'RenameStmt', 'AlterObjectSchemaStmt', 'CreateExtensionStmt', 'AlterExtensionStmt',
  'AlterExtensionContentsStmt', 'DefineStmt', 'CreateSchemaStmt', 'DoStmt', 'CreateCastStmt', 'CreateTransformStmt',
]);

function definesFunctions(stmt: unknown): boolean {
  return typeof stmt === 'object' && stmt !== null && Object.keys(stmt).some((k) => FUNCTION_DDL.has(k));
}
