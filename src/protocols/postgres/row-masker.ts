import { createHmac } from 'node:crypto';
import { defaultDetectors, type TextMasker } from '../../masking/text-masker.ts';
import type { Strategy } from '../../masking/strategies.ts';
import { parseDataRow, type FieldDescription } from './backend-messages.ts';
import { deepScan, maskBinaryValue, maskNumberArrayText, maskTextValue, numberCarries, SHORT_INTEGER, TypesNeeded, UnreadableValue, type ValueContext } from './binary-masker.ts';
import { BinaryFormatError } from './binary-scalars.ts';
import { maskJson } from './json-masking.ts';
import { builtinKind, NUMBER_ARRAYS, type TypeKind } from './pg-types.ts';
import { MessageWriter } from './writer.ts';
import type { ErrorCode } from '../../kernel/errors.ts';

/** What to do with one result column. */
export interface ColumnPlan {
  /** The column's name (for error messages; never a value). */
  readonly name: string;
  /** The column's type OID. */
  readonly typeOid: number;
  /** Column rule strategy (from `schema.table.column`), if any. */
  readonly strategy: Strategy | undefined;
  /** 0 text, 1 binary: the format the rows actually carry. */
  readonly format: number;
  /** How a binary value is read (see {@link TypeKind}); for text format, whether the type is inert. */
  readonly kind: TypeKind;
  /** Run content detectors on it. */
  readonly scan: boolean;
}

/** Resolves a type OID to its kind: builtins without asking; undefined = not known (yet). */
export type KindOf = (oid: number) => TypeKind | undefined;

const UNKNOWN: TypeKind = { kind: 'unknown' };

/**
 * Plans the columns of a result: `formats` are the effective format codes (RowDescription's own
 * after Describe portal or in a simple query). Content detectors run on every column whose type is
 * not proven unable to carry a detectable value ({@link TypeKind} `inert`): a text-format `int4`
 * can be a 9-digit SSN, an `int8` or `numeric` a card number, a `bytea` anything.
 */
export function planColumns(fields: readonly FieldDescription[], formats: readonly number[], strategies: readonly (Strategy | undefined)[], scanContent: boolean, kindOf: KindOf = builtinKind): ColumnPlan[] {
  return fields.map((f, i) => {
    const format = formats.length === 0 ? f.format : formats.length === 1 ? formats[0]! : (formats[i] ?? 0);
    const kind = kindOf(f.typeOid) ?? UNKNOWN;
    const scan = scanContent && kind.kind !== 'inert';
    return { name: f.name, typeOid: f.typeOid, strategy: strategies[i], format, kind, scan };
  });
}

/** A column value could not be masked: the statement fails (SQLSTATE 0A000); never names a value. */
export class ColumnMaskError extends Error {
  override readonly name = 'ColumnMaskError';
  /** The registry code (its SQLSTATE is 0A000: the value cannot be read in this format, so not masked). */
  readonly code = 'uninspectable_media' satisfies ErrorCode;
  readonly column: string;
  constructor(column: string, typeOid: number, why: string) {
    super(`Gatehouse cannot mask column "${column}" (type OID ${typeOid}) in binary result format (${why}); request the text result format for this column`);
    this.column = column;
  }
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
 * replace the whole value; content detectors replace what they find, in text and in binary
 * format (binary values are decoded by type, masked, and re-encoded in the same binary format;
 * see `binary-masker.ts`). A binary value that a rule or a finding changes but whose type cannot
 * carry a replacement text (a number, a uuid …) is sent as NULL. A value that cannot be read
 * where masking applies throws {@link ColumnMaskError}; nested types not known yet throw
 * `TypesNeeded` (the caller resolves them and calls `mask` again). Never passes an unread value.
 *
 * @example
 *   const m = new RowMasker(planColumns(fields, [], strategies, true), textMasker, hashKey);
 *   client.write(m.mask(frame.body) ?? frame.raw);
 */
export class RowMasker {
  readonly #plans: readonly ColumnPlan[];
  readonly #hashKey: Buffer;
  /** Per column: content masking with the column's name as detector context (`ssn`: a bare 9-digit number is a US_SSN). */
  readonly #ctxs: readonly ValueContext[];
  /** Values changed so far (for recording). */
  masked = 0;

