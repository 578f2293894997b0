import type { MaskingRules } from '../../masking/rules.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import { BE, parseErrorFields, parseNotification, parseParameterStatus } from './backend-messages.ts';
import type { CatalogResolver } from './catalog.ts';
import type { Frame } from './frame-reader.ts';
import { placePlan } from '../../inspect/sql/lineage/decide.ts';
import { settingMayCarryData } from '../../inspect/sql/lineage/names.ts';
import type { Strategy } from '../../masking/strategies.ts';
import type { ResultShape } from './result-tracker.ts';
import { TypesNeeded } from './binary-masker.ts';
import { builtinKind, kindFromCatalog, type TypeKind } from './pg-types.ts';
import { planColumns, RowMasker, type KindOf } from './row-masker.ts';
import { MessageWriter } from './writer.ts';

/** How long a row masker (its column rules) is reused: the catalog's own TTL. */
const MASKER_TTL_MS = 60_000;
/** Most row maskers kept per session. */
const MAX_MASKERS = 256;
/** Rounds of nested type lookups for one row (a record of arrays of an enum …). */
const MAX_TYPE_ROUNDS = 8;
const UNKNOWN: TypeKind = { kind: 'unknown' };

/** What a row masker depends on: each column's origin, type and format. */
function shapeKey(shape: ResultShape): string {
  let k = '';
  shape.fields.forEach((f, i) => { k += `${f.name}\u0000${f.tableOid}.${f.attnum}.${f.typeOid}.${shape.formats[i] ?? f.format};`; });
  return k + lineageKey(shape);
}

/** The column-lineage decisions of a shape, as part of its key (the same columns can be derived differently). */
function lineageKey(shape: ResultShape): string {
  if (shape.lineage === undefined) return '';
  const plan = shape.lineage.plan;
  if (plan === undefined) return '|strict';
  return `|${placePlan(plan, shape.fields.length).map((d) => (d.kind === 'rule' ? `r:${d.strategy}` : d.kind)).join(',')}`;
}

/** What a notification payload becomes on a connection with column rules. */
const NOTIFY_REDACTED = '[REDACTED]';

/**
 * Everything a session masks on the way to the client, for one connection: DataRows (a
 * {@link RowMasker} per result shape, column rules resolved through the upstream catalog),
 * CopyData, notification payloads, and the texts of server errors and notices.
 *
 * @example
 *   const masking = new ResponseMasking(svc.masking, conn.name, catalog);
 *   const m = masking.rowMasker(shape); // sync when known, else a promise
 */
export class ResponseMasking {
  /** Content detectors of the connection's response rules, if any apply. */
  readonly content: TextMasker | undefined;
  /** Whether the connection has column rules (`table.column` strategies). */
  readonly columnRules: boolean;
  readonly #rules: MaskingRules;
  readonly #connection: string;
  readonly #catalog: CatalogResolver | undefined;
  /** Row maskers by shape key (the same columns, types and formats give the same plan), bounded, with the catalog's TTL. */
  readonly #rowMaskers = new Map<string, { m: RowMasker; at: number }>();
  readonly #now: () => number;
  readonly #kindOf: KindOf;

