import { parseSql, sqlInspectorLoaded } from '../../inspect/sql/inspect.ts';
import type { Clock } from '../../kernel/clock.ts';
import { planOutputs, protectedFacts, protectedSources, type ColumnDecision, type OutputPlan } from '../../inspect/sql/lineage/decide.ts';
import { mentionedNames, statementLineage } from '../../inspect/sql/lineage/statement.ts';
import { LineageUnknownError, type SourceColumn, type StatementLineage } from '../../inspect/sql/lineage/types.ts';
import type { MaskingRules } from '../../masking/rules.ts';
import type { Strategy } from '../../masking/strategies.ts';
import type { CatalogResolver } from './catalog.ts';
import { lineageCatalogFor, type LineageCatalogCache } from './lineage-catalog.ts';
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
}

/** Cursors and prepared statements by name. */
interface Names {
  readonly cursors: Map<string, Named>;
  readonly prepared: Map<string, Named>;
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

/** CLOSE / DEALLOCATE / DISCARD ALL: the names are gone once it runs. */
function forgets(stmt: unknown, names: Names): void {
  const t = stmt as Record<string, Record<string, unknown> | undefined>;
  const close = t.ClosePortalStmt;
  if (close) { if (typeof close.portalname === 'string') names.cursors.delete(close.portalname); else names.cursors.clear(); }
  const dealloc = t.DeallocateStmt;
  if (dealloc) { if (typeof dealloc.name === 'string') names.prepared.delete(dealloc.name); else names.prepared.clear(); }
  if (t.DiscardStmt) { names.cursors.clear(); names.prepared.clear(); }
}

/** Adds a name; one that may still exist keeps the stricter of both plans (re-creating it fails). */
function remember(m: Map<string, Named>, name: string, n: Named): void {
  const prev = m.get(name);
  const merged: Named = prev
    ? {
      plan: mergePlans(prev.plan, n.plan), sensitive: prev.sensitive ?? n.sensitive,
      reads: [...new Set([...prev.reads, ...n.reads])], filters: [...new Set([...prev.filters, ...n.filters])],
      ...(prev.hold === true || n.hold === true ? { hold: true } : {}),
      ...(prev.holds !== undefined || n.holds !== undefined ? { holds: prev.holds ?? n.holds } : {}),
    }
    : n;
  m.delete(name);
  if (m.size >= MAX_NAMED) m.delete(m.keys().next().value!);
  m.set(name, merged);
}

/** A name Gatehouse did not see created: no plan (strict default) and server texts withheld. */
const UNKNOWN_NAME: Named = Object.freeze({
  plan: undefined, sensitive: '(of a statement Gatehouse did not see prepared)', reads: [], filters: [],
  holds: '(of a statement Gatehouse did not see prepared)',
});

/** Most cursors and prepared statements remembered per session. */
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
  #cursors = new Map<string, Named>();
  #prepared = new Map<string, Named>();
  /** Portals created by Bind (protocol), with their statement's plan. */
  readonly #portals = new Map<string, Named>();
  /** The session may have changed its search_path or role: unqualified names match every schema. */
  #unionAll = false;

  constructor(rules: MaskingRules, connection: string, resolver: CatalogResolver, clock: Clock) {
    this.#rules = rules;
    this.#connection = connection;
    this.#catalog = lineageCatalogFor(resolver, clock);
  }

  #protection = (c: SourceColumn): Strategy | undefined => this.#rules.columnStrategy(this.#connection, c.schema, c.table, c.column);

  /** A prepared statement's facts and plan (for SQL EXECUTE and protocol Bind). */
  prepared(name: string): Named | undefined {
    return this.#prepared.get(name);
  }