  constructor(plans: readonly ColumnPlan[], masker: TextMasker | undefined, hashKey: Buffer, kindOf: KindOf = builtinKind) {
    this.#plans = plans;
    this.#hashKey = hashKey;
    const none = (t: string): string => t;
    const builtins = new Set(defaultDetectors());
    const builtinOnly = masker !== undefined && masker.detectors.every((d) => builtins.has(d));
    this.#ctxs = plans.map((p) => ({ scan: masker ? deepScan((t: string): string => masker.mask(t, { label: p.name }).text) : none, kindOf, builtinOnly }));
  }

  /** True when some column may change. */
  get active(): boolean {
    return this.#plans.some((p) => p.strategy !== undefined || p.scan);
  }

  /** Number of columns a DataRow of this result must have. */
  get width(): number {
    return this.#plans.length;
  }

  /** The rebuilt DataRow message, or undefined when the row is unchanged. Throws on a malformed row. */
  mask(body: Buffer): Buffer | undefined {
    const values = parseDataRow(body);
    if (values.length !== this.#plans.length) throw new RowShapeError(`a row has ${values.length} columns where the result described ${this.#plans.length}`);
    let changed = false;
    const out: (Buffer | null)[] = values.map((v, i) => {
      const p = this.#plans[i]!;
      if (v === null) return null;
      const next = this.#maskValue(p, v, this.#ctxs[i]!);
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

  #maskValue(p: ColumnPlan, v: Buffer, ctx: ValueContext): Buffer | null {
    if (p.strategy === undefined && !p.scan) return v;
    if (p.format === 0) {
      const text = v.toString('utf8');
      // A number that carries an entity is sent as NULL, as in binary (a replacement text is no number).
      if (p.strategy === undefined && p.kind.kind === 'number') {
        return !(ctx.builtinOnly === true && SHORT_INTEGER.test(text)) && numberCarries(text, ctx.scan) ? null : v;
      }
      const masked = p.strategy !== undefined ? maskColumnValue(p.strategy, text, this.#hashKey)
        : 'json' in p.kind && p.kind.json ? maskJson(text, ctx.scan)
            : NUMBER_ARRAYS.has(p.typeOid) ? maskNumberArrayText(text, ctx.scan)
              : maskTextValue(text, ctx.scan);
      return masked === text ? v : Buffer.from(masked, 'utf8');
    }
    if (p.format !== 1) throw new ColumnMaskError(p.name, p.typeOid, `unknown format code ${p.format}`);
    if (p.strategy !== undefined) return this.#ruleBinary(p, v);
    try {
      return maskBinaryValue(p.kind, v, ctx);
    } catch (e) {
      if (e instanceof TypesNeeded) throw e;
      throw new ColumnMaskError(p.name, p.typeOid, e instanceof UnreadableValue || e instanceof BinaryFormatError ? e.message : 'unreadable value');
    }
  }

  /** A column rule on a binary value: text-like types get the replacement text, others NULL. */
  #ruleBinary(p: ColumnPlan, v: Buffer): Buffer | null {
    const k = p.kind.kind;
    if (k !== 'text' && k !== 'versioned' && k !== 'bytea') return null;
    const versioned = k === 'versioned';
    const masked = Buffer.from(maskColumnValue(p.strategy!, v.toString('utf8', versioned ? 1 : 0), this.#hashKey), 'utf8');
    return versioned ? Buffer.concat([Buffer.from([1]), masked]) : masked;
  }
}

/** A DataRow does not fit the shape of its result: the statement fails. */
export class RowShapeError extends Error {
  override readonly name = 'RowShapeError';
  /** The registry code (the row cannot be masked; XX000). */
  readonly code = 'masking_failed' satisfies ErrorCode;
}