  constructor(rules: MaskingRules, connection: string, catalog: CatalogResolver | undefined, now: () => number = Date.now) {
    this.#rules = rules;
    this.#connection = connection;
    this.#catalog = catalog;
    this.#now = now;
    this.content = rules.textMasker(connection, 'response');
    this.columnRules = rules.hasColumnRules(connection);
    this.#kindOf = (oid) => {
      const b = builtinKind(oid);
      if (b) return b;
      const hit = catalog?.cachedType(oid);
      // Without a catalog a type that is not builtin cannot be read: 'unknown' (fails where masking applies).
      return hit ? kindFromCatalog(hit.row) : catalog ? undefined : UNKNOWN;
    };
  }

  /** Whether anything is masked at all (else results pass through untouched). */
  get active(): boolean {
    return this.content !== undefined || this.columnRules;
  }

  /** The row masker of a result shape: at once when known, else once its columns and types are resolved. */
  rowMasker(shape: ResultShape): RowMasker | Promise<RowMasker> {
    const hit = this.#rowMaskers.get(shapeKey(shape));
    if (hit && this.#now() - hit.at < MASKER_TTL_MS) return hit.m;
    return this.#build(shape);
  }

  /** Resolves a shape's row masker ahead of its rows (undefined: already known). */
  prepare(shape: ResultShape): Promise<void> | undefined {
    const m = this.rowMasker(shape);
    return m instanceof Promise ? m.then(() => undefined) : undefined;
  }

  /**
   * One DataRow masked (undefined: unchanged). Nested types not known yet (a record's field of an
   * enum type …) are looked up and the row masked again, a bounded number of times.
   */
  maskRow(m: RowMasker, body: Buffer): Buffer | undefined | Promise<Buffer | undefined> {
    try {
      return m.mask(body);
    } catch (e) {
      if (!(e instanceof TypesNeeded)) throw e;
      return this.#maskRowAfterLookups(m, body, e.oids);
    }
  }

  async #maskRowAfterLookups(m: RowMasker, body: Buffer, first: readonly number[]): Promise<Buffer | undefined> {
    let oids = first;
    for (let round = 0; round < MAX_TYPE_ROUNDS; round++) {
      await this.#resolveTypes(oids);
      try {
        return m.mask(body);
      } catch (e) {
        if (!(e instanceof TypesNeeded)) throw e;
        oids = e.oids;
      }
    }
    throw new Error('types nested too deeply to be resolved');
  }

  async #resolveTypes(oids: readonly number[]): Promise<void> {
    if (!this.#catalog) return;
    await this.#catalog.types(oids);
    // An OID the catalog does not know stays unknown (not undefined): no endless lookups.
    for (const o of oids) if (this.#kindOf(o) === undefined) throw new Error(`type OID ${o} could not be resolved`);
  }

  async #build(shape: ResultShape): Promise<RowMasker> {
    const strategies = await Promise.all(shape.fields.map(async (fd) => {
      if (!this.columnRules || fd.tableOid === 0 || fd.attnum <= 0) return undefined;
      if (!this.#catalog) throw new Error('no catalog resolver for column rules');
      const t = await this.#catalog.table(fd.tableOid);
      const column = t?.columns.get(fd.attnum);
      return t && column !== undefined ? this.#rules.columnStrategy(this.#connection, t.schema, t.table, column) : undefined;
    }));
    if (this.columnRules) applyLineage(shape, strategies);
    // Types of binary columns are resolved now, so that rows are masked synchronously.
    const binary = shape.fields.filter((f, i) => (shape.formats[i] ?? f.format) === 1 && this.#kindOf(f.typeOid) === undefined);
    if (binary.length > 0) await this.#resolveTypes(binary.map((f) => f.typeOid));
    const kindOf = this.#kindOf;
    const plans = planColumns(shape.fields, shape.formats, strategies, this.content !== undefined, (o) => kindOf(o) ?? UNKNOWN);
    const m = new RowMasker(plans, this.content, this.#rules.hashKey, kindOf);
    if (this.#rowMaskers.size >= MAX_MASKERS) this.#rowMaskers.delete(this.#rowMaskers.keys().next().value!);
    this.#rowMaskers.set(shapeKey(shape), { m, at: this.#now() });
    return m;
  }

  /**
   * An ErrorResponse or NoticeResponse as the client may see it: the server quotes row values in
   * its texts ("Key (email)=(…) already exists", "Failing row contains (…)"), so with masking on
   * the message, detail, hint, context and internal-query fields are masked with the
   * connection's detectors, and with column rules (whose values no detector may recognize) the
   * detail is withheld. Unchanged frames pass through as they came.
   */
  serverText(f: Frame): Buffer {
    if (!this.active) return f.raw;
    const fields = parseErrorFields(f.body);
    let changed = false;
    const w = new MessageWriter();
    for (const [k, v] of fields) {
      let out = v;
      if (k === 'D' && this.columnRules) out = 'detail withheld by Gatehouse: the connection has column masking rules';
      else if (this.content && (k === 'M' || k === 'D' || k === 'H' || k === 'W' || k === 'q')) out = this.content.mask(v).text;
      if (out !== v) changed = true;
      w.byte(k.charCodeAt(0)).cstring(out);
    }
    if (!changed) return f.raw;
    w.byte(0);
    return w.frame(f.type);
  }

  /**
   * An ErrorResponse or NoticeResponse of a statement that reads a protected column: the server's
   * texts may quote its values (`invalid input syntax for type integer: "555-867-5309"`, a
   * function's RAISE), and no detector need recognize them, so the message is replaced and the
   * detail, hint, context and internal query are withheld. Severity, SQLSTATE and position stay.
   */
  withheldText(f: Frame, column: string): Buffer {
    const fields = parseErrorFields(f.body);
    const w = new MessageWriter();
    const code = fields.get('C') ?? '';
    for (const [k, v] of fields) {
      if (k === 'M') {
        const what = column.startsWith('a ') ? `touches ${column} (a function body, a trigger)` : `reads protected column ${column}`;
        w.byte(k.charCodeAt(0)).cstring(`Gatehouse withheld the server's message (SQLSTATE ${code}): the statement ${what}, whose values server messages may quote`);
      } else if (k !== 'D' && k !== 'H' && k !== 'W' && k !== 'q' && k !== 'p') {
        w.byte(k.charCodeAt(0)).cstring(v);
      }
    }
    w.byte(0);
    return w.frame(f.type);
  }

  /** A NotificationResponse arriving while a statement reading a protected column runs: its payload is withheld. */
  withheldNotification(f: Frame, column: string): Buffer {
    const n = parseNotification(f.body);
    return new MessageWriter().int32(n.pid).cstring(n.channel)
      .cstring(`Gatehouse withheld the payload: it arrived while a statement reading protected column ${column} ran`).frame(BE.notification);
  }

  /**
   * A ParameterStatus as the client may see it. `withhold`: a statement that read a protected
   * column (or ran a hidden function) has run in this session, so a setting the server reports
   * may hold what such code set it to (`set_config('application_name', phone, false)`): the value
   * of a setting that may carry data is replaced by `[REDACTED]`. Otherwise the value is masked
   * by the content detectors; the raw frame when nothing applies.
   */
  parameterStatus(f: Frame, withhold: boolean): Buffer {
    const p = parseParameterStatus(f.body);
    let value = p.value;
    if (withhold && settingMayCarryData(p.name)) value = p.value === '' ? '' : NOTIFY_REDACTED;
    else if (this.content) value = this.content.mask(p.value).text;
    return value === p.value ? f.raw : new MessageWriter().cstring(p.name).cstring(value).frame(BE.parameterStatus);
  }

  /** A CopyData frame (COPY … TO STDOUT) with its text masked; the raw frame when there is no content rule. */
  copyData(f: Frame): Buffer {
    if (!this.content) return f.raw;
    const text = f.body.toString('utf8');
    const masked = this.content.mask(text).text;
    return masked === text ? f.raw : new MessageWriter().bytes(Buffer.from(masked, 'utf8')).frame(BE.copyData);
  }

  /**
   * A NotificationResponse as the client may see it: with column rules the payload is replaced
   * whole by `[REDACTED]` (any session, trigger or `pg_notify(channel, phone)` may have built it
   * from a protected column, and no lineage reaches another session's payload: fail closed);
   * otherwise masked by the content detectors; the raw frame when nothing applies.
   */
  notification(f: Frame): Buffer {
    const content = this.content;
    if (!content && !this.columnRules) return f.raw;
    const n = parseNotification(f.body);
    const payload = this.columnRules || !content ? (n.payload === '' ? '' : NOTIFY_REDACTED) : content.mask(n.payload).text;
    return new MessageWriter().int32(n.pid).cstring(n.channel).cstring(payload).frame(BE.notification);
  }
}

/**
 * Column lineage decisions on top of the strategies found by table OID: a column derived from a
 * protected column is redacted whole; a bare protected column keeps its rule. A shape with no
 * plan (a statement whose rows the analysis did not plan) gets the strict default: every column
 * that is not a bare table column is redacted.
 */
function applyLineage(shape: ResultShape, strategies: (Strategy | undefined)[]): void {
  const plan = shape.lineage?.plan;
  const decisions = plan ? placePlan(plan, shape.fields.length) : undefined;
  shape.fields.forEach((fd, i) => {
    const d = decisions?.[i];
    if (d === undefined) {
      if (fd.tableOid === 0) strategies[i] = 'redact';
    } else if (d.kind === 'redact') strategies[i] = 'redact';
    else if (d.kind === 'rule') strategies[i] ??= d.strategy;
  });
}
