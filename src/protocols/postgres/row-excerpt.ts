import { parseDataRow, type FieldDescription } from './backend-messages.ts';

/** Bounds of what one result contributes to the recording. */
export interface ExcerptLimits {
  /** Rows kept per result (default 20). */
  readonly rows: number;
  /** Characters kept per result, all values together (default 8 KiB). */
  readonly chars: number;
  /** Characters kept per value (default 256). */
  readonly valueChars: number;
}

/** What a result's `response` event carries: the column names and the first rows, as sent. */
export interface Excerpt {
  readonly columns?: string[];
  readonly sample: (string | null)[][];
  /** True when rows or characters past the limits were left out. */
  readonly sample_truncated: boolean;
}

const DEFAULTS: ExcerptLimits = { rows: 20, chars: 8 * 1024, valueChars: 256 };

/**
 * Keeps the first rows of each result exactly as the client received them (the DataRow bodies
 * after masking), bounded, for the session recording: replay shows what an agent was given, not
 * only how many rows. Text values are kept as text; a value that is not printable UTF-8 (binary
 * format) is kept as `[N bytes]`. `mask` runs over every kept value as a second line of defence
 * (the rows are already masked by the row masker when rules apply).
 *
 * @example
 *   excerpt.columns(fields); excerpt.add(maskedRowBody); … record('response', { tag, ...excerpt.take() })
 */
export class RowExcerpt {
  readonly #limits: ExcerptLimits;
  readonly #mask: (s: string) => string;
  #columns: string[] | undefined;
  #rows: (string | null)[][] = [];
  #chars = 0;
  #truncated = false;

  constructor(mask: (s: string) => string, limits: Partial<ExcerptLimits> = {}) {
    this.#mask = mask;
    this.#limits = { ...DEFAULTS, ...limits };
  }

  /** The result's RowDescription (null: NoData). */
  columns(fields: readonly FieldDescription[] | null): void {
    this.#columns = fields?.map((f) => f.name.slice(0, this.#limits.valueChars));
  }

  /** One DataRow body as sent to the client; `fields` names its columns when known. */
  add(body: Buffer, fields?: readonly FieldDescription[]): void {
    if (fields && this.#rows.length === 0) this.columns(fields);
    if (this.#truncated) return;
    if (this.#rows.length >= this.#limits.rows || this.#chars >= this.#limits.chars) { this.#truncated = true; return; }
    const row = parseDataRow(body).map((v) => (v === null ? null : this.#value(v)));
    for (const v of row) this.#chars += v?.length ?? 0;
    this.#rows.push(row);
  }

  /** The excerpt of the result just completed (then starts over), or undefined when it had no rows and no columns. */
  take(): Excerpt | undefined {
    const out = this.#rows.length === 0 && this.#columns === undefined
      ? undefined
      : { ...(this.#columns ? { columns: this.#columns } : {}), sample: this.#rows, sample_truncated: this.#truncated };
    this.#columns = undefined;
    this.#rows = [];
    this.#chars = 0;
    this.#truncated = false;
    return out;
  }

  #value(v: Buffer): string {
    const text = v.toString('utf8');
    // eslint-disable-next-line no-control-regex
    if (text.includes('\ufffd') || /[\u0000-\u0008\u000e-\u001f]/.test(text)) return `[${v.length} bytes]`;
    // Masked whole, then cut: a cut first could split an entity so that no detector sees it.
    const masked = this.#mask(text);
    return masked.length > this.#limits.valueChars ? `${masked.slice(0, this.#limits.valueChars)}…` : masked;
  }
}
