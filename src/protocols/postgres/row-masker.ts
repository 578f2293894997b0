import { createHmac } from 'node:crypto';
import type { TextMasker } from '../../masking/text-masker.ts';
import type { Strategy } from '../../masking/strategies.ts';
import { parseDataRow, type FieldDescription } from './backend-messages.ts';
import { MessageWriter } from './writer.ts';

/** Types whose binary format is their text (UTF-8): text, varchar, bpchar, name, json, unknown, xml. */
const BINARY_TEXT_TYPES: ReadonlySet<number> = new Set([25, 1043, 1042, 19, 114, 705, 142]);
/** jsonb: binary format is a version byte (1) then the text. */
const JSONB = 3802;
/** Text-format types that cannot hold a detectable value; content detectors skip them. */
const UNSCANNED_TYPES: ReadonlySet<number> = new Set([16, 21, 23, 26, 1082, 1083, 1114, 1184, 1186, 2950, 700, 701]);

/** What to do with one result column. */
export interface ColumnPlan {
  /** Column rule strategy (from `schema.table.column`), if any. */
  readonly strategy: Strategy | undefined;
  /** How the value is read as text: 'text', 'jsonb' (skip the version byte) or 'none' (binary non-text). */
  readonly encoding: 'text' | 'jsonb' | 'none';
  /** Run content detectors on it. */
  readonly scan: boolean;
}

/**
 * Plans the columns of a result: `formats` are the effective format codes (RowDescription's own
 * after Describe portal or in a simple query; Bind's result formats after Describe statement).
 */
export function planColumns(fields: readonly FieldDescription[], formats: readonly number[], strategies: readonly (Strategy | undefined)[], scanContent: boolean): ColumnPlan[] {
  return fields.map((f, i) => {
    const format = formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0);
    const encoding = format === 0 ? 'text' : BINARY_TEXT_TYPES.has(f.typeOid) ? 'text' : f.typeOid === JSONB ? 'jsonb' : 'none';
    const scan = scanContent && encoding !== 'none' && !(format === 0 && UNSCANNED_TYPES.has(f.typeOid));
    return { strategy: strategies[i], encoding, scan };
  });
}

/** The replacement for a whole column value under a column rule. */
export function maskColumnValue(strategy: Strategy, value: string, hashKey: Buffer): string {
  switch (strategy) {
    case 'partial': {
      const alnum = value.replace(/[^A-Za-z0-9]/g, '');
      return alnum.length < 8 ? '[REDACTED]' : `****${alnum.slice(-4)}`;
    }
    case 'hash':
      return `[HASH:${createHmac('sha256', hashKey).update(`COLUMN\u0000${value}`).digest('hex').slice(0, 12)}]`;
    default:
      return '[REDACTED]';
  }
}

/**
 * Masks DataRow messages of one result, row by row (nothing is held between rows). Column rules
 * replace the whole value; content detectors replace what they find. A column rule on a binary
 * column that is not text-like cannot be rewritten safely: the value is sent as NULL (fail closed).
 *
 * @example
 *   const m = new RowMasker(planColumns(fields, [], strategies, true), textMasker, hashKey);
 *   client.write(m.mask(frame.body) ?? frame.raw);
 */
export class RowMasker {
  readonly #plans: readonly ColumnPlan[];
  readonly #masker: TextMasker | undefined;
  readonly #hashKey: Buffer;
  /** Values changed so far (for recording). */
  masked = 0;

  constructor(plans: readonly ColumnPlan[], masker: TextMasker | undefined, hashKey: Buffer) {
    this.#plans = plans;
    this.#masker = masker;
    this.#hashKey = hashKey;
  }

  /** True when some column may change. */
  get active(): boolean {
    return this.#plans.some((p) => p.strategy !== undefined || p.scan);
  }

  /** The rebuilt DataRow message, or undefined when the row is unchanged. Throws on a malformed row. */
  mask(body: Buffer): Buffer | undefined {
    const values = parseDataRow(body);
    if (values.length !== this.#plans.length) throw new Error(`DataRow has ${values.length} columns, RowDescription ${this.#plans.length}`);
    let changed = false;
    const out: (Buffer | null)[] = values.map((v, i) => {
      const p = this.#plans[i]!;
      if (v === null) return null;
      const next = this.#maskValue(p, v);
      if (next !== v) { changed = true; this.masked++; }
      return next;
    });
    if (!changed) return undefined;
    const w = new MessageWriter(body.length + 64).int16(out.length);
    for (const v of out) {
      if (v === null) w.int32(-1);
      else w.int32(v.length).bytes(v);
    }
    return w.frame(0x44);
  }

  #maskValue(p: ColumnPlan, v: Buffer): Buffer | null {
    if (p.strategy === undefined && !p.scan) return v;
    if (p.encoding === 'none') return p.strategy === undefined ? v : null;
    const prefix = p.encoding === 'jsonb' ? v.subarray(0, 1) : undefined;
    const text = (prefix ? v.subarray(1) : v).toString('utf8');
    let masked = text;
    if (p.strategy !== undefined) masked = maskColumnValue(p.strategy, text, this.#hashKey);
    else if (p.scan && this.#masker) masked = this.#masker.mask(text).text;
    if (masked === text) return v;
    const body = Buffer.from(masked, 'utf8');
    return prefix ? Buffer.concat([prefix, body]) : body;
  }
}
