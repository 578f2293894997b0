import { parseSql } from '../../inspect/sql/inspect.ts';
import type { Clock } from '../../kernel/clock.ts';
import { candidates, type NameResolution } from '../../inspect/sql/lineage/search-path.ts';
import { mentionedNames } from '../../inspect/sql/lineage/statement.ts';
import type { LineageCatalog, RelationInfo } from '../../inspect/sql/lineage/types.ts';
import type { CatalogResolver } from './catalog.ts';

/** How long catalog answers are trusted (a new view or function is seen after that). */
const TTL_MS = 60_000;
/** Most names cached (relations and functions each). */
const MAX_NAMES = 5_000;
/** Most names looked up in one query; most rounds of view dependencies. */
const MAX_BATCH = 500;
const MAX_ROUNDS = 16;
/** Most levels of inheritance or partitioning followed (descendants deeper make the load fail). */
const MAX_INHERIT_DEPTH = 32;
/** Schemas whose functions are the server's own (their bodies are known not to read user tables). */
const SYSTEM_SCHEMAS: ReadonlySet<string> = new Set(['pg_catalog', 'information_schema']);
/** A view definition that cannot be parsed: analyzing it throws (lineage unknown). */
const UNPARSEABLE = Object.freeze({ GatehouseUnparseableView: {} });

type Name = { readonly schema: string | undefined; readonly name: string };

/** A SQL literal for any text, without quoting rules: `convert_from(decode('<hex>', 'hex'), 'UTF8')`. */
function lit(s: string): string {
  return `convert_from(decode('${Buffer.from(s, 'utf8').toString('hex')}', 'hex'), 'UTF8')`;
}

function parseView(sql: string | null): unknown {
  if (sql === null) return UNPARSEABLE;
  try {
    const stmt = parseSql(sql).stmts?.[0]?.stmt;
    return stmt ?? UNPARSEABLE;
  } catch {
    return UNPARSEABLE;
  }
}

/**
 * What column lineage needs from one upstream database, loaded through its {@link CatalogResolver}
 * (the catalog connection) and cached by name: every relation of a name in every schema (columns
 * in attribute order, view definitions parsed, ancestors and descendants through `pg_inherits`), the schemas
 * defining each function name, and the server's `search_path` (`current_schemas(true)`) for the
 * role. `load` is async; `view` answers synchronously from what was loaded.
 *
 * @example
 *   const cat = lineageCatalogFor(resolver, clock);
 *   await cat.load(mentionedNames(tree));
 *   statementLineage(tree, cat.view({ searchPath: cat.searchPath, unionAll: false }));
 */
export class LineageCatalogCache {
  readonly #resolver: CatalogResolver;
  readonly #clock: Clock;
  readonly #relations = new Map<string, { rels: RelationInfo[]; at: number }>();
  readonly #functions = new Map<string, { schemas: string[]; at: number }>();
  #searchPath: { path: string[]; at: number } | undefined;

  constructor(resolver: CatalogResolver, clock: Clock) {
    this.#resolver = resolver;
    this.#clock = clock;
  }

  /** The role's default search path as the server resolves it (after `load`). */
  get searchPath(): readonly string[] {
    return this.#searchPath?.path ?? ['pg_catalog', 'public'];
  }

