import type { MaskingRules } from '../../masking/rules.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import { BE, parseErrorFields, parseNotification } from './backend-messages.ts';
import type { CatalogResolver } from './catalog.ts';
import type { Frame } from './frame-reader.ts';
import type { ResultShape } from './result-tracker.ts';
import { planColumns, RowMasker } from './row-masker.ts';
import { MessageWriter } from './writer.ts';

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
  readonly #rowMaskers = new WeakMap<ResultShape, RowMasker>();

  constructor(rules: MaskingRules, connection: string, catalog: CatalogResolver | undefined) {
    this.#rules = rules;
    this.#connection = connection;
    this.#catalog = catalog;
    this.content = rules.textMasker(connection, 'response');
    this.columnRules = rules.hasColumnRules(connection);
  }

  /** Whether anything is masked at all (else results pass through untouched). */
  get active(): boolean {
    return this.content !== undefined || this.columnRules;
  }

  /** The row masker of a result shape: at once when known, else once its columns are resolved. */
  rowMasker(shape: ResultShape): RowMasker | Promise<RowMasker> {
    return this.#rowMaskers.get(shape) ?? this.#build(shape);
  }

  /** Resolves a shape's row masker ahead of its rows (undefined: already known). */
  prepare(shape: ResultShape): Promise<void> | undefined {
    if (this.#rowMaskers.has(shape)) return undefined;
    return this.#build(shape).then(() => undefined);
  }

  async #build(shape: ResultShape): Promise<RowMasker> {
    const strategies = await Promise.all(shape.fields.map(async (fd) => {
      if (!this.columnRules || fd.tableOid === 0 || fd.attnum <= 0) return undefined;
      if (!this.#catalog) throw new Error('no catalog resolver for column rules');
      const t = await this.#catalog.table(fd.tableOid);
      const column = t?.columns.get(fd.attnum);
      return t && column !== undefined ? this.#rules.columnStrategy(this.#connection, t.schema, t.table, column) : undefined;
    }));
    const m = new RowMasker(planColumns(shape.fields, shape.formats, strategies, this.content !== undefined), this.content, this.#rules.hashKey);
    this.#rowMaskers.set(shape, m);
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

  /** A CopyData frame (COPY … TO STDOUT) with its text masked; the raw frame when there is no content rule. */
  copyData(f: Frame): Buffer {
    if (!this.content) return f.raw;
    const text = f.body.toString('utf8');
    const masked = this.content.mask(text).text;
    return masked === text ? f.raw : new MessageWriter().bytes(Buffer.from(masked, 'utf8')).frame(BE.copyData);
  }

  /** A NotificationResponse with its payload masked; the raw frame when there is no content rule. */
  notification(f: Frame): Buffer {
    if (!this.content) return f.raw;
    const n = parseNotification(f.body);
    return new MessageWriter().int32(n.pid).cstring(n.channel).cstring(this.content.mask(n.payload).text).frame(BE.notification);
  }
}
