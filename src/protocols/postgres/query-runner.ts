import type { Strategy } from '../../masking/strategies.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import { GatehouseError, isGatehouseError } from '../../kernel/errors.ts';
import { after, systemClock, type Clock } from '../../kernel/clock.ts';
import type { Connection } from '../../connections/registry.ts';
import type { MaskingRules } from '../../masking/rules.ts';
import type { QueryLimits, QueryRun, SqlQueryRunner, StatementResult } from '../../sql/runner.ts';
import {
  BE, parseCommandComplete, parseDataRow, parseErrorFields, parseRowDescription, validateBackend, type FieldDescription,
} from './backend-messages.ts';
import { CancelMap } from './cancel-map.ts';
import { CatalogResolver } from './catalog.ts';
import type { Frame } from './frame-reader.ts';
import { FE } from './frontend-messages.ts';
import { planColumns, RowMasker } from './row-masker.ts';
import { connectUpstream, upstreamTarget, type UpstreamSession, type UpstreamTarget } from './upstream.ts';
import { emptyMessage, MessageWriter } from './writer.ts';

/** Largest backend message accepted from the upstream (a row bigger than this fails the call). */
export const MAX_MESSAGE = 16 * 1024 * 1024;
/** Longest value kept in one cell, in characters (after masking); longer ones are cut. */
export const CELL_LIMIT = 4096;

/** How result rows are masked: exactly the wire listener's row masking (column rules + detectors). */
export interface RowMasking {
  /** The connection's response masker (content detectors), if any rule applies. */
  readonly masker: TextMasker | undefined;
  /** Resolves table OIDs for column rules; undefined when the connection has none. */
  readonly catalog: CatalogResolver | undefined;
  readonly strategyOf: (schema: string, table: string, column: string) => Strategy | undefined;
  readonly hashKey: Buffer;
}

/**
 * The PostgreSQL {@link SqlQueryRunner} (MCP's `query` and `describe_connection`): a fresh
 * upstream session with the vaulted credential per run; with `masked`, rows are masked with the
 * connection's rules exactly as the wire listener masks them (column rules resolved through the
 * catalog, content detectors). Built once by the composition root.
 *
 * @example const runner = new PostgresQueryRunner({ masking, clock }); await runner.run(conn, 'SELECT 1', { masked: true }, limits);
 */
export class PostgresQueryRunner implements SqlQueryRunner {
  readonly #deps: { readonly masking: MaskingRules; readonly clock: Clock };

  constructor(deps: { readonly masking: MaskingRules; readonly clock: Clock }) {
    this.#deps = deps;
  }