  #fresh(at: number): boolean {
    return this.#clock.now() - at < TTL_MS;
  }

  /** Loads every name (and what the views among them depend on) not cached yet. Throws on failure. */
  async load(names: { relations: readonly Name[]; functions: readonly Name[] }): Promise<void> {
    if (!this.#searchPath || !this.#fresh(this.#searchPath.at)) {
      const rows = await this.#resolver.rows(`SELECT pg_catalog.array_to_string(pg_catalog.current_schemas(true), chr(31))`);
      this.#searchPath = { path: (rows[0]?.[0] ?? '').split('\u001f').filter((s) => s !== ''), at: this.#clock.now() };
    }
    await this.#loadFunctions(names.functions.map((f) => f.name));
    let want = names.relations.map((r) => r.name);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const missing = [...new Set(want)].filter((n) => { const e = this.#relations.get(n); return !e || !this.#fresh(e.at); });
      if (missing.length === 0) return;
      if (missing.length > MAX_BATCH) throw new Error(`statement names more than ${MAX_BATCH} relations`);
      const views = await this.#loadRelations(missing);
      want = [];
      for (const v of views) {
        const m = mentionedNames(v.query);
        want.push(...m.relations.map((r) => r.name));
        await this.#loadFunctions(m.functions.map((f) => f.name));
      }
    }
    throw new Error('views nested too deeply to be loaded');
  }

  async #loadFunctions(names: readonly string[]): Promise<void> {
    const missing = [...new Set(names)].filter((n) => { const e = this.#functions.get(n); return !e || !this.#fresh(e.at); });
    if (missing.length === 0) return;
    if (missing.length > MAX_BATCH) throw new Error(`statement names more than ${MAX_BATCH} functions`);
    const rows = await this.#resolver.rows(
      `SELECT DISTINCT p.proname, n.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace ` +
      `WHERE p.proname IN (${missing.map(lit).join(', ')})`);
    const by = new Map<string, string[]>(missing.map((n) => [n, []]));
    for (const r of rows) if (r[0] != null && r[1] != null) by.get(r[0])?.push(r[1]);
    for (const [n, schemas] of by) this.#put(this.#functions, n, { schemas, at: this.#clock.now() });
  }

  /** Loads relations by name; returns the views among them (for their dependencies). */
  async #loadRelations(names: readonly string[]): Promise<RelationInfo[]> {
    const rows = await this.#resolver.rows(
      `SELECT c.oid, n.nspname, c.relname, c.relkind::text, a.attname FROM pg_catalog.pg_class c ` +
      `JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ` +
      `LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ` +
      `WHERE c.relname IN (${names.map(lit).join(', ')}) AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S') ORDER BY c.oid, a.attnum`);
    const byOid = new Map<string, { schema: string; name: string; kind: string; columns: string[] }>();
    for (const r of rows) {
      const [oid, schema, name, kind, att] = r;
      if (oid == null || schema == null || name == null || kind == null) continue;
      let e = byOid.get(oid);
      if (!e) { e = { schema, name, kind, columns: [] }; byOid.set(oid, e); }
      if (att != null) e.columns.push(att);
    }
    const oids = [...byOid.keys()];
    const viewOids = oids.filter((o) => { const k = byOid.get(o)!.kind; return k === 'v' || k === 'm'; });
    const defs = new Map<string, string | null>();
    if (viewOids.length > 0) {
      for (const r of await this.#resolver.rows(`SELECT c.oid, pg_catalog.pg_get_viewdef(c.oid) FROM pg_catalog.pg_class c WHERE c.oid IN (${viewOids.join(', ')})`)) {
        if (r[0] != null) defs.set(r[0], r[1] ?? null);
      }
    }
    const ancestors = new Map<string, { schema: string; table: string }[]>();
    if (oids.length > 0) {
      const anc = await this.#resolver.rows(
        `WITH RECURSIVE anc(child, parent, depth) AS (SELECT inhrelid, inhparent, 1 FROM pg_catalog.pg_inherits WHERE inhrelid IN (${oids.join(', ')}) ` +
        `UNION ALL SELECT a.child, i.inhparent, a.depth + 1 FROM anc a JOIN pg_catalog.pg_inherits i ON i.inhrelid = a.parent WHERE a.depth < 32) ` +
        `SELECT a.child, n.nspname, c.relname FROM anc a JOIN pg_catalog.pg_class c ON c.oid = a.parent JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`);
      for (const r of anc) if (r[0] != null && r[1] != null && r[2] != null) (ancestors.get(r[0]) ?? ancestors.set(r[0], []).get(r[0])!).push({ schema: r[1], table: r[2] });
    }
    // A read of a parent (inheritance or partitioned) may return its descendants' rows.
    const descendants = new Map<string, { schema: string; table: string }[]>();
    if (oids.length > 0) {
      const des = await this.#resolver.rows(
        `WITH RECURSIVE des(parent, child, depth) AS (SELECT inhparent, inhrelid, 1 FROM pg_catalog.pg_inherits WHERE inhparent IN (${oids.join(', ')}) ` +
        `UNION ALL SELECT d.parent, i.inhrelid, d.depth + 1 FROM des d JOIN pg_catalog.pg_inherits i ON i.inhparent = d.child WHERE d.depth < ${MAX_INHERIT_DEPTH}) ` +
        `SELECT d.parent, n.nspname, c.relname, max(d.depth) FROM des d JOIN pg_catalog.pg_class c ON c.oid = d.child JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace GROUP BY 1, 2, 3`);
      for (const r of des) {
        if (r[0] == null || r[1] == null || r[2] == null) continue;
        // Deeper descendants were not looked up: their rules are unknown (fail closed).
        if (Number(r[3]) >= MAX_INHERIT_DEPTH) throw new Error(`inheritance or partitions nested more than ${MAX_INHERIT_DEPTH - 1} deep`);
        (descendants.get(r[0]) ?? descendants.set(r[0], []).get(r[0])!).push({ schema: r[1], table: r[2] });
      }
    }
    const byName = new Map<string, RelationInfo[]>(names.map((n) => [n, []]));
    const views: RelationInfo[] = [];
    for (const [oid, e] of byOid) {
      const info: RelationInfo = {
        schema: e.schema, name: e.name, columns: e.columns, ancestors: ancestors.get(oid) ?? [], descendants: descendants.get(oid) ?? [],
        ...(defs.has(oid) ? { query: parseView(defs.get(oid) ?? null) } : {}),
      };
      if (info.query !== undefined && !SYSTEM_SCHEMAS.has(info.schema)) views.push(info);
      byName.get(e.name)?.push(SYSTEM_SCHEMAS.has(info.schema) ? asTable(info) : info);
    }
    for (const [n, rels] of byName) this.#put(this.#relations, n, { rels, at: this.#clock.now() });
    return views;
  }

  #put<V>(m: Map<string, V>, k: string, v: V): void {
    m.delete(k);
    if (m.size >= MAX_NAMES) m.delete(m.keys().next().value!);
    m.set(k, v);
  }

  /**
   * Forgets every function name looked up (a session defined or renamed functions: an answer
   * cached before may miss the new one; the next statement looks its names up again).
   */
  forgetFunctions(): void { this.#functions.clear(); }

  /**
   * A synchronous catalog over what is loaded, resolving unqualified names as `how` says.
   * `functionsChanged`: the session may have defined functions since their names were looked up.
   */
  view(how: NameResolution, functionsChanged = false): LineageCatalog {
    const opaqueFunction = (schema: string | undefined, name: string): boolean => {
      const e = this.#functions.get(name);
      // Not loaded (should not happen): unknown body, fail closed.
      if (!e) return true;
      return e.schemas.some((s) => !SYSTEM_SCHEMAS.has(s) && (schema === undefined || s === schema));
    };
    return {
      relations: (schema, name) => {
        const e = this.#relations.get(name);
        if (!e) return undefined;
        return schema === undefined ? candidates(e.rels, how) : e.rels.filter((r) => r.schema === schema);
      },
      opaqueFunction,
      opaqueCall: (schema, name) => {
        if (functionsChanged && (schema === undefined || !SYSTEM_SCHEMAS.has(schema))) return true;
        const e = this.#functions.get(name);
        // A name no schema defined when it was looked up: created since (within the cache's life,
        // by this or another session), its body is a user's. A call the server cannot resolve fails anyway.
        if (!e || e.schemas.length === 0 || (schema !== undefined && !e.schemas.includes(schema))) return true;
        return opaqueFunction(schema, name);
      },
    };
  }
}

/** System views are read as tables (their definitions read no user data; statistics are marked opaque by lineage). */
function asTable(r: RelationInfo): RelationInfo {
  return { schema: r.schema, name: r.name, columns: r.columns, ancestors: r.ancestors, descendants: r.descendants };
}

const caches = new WeakMap<CatalogResolver, LineageCatalogCache>();

/** The lineage catalog of an upstream database (one per catalog resolver). */
export function lineageCatalogFor(resolver: CatalogResolver, clock: Clock): LineageCatalogCache {
  let c = caches.get(resolver);
  if (!c) { c = new LineageCatalogCache(resolver, clock); caches.set(resolver, c); }
  return c;
}
