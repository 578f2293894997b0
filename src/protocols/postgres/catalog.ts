import { after, type Clock } from '../../kernel/clock.ts';
import { BE, parseDataRow, parseErrorFields } from './backend-messages.ts';
import type { TypeRow } from './pg-types.ts';
import type { Frame } from './frame-reader.ts';
import { connectUpstream, type UpstreamSession, type UpstreamTarget } from './upstream.ts';
import { MessageWriter } from './writer.ts';
import type { ErrorCode } from '../../kernel/errors.ts';

/** A table's qualified name and its columns by attribute number. */
export interface TableInfo {
  readonly schema: string;
  readonly table: string;
  readonly columns: ReadonlyMap<number, string>;
}

/** Options of a {@link CatalogResolver}. */
export interface CatalogOptions {
  readonly clock: Clock;
  /** How long a table's names are trusted (default 60 s; a renamed column is seen after that). */
  readonly ttlMs?: number;
  /** Most tables cached (default 2 000). */
  readonly maxTables?: number;
  /**
   * How long one lookup may take (default 5 s). Past it the lookup fails and the caller fails
   * closed: e.g. an upstream that serializes connections (PGlite served over the wire) cannot
   * answer while the client's own transaction is open on another connection.
   */
  readonly queryTimeoutMs?: number;
}

/**
 * Resolves RowDescription table OIDs and attribute numbers to `schema.table.column` through the
 * upstream catalog (`pg_class`, `pg_namespace`, `pg_attribute`), on its own upstream connection
 * (never the client's, whose transaction state it must not touch). Results are cached with a TTL;
 * lookups are serialized on the one connection. Any failure throws (callers fail closed).
 *
 * @example
 *   const info = await resolver.table(16384); info?.columns.get(2) // 'email'
 */