  async run(conn: Connection, sql: string, opts: { readonly masked: boolean }, limits: QueryLimits): Promise<QueryRun> {
    const target = upstreamTarget(conn.url, conn.credentials.password?.reveal());
    if (!opts.masked) return runQuery(target, sql, undefined, limits, this.#deps.clock);
    const { masking, clock } = this.#deps;
    const catalog = masking.hasColumnRules(conn.name) ? new CatalogResolver(target, { clock }) : undefined;
    try {
      return await runQuery(target, sql, {
        masker: masking.textMasker(conn.name, 'response'), catalog, hashKey: masking.hashKey,
        strategyOf: (schema, table, col) => masking.columnStrategy(conn.name, schema, table, col),
      }, limits, clock);
    } finally {
      catalog?.close();
    }
  }
}

/**
 * Runs `sql` as one simple Query on a fresh upstream session (the vaulted credential) and collects
 * the results with the wire listener's codec and row masking: frames read incrementally with a
 * capped length, each DataRow masked by {@link RowMasker} (column rules resolved through the
 * catalog, content detectors) before anything is kept. Past the row or character cap rows are
 * read and dropped (the statements still complete, so writes are not rolled back by truncation);
 * past the deadline or on abort, the query is cancelled upstream and the call fails.
 *
 * @example
 *   const run = await runQuery(target, 'SELECT * FROM customers', masking, { maxRows: 100, maxChars: 1 << 20, timeoutMs: 60_000 });
 */
export async function runQuery(target: UpstreamTarget, sql: string, masking: RowMasking | undefined, limits: QueryLimits, clock: Clock = systemClock): Promise<QueryRun> {
  const up = await connectUpstream(target, { params: new Map([['application_name', 'gatehouse-mcp']]), maxMessage: MAX_MESSAGE, clock });
  try {
    return await collect(up, target, sql, masking, limits, clock);
  } finally {
    if (!up.socket.destroyed) up.socket.end(emptyMessage(FE.terminate));
    up.socket.destroySoon();
  }
}

async function collect(up: UpstreamSession, target: UpstreamTarget, sql: string, masking: RowMasking | undefined, limits: QueryLimits, clock: Clock): Promise<QueryRun> {
  const state = new Collector(masking, limits);
  const cancels = new CancelMap();
  const key = cancels.register(up.key && { host: target.host, port: target.port, ...up.key });
  let failure: GatehouseError | undefined;
  const stop = (err: GatehouseError): void => {
    if (failure) return;
    failure = err;
    cancels.cancel(key.pid, key.secret);
    // If the server does not answer the cancel, the socket goes.
    after(clock, 5000, () => { up.socket.destroy(); });
  };
  const cancelTimer = after(clock, limits.timeoutMs, () => { stop(new GatehouseError('upstream_timeout', `the query did not finish within ${Math.round(limits.timeoutMs / 1000)} s; it was cancelled`)); });
  const onAbort = (): void => { stop(new GatehouseError('bad_request', 'the call was cancelled; the query was cancelled upstream')); };
  limits.signal?.addEventListener('abort', onAbort);
  if (limits.signal?.aborted === true) onAbort();
  try {
    up.socket.write(new MessageWriter().cstring(sql).frame(FE.query));
    for await (const chunk of up.socket) {
      for (const f of up.reader.push(chunk as Buffer)) {
        if (f.type === BE.copyInResponse) up.socket.write(new MessageWriter().cstring('COPY FROM STDIN is not available through MCP').frame(FE.copyFail));
        if (await state.frame(f)) {
          if (failure) throw failure;
          up.socket.end(emptyMessage(FE.terminate));
          return state.done();
        }
      }
    }
    throw failure ?? new GatehouseError('upstream_unreachable', 'the upstream closed the connection during the query');
  } catch (err) {
    if (failure) throw failure;
    if (isGatehouseError(err)) throw err;
    throw new GatehouseError('upstream_unreachable', `the query failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    cancelTimer();
    limits.signal?.removeEventListener('abort', onAbort);
    cancels.unregister(key);
  }
}

/** Folds backend frames into results, masking each row before it is kept. */
class Collector {
  readonly #masking: RowMasking | undefined;
  readonly #limits: QueryLimits;
  readonly #results: StatementResult[] = [];
  #current: { result: StatementResult; masker: RowMasker | undefined; fields: readonly FieldDescription[] } | undefined;
  #error: { sqlstate: string; message: string } | undefined;
  #kept = 0;
  #chars = 0;

  constructor(masking: RowMasking | undefined, limits: QueryLimits) {
    this.#masking = masking;
    this.#limits = limits;
  }

  /** Handles one frame; true at ReadyForQuery (the end of the query). */
  async frame(f: Frame): Promise<boolean> {
    validateBackend(f.type, f.body);
    switch (f.type) {
      case BE.rowDescription: await this.#describe(parseRowDescription(f.body)); return false;
      case BE.dataRow: this.#row(f.body); return false;
      case BE.commandComplete: this.#complete(parseCommandComplete(f.body)); return false;
      case BE.emptyQuery: this.#current = undefined; return false;
      case BE.error: {
        const e = parseErrorFields(f.body);
        const m = this.#masking?.masker;
        const message = (e.get('M') ?? 'error').slice(0, 2000);
        this.#error = { sqlstate: e.get('C') ?? '', message: m ? m.mask(message).text : message };
        if (this.#current) { this.#results.push(this.#current.result); this.#current = undefined; }
        return false;
      }
      case BE.readyForQuery: return true;
      case BE.auth: case BE.backendKeyData: throw new GatehouseError('upstream_unreachable', 'unexpected authentication message from the upstream');
      default: return false; // notices, parameter status, notifications, COPY data (never returned)
    }
  }

  done(): QueryRun {
    return { results: this.#results, ...(this.#error ? { error: this.#error } : {}) };
  }

  async #describe(fields: readonly FieldDescription[]): Promise<void> {
    const result: StatementResult = { command: null, columns: fields.map((c) => ({ name: c.name, type_oid: c.typeOid })), rows: [], row_count: 0, truncated: false };
    this.#current = { result, masker: await this.#maskerFor(fields), fields };
  }

  async #maskerFor(fields: readonly FieldDescription[]): Promise<RowMasker | undefined> {
    const m = this.#masking;
    if (!m) return undefined;
    const catalog = m.catalog;
    const strategies = await Promise.all(fields.map(async (fd) => {
      if (!catalog || fd.tableOid === 0 || fd.attnum <= 0) return undefined;
      const t = await catalog.table(fd.tableOid);
      const column = t?.columns.get(fd.attnum);
      return t && column !== undefined ? m.strategyOf(t.schema, t.table, column) : undefined;
    }));
    const rm = new RowMasker(planColumns(fields, [], strategies, m.masker !== undefined), m.masker, m.hashKey);
    return rm.active ? rm : undefined;
  }

  #row(body: Buffer): void {
    const cur = this.#current;
    if (!cur) throw new GatehouseError('upstream_unreachable', 'a row arrived whose columns are unknown');
    const r = cur.result;
    r.row_count++;
    if (this.#kept >= this.#limits.maxRows || this.#chars >= this.#limits.maxChars) { r.truncated = true; return; }
    const masked = cur.masker?.mask(body);
    const values = parseDataRow(masked ? masked.subarray(5) : body).map((v) => {
      if (v === null) return null;
      let s = v.toString('utf8');
      if (s.length > CELL_LIMIT) { s = `${s.slice(0, CELL_LIMIT)}…`; r.truncated = true; }
      this.#chars += s.length;
      return s;
    });
    r.rows.push(values);
    this.#kept++;
  }

  #complete(tag: string): void {
    const r = this.#current?.result ?? { command: null, columns: [], rows: [], row_count: 0, truncated: false };
    r.command = tag;
    this.#results.push(r);
    this.#current = undefined;
  }
}