  /**
   * A Bind was forwarded: the portal runs the statement's plan. The unnamed portal is replaced by
   * every Bind; a named one that still exists makes the Bind fail, so both plans are kept.
   */
  bind(portal: string, statement: string): void {
    const n = this.#prepared.get(statement) ?? UNKNOWN_NAME;
    if (portal === '') { this.#portals.delete(''); this.#portals.set('', n); } else remember(this.#portals, portal, n);
  }

  /** What an Execute of `portal` yields: a bound portal's or a declared cursor's plan (else the strict default). */
  portal(name: string): Named {
    const bound = this.#portals.get(name);
    const cursor = this.#cursors.get(name);
    if (bound && cursor) {
      const holds = bound.holds ?? cursor.holds;
      return { plan: mergePlans(bound.plan, cursor.plan), sensitive: bound.sensitive ?? cursor.sensitive, reads: [], filters: [], ...(holds !== undefined ? { holds } : {}) };
    }
    return bound ?? cursor ?? UNKNOWN_NAME;
  }

  /** Protocol Close of a statement, or its name replaced. */
  forgetPrepared(name: string): void {
    this.#prepared.delete(name);
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
    const names: Names = { cursors: new Map(this.#cursors), prepared: new Map(this.#prepared) };
    let unionAll = this.#unionAll;
    for (const stmt of stmts) {
      const catalog = this.#catalog.view({ searchPath: this.#catalog.searchPath, unionAll });
      let l: StatementLineage;
      try {
        l = statementLineage(stmt, catalog);
      } catch (err) {
        if (!(err instanceof LineageUnknownError)) throw err;
        const risk = this.#mayTouch(stmt, names);
        if (risk !== undefined) return deny(risk, err.message);
        plans.push(undefined);
        if (changesNameResolution(stmt)) unionAll = true;
        forgets(stmt, names);
        continue;
      }
      if (changesNameResolution(stmt)) unionAll = true;
      const sunk = l.sinks ? protectedSources(l.sinks, this.#protection).filter((k) => k !== '*') : [];
      if (sunk.length > 0) {
        return { ok: false, message: `Gatehouse denied the statement: it writes or sends values derived from protected column ${sunk[0]!} where column rules cannot follow them (a table, a notification or a setting)` };
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
      if (l.declares !== undefined) remember(names.cursors, l.declares, { ...found, hold: holdable(stmt) });
      if (l.prepares !== undefined) remember(names.prepared, l.prepares, own);
      // The unnamed statement is replaced by every Parse (the server drops it first); a named one
      // that still exists makes the Parse fail, so both plans are kept (merged).
      if (statementName === '') { names.prepared.delete(''); names.prepared.set('', own); }
      else if (statementName !== undefined) remember(names.prepared, statementName, own);
      forgets(stmt, names);
    }
    return {
      ok: true, plans, sensitive, ...(holds !== undefined ? { holds } : {}), reads: factNames(reads), filters: factNames(filters),
      commit: () => { this.#cursors = names.cursors; this.#prepared = names.prepared; if (unionAll) this.#unionAll = true; },
    };
  }

  /** The transaction ended with nothing in flight: cursors without WITH HOLD and all portals are gone. */
  idle(): void {
    for (const [k, v] of this.#cursors) if (v.hold !== true) this.#cursors.delete(k);
    this.#portals.clear();
  }

  /** The plan, facts and sensitivity of a statement; null when it fetches/executes an unknown name. */
  #named(l: StatementLineage, names: Names): Named | null {
    const via = l.fetches !== undefined ? names.cursors.get(l.fetches) : l.executes !== undefined ? names.prepared.get(l.executes) : undefined;
    if ((l.fetches !== undefined || l.executes !== undefined) && via === undefined) return null;
    const facts = protectedFacts(l, this.#protection);
    const touched = protectedFacts({ outputs: [{ kind: 'spread', lineage: l.touches }], touches: l.touches, filters: l.filters }, this.#protection).reads;
    const sensitive = via?.sensitive ?? (touched[0] === '*' ? 'a column whose source cannot be seen' : touched[0]);
    return {
      plan: via ? via.plan : l.outputs === undefined ? undefined : planOutputs(l.outputs, this.#protection),
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
    for (const e of executedNames(stmt)) {
      const p = names.prepared.get(e);
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