export class CatalogResolver {
  readonly #target: UpstreamTarget;
  readonly #clock: Clock;
  readonly #ttl: number;
  readonly #max: number;
  readonly #cache = new Map<number, { info: TableInfo | undefined; at: number }>();
  readonly #types = new Map<number, { row: TypeRow | undefined; at: number }>();
  #conn: Promise<UpstreamSession> | undefined;
  readonly #timeoutMs: number;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(target: UpstreamTarget, opts: CatalogOptions) {
    this.#target = target;
    this.#clock = opts.clock;
    this.#ttl = opts.ttlMs ?? 60_000;
    this.#max = opts.maxTables ?? 2000;
    this.#timeoutMs = opts.queryTimeoutMs ?? 5_000;
  }

  /** The cached entry when fresh, else undefined (a synchronous fast path for the row path). */
  cached(oid: number): { info: TableInfo | undefined } | undefined {
    const e = this.#cache.get(oid);
    return e && this.#clock.now() - e.at < this.#ttl ? e : undefined;
  }

  /** The table with this OID, or undefined when it does not exist (e.g. dropped). */
  async table(oid: number): Promise<TableInfo | undefined> {
    const hit = this.cached(oid);
    if (hit) return hit.info;
    const run = this.#chain.then(() => this.#lookup(oid));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #lookup(oid: number): Promise<TableInfo | undefined> {
    const hit = this.cached(oid);
    if (hit) return hit.info;
    if (!Number.isInteger(oid) || oid <= 0 || oid > 0xffffffff) return undefined;
    const rows = await this.#query(
      `SELECT n.nspname, c.relname, a.attnum, a.attname FROM pg_catalog.pg_class c ` +
      `JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ` +
      `LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ` +
      `WHERE c.oid = ${oid}`);
    let info: TableInfo | undefined;
    if (rows.length > 0) {
      const columns = new Map<number, string>();
      for (const r of rows) if (r[2] != null && r[3] != null) columns.set(Number(r[2]), r[3]);
      info = { schema: rows[0]![0] ?? '', table: rows[0]![1] ?? '', columns };
    }
    if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(oid, { info, at: this.#clock.now() });
    return info;
  }

  /** The cached `pg_type` row of a type when fresh (undefined row: no such type), else undefined. */
  cachedType(oid: number): { row: TypeRow | undefined } | undefined {
    const e = this.#types.get(oid);
    return e && this.#clock.now() - e.at < this.#ttl ? e : undefined;
  }

  /**
   * Looks up how types are sent in binary format (`pg_type.typsend` → `pg_proc`, and a range's
   * subtype), caching each answer; afterwards {@link cachedType} answers for every OID asked.
   */
  async types(oids: readonly number[]): Promise<void> {
    const want = [...new Set(oids)].filter((o) => Number.isInteger(o) && o > 0 && o <= 0xffffffff && !this.cachedType(o)).slice(0, 200);
    if (want.length === 0) return;
    const run = this.#chain.then(async () => {
      const rows = await this.#query(
        `SELECT t.oid, p.prosrc, p.prolang = 12, p.probin, r.rngsubtype FROM pg_catalog.pg_type t ` +
        `JOIN pg_catalog.pg_proc p ON p.oid = t.typsend LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid ` +
        `WHERE t.oid IN (${want.join(',')})`);
      const found = new Map<number, TypeRow>();
      for (const r of rows) {
        found.set(Number(r[0]), { sendSrc: r[1] ?? '', internal: r[2] === 't', library: r[3] ?? null, rangeSubtype: r[4] == null ? null : Number(r[4]) });
      }
      for (const o of want) {
        if (this.#types.size >= this.#max) this.#types.delete(this.#types.keys().next().value!);
        this.#types.set(o, { row: found.get(o), at: this.#clock.now() });
      }
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Runs a read-only catalog query (serialized with the lookups above); rows as text. Throws on failure. */
  rows(sql: string): Promise<(string | null)[][]> {
    const run = this.#chain.then(() => this.#query(sql));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /**
   * One catalog query. The connection is shared and idle most of the time, so the server may have
   * closed it (idle timeout, restart, a terminated backend): when it turns out lost — closed,
   * a write error, a FATAL error — it is reopened and the query retried once; a second failure
   * (or a timeout, or an ordinary ERROR) rejects, and only the caller's statement fails.
   */
  async #query(sql: string): Promise<(string | null)[][]> {
    try {
      return await this.#queryOnce(sql);
    } catch (err) {
      if (!(err instanceof CatalogConnectionLost)) throw err;
      return this.#queryOnce(sql);
    }
  }

  async #queryOnce(sql: string): Promise<(string | null)[][]> {
    this.#conn ??= connectUpstream(this.#target, { params: new Map([['application_name', 'gatehouse-catalog']]), timeoutMs: this.#timeoutMs, clock: this.#clock });
    let up: UpstreamSession;
    try { up = await this.#conn; } catch (err) { this.#conn = undefined; throw err; }
    if (up.socket.destroyed || !up.socket.writable) {
      this.#conn = undefined;
      up.socket.destroy();
      throw new CatalogConnectionLost('catalog connection closed');
    }
    return new Promise((resolve, reject) => {
      const rows: (string | null)[][] = [];
      let error: string | undefined;
      let fatal = false;
      const cancelTimer = after(this.#clock, this.#timeoutMs, () => { done(new Error(`catalog lookup timed out after ${this.#timeoutMs} ms`)); });
      const done = (e?: Error): void => {
        cancelTimer();
        up.socket.off('data', onData); up.socket.off('close', onClose); up.socket.off('error', onClose);
        up.socket.pause();
        if (e) { this.#conn = undefined; up.socket.destroy(); reject(e); } else if (error !== undefined) reject(new Error(error)); else resolve(rows);
      };
      const onFrame = (f: Frame): boolean => {
        if (f.type === BE.dataRow) rows.push(parseDataRow(f.body).map((v) => (v === null ? null : v.toString('utf8'))));
        else if (f.type === BE.error) {
          const fields = parseErrorFields(f.body);
          error = `catalog lookup failed: ${fields.get('M') ?? ''}`;
          if ((fields.get('V') ?? fields.get('S')) === 'FATAL' || (fields.get('V') ?? fields.get('S')) === 'PANIC') fatal = true;
        }
        return f.type === BE.readyForQuery;
      };
      const onData = (chunk: Buffer): void => {
        try {
          for (const f of up.reader.push(chunk)) if (onFrame(f)) { done(); return; }
        } catch (e) { done(e instanceof Error ? e : new Error(String(e))); }
      };
      const onClose = (): void => done(new CatalogConnectionLost(fatal && error !== undefined ? error : 'catalog connection closed'));
      up.socket.on('data', onData); up.socket.on('close', onClose); up.socket.on('error', onClose);
      up.socket.resume();
      up.socket.write(new MessageWriter().cstring(sql).frame(0x51));
    });
  }

  /** Closes the catalog connection. */
  close(): void {
    void this.#conn?.then((c) => c.socket.destroy(), () => undefined);
    this.#conn = undefined;
  }
}

/** The shared catalog connection turned out closed: worth one reconnect. */
class CatalogConnectionLost extends Error {
  override readonly name = 'CatalogConnectionLost';
  /** The registry code (the upstream catalog connection is gone). */
  readonly code = 'upstream_unreachable' satisfies ErrorCode;
}
