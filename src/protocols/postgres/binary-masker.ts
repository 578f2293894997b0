import { BinaryFormatError, numberText, renderText } from './binary-scalars.ts';
import { maskJson } from './json-masking.ts';
import type { TypeKind } from './pg-types.ts';
import type { ErrorCode } from '../../kernel/errors.ts';

/** A text-format array of numbers: each element that carries an entity becomes NULL (the array stays valid). */
export function maskNumberArrayText(text: string, scan: (t: string) => string): string {
  return text.replace(/[^{},\s]+/g, (el) => (el !== 'NULL' && numberCarries(el, scan) ? 'NULL' : el));
}

/** What masking one value needs from its surroundings. */
export interface ValueContext {
  /** Content masking of one text: the same string when nothing was found. */
  readonly scan: (text: string) => string;
  /** The kind of a type OID, or undefined when the catalog has not been asked yet. */
  readonly kindOf: (oid: number) => TypeKind | undefined;
  /**
   * True when only the built-in detectors run: then an integer of at most 8 digits is proven
   * unable to carry an entity (a card has 12+ digits, an SSN 9, a phone or IP needs separators,
   * every other entity letters) and is not scanned. A user pattern may match anything: not set.
   */
  readonly builtinOnly?: boolean;
}

/** Nested types must be resolved through the catalog first; the caller resolves them and retries. */
export class TypesNeeded extends Error {
  override readonly name = 'TypesNeeded';
  /** The registry code, should it ever escape the retry (the rows could not be masked). */
  readonly code = 'masking_failed' satisfies ErrorCode;
  readonly oids: readonly number[];
  constructor(oids: readonly number[]) {
    super(`types ${oids.join(', ')} must be looked up`);
    this.oids = oids;
  }
}

/** A value the masker cannot read (type without a known binary layout). */
export class UnreadableValue extends Error {
  override readonly name = 'UnreadableValue';
  /** The registry code (the value cannot be read, so not masked). */
  readonly code = 'uninspectable_media' satisfies ErrorCode;
}

/** Deepest nesting of arrays/records/ranges read (PostgreSQL's own limits are far lower in practice). */
const MAX_DEPTH = 32;
/** Most dimensions of an array (PostgreSQL: 6). */
const MAX_DIMS = 6;

function utf8Exact(v: Buffer): string | undefined {
  const s = v.toString('utf8');
  return Buffer.byteLength(s, 'utf8') === v.length && Buffer.from(s, 'utf8').equals(v) ? s : undefined;
}

/**
 * Masks raw bytes (bytea): scanned as UTF-8 when they are valid UTF-8, else as Latin-1 (every
 * byte one character, so ASCII entities are seen whatever surrounds them); re-encoded the same way.
 */
export function maskBytes(v: Buffer, scan: (t: string) => string): Buffer {
  const utf = utf8Exact(v);
  const enc: BufferEncoding = utf === undefined ? 'latin1' : 'utf8';
  const text = utf ?? v.toString('latin1');
  const masked = scan(text);
  return masked === text ? v : Buffer.from(masked, enc);
}

/** An integer of at most 8 digits (see {@link ValueContext.builtinOnly}). */
export const SHORT_INTEGER = /^-?[0-9]{1,8}$/;

/** Digit runs long enough to be a numeric entity alone (an SSN has 9 digits, a card 13–19). */
const DIGIT_RUN = /[0-9]{9,}/g;

/**
 * A scan that also sees each long digit run alone: detectors rightly refuse digits glued to a
 * `.` or `,` (`1,4111111111111111` in an array literal, `4111111111111111.00` as a numeric), but
 * a reader of the value sees the number. The text is scanned first (context kept), then each
 * remaining run of 9+ digits on its own.
 *
 * @example
 *   deepScan((t) => masker.mask(t).text)('{1,4111111111111111}') // '{1,[CREDIT_CARD]}'
 */
export function deepScan(scan: (t: string) => string): (t: string) => string {
  return (t) => {
    const s = scan(t);
    DIGIT_RUN.lastIndex = 0;
    return DIGIT_RUN.test(s) ? s.replace(DIGIT_RUN, (run) => scan(run)) : s;
  };
}

/**
 * True when a number's text carries an entity: the text as printed, and its integer and fraction
 * digits alone (`4111111111111111.00` is a card number to a reader, not to a detector that
 * wants the digits to end there).
 */
export function numberCarries(text: string, scan: (t: string) => string): boolean {
  const dot = text.indexOf('.');
  const probe = dot < 0 ? text : `${text} ${text.slice(0, dot)} ${text.slice(dot + 1)}`;
  return scan(probe) !== probe;
}

/** `\x` hex runs (text-format bytea, also inside array and record literals, with doubled backslashes). */
const HEX_RUN = /\\+x((?:[0-9a-fA-F]{2})+)/g;

/**
 * Masks a text-format value: the text itself, and the bytes of every hex-encoded `bytea` inside it
 * (a bytea prints as `\x…`, which no detector can read), re-encoded as hex.
 */
export function maskTextValue(text: string, scan: (t: string) => string): string {
  let t = text;
  if (t.includes('\\x')) {
    t = t.replace(HEX_RUN, (all: string, hexDigits: string) => {
      const bytes = Buffer.from(hexDigits, 'hex');
      const masked = maskBytes(bytes, scan);
      return masked === bytes ? all : `${all.slice(0, all.length - hexDigits.length)}${masked.toString('hex')}`;
    });
  }
  return scan(t);
}

/**
 * Masks one binary-format value of the given kind, re-encoded in the same binary format.
 * Returns `v` itself when unchanged and `null` when the value must be sent as SQL NULL (masking
 * found something in a type that cannot carry a replacement text, e.g. a card number in an
 * `int8`). Throws {@link TypesNeeded} (resolve and retry), {@link UnreadableValue} or
 * `BinaryFormatError` — never returns bytes it did not read.
 *
 * @example
 *   maskBinaryValue({ kind: 'text' }, Buffer.from('bob@example.com'), ctx) // Buffer '[EMAIL]'
 */
export function maskBinaryValue(kind: TypeKind, v: Buffer, ctx: ValueContext, depth = 0): Buffer | null {
  if (depth > MAX_DEPTH) throw new UnreadableValue('value nested too deeply');
  switch (kind.kind) {
    case 'inert': return v;
    case 'unknown': throw new UnreadableValue('type without a known binary format');
    case 'text': {
      const s = v.toString('utf8');
      const m = kind.json === true ? maskJson(s, ctx.scan) : ctx.scan(s);
      return m === s ? v : Buffer.from(m, 'utf8');
    }
    case 'versioned': {
      if (v[0] !== 1) throw new BinaryFormatError('unsupported jsonb/jsonpath version');
      const s = v.toString('utf8', 1);
      const m = kind.json === true ? maskJson(s, ctx.scan) : ctx.scan(s);
      return m === s ? v : Buffer.concat([v.subarray(0, 1), Buffer.from(m, 'utf8')]);
    }
    case 'bytea': return maskBytes(v, ctx.scan);
    case 'number': {
      const text = numberText(kind.codec, v);
      return !(ctx.builtinOnly === true && SHORT_INTEGER.test(text)) && numberCarries(text, ctx.scan) ? null : v;
    }
    case 'render': { const s = renderText(kind.codec, v); return ctx.scan(s) === s ? v : null; }
    case 'array': return maskArray(v, ctx, depth);
    case 'record': return maskRecord(v, ctx, depth);
    case 'range': return maskRange(kind.subtype, v, ctx, depth);
    case 'hstore': return maskHstore(v, ctx);
    case 'tsvector': return maskTsvector(v, ctx);
  }
}

function kindOrNeed(ctx: ValueContext, oids: readonly number[]): TypeKind[] {
  const missing = oids.filter((o) => ctx.kindOf(o) === undefined);
  if (missing.length > 0) throw new TypesNeeded([...new Set(missing)]);
  return oids.map((o) => ctx.kindOf(o)!);
}

/** Reads `int32 length, bytes` items; -1 is NULL. Bounds-checked. */
class Cursor {
  pos = 0;
  readonly v: Buffer;
  constructor(v: Buffer) { this.v = v; }
  int32(): number {
    if (this.pos + 4 > this.v.length) throw new BinaryFormatError('value truncated');
    const n = this.v.readInt32BE(this.pos);
    this.pos += 4;
    return n;
  }
  item(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    if (len < 0 || this.pos + len > this.v.length) throw new BinaryFormatError('element length out of bounds');
    const b = this.v.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }
  end(): void {
    if (this.pos !== this.v.length) throw new BinaryFormatError('trailing bytes in value');
  }
}

function pushItem(parts: Buffer[], b: Buffer | null): void {
  const len = Buffer.alloc(4);
  len.writeInt32BE(b === null ? -1 : b.length);
  parts.push(len);
  if (b !== null) parts.push(b);
}

function maskArray(v: Buffer, ctx: ValueContext, depth: number): Buffer | null {
  const c = new Cursor(v);
  const ndim = c.int32();
  const flags = c.int32();
  const elem = c.int32() >>> 0;
  if (ndim < 0 || ndim > MAX_DIMS || (flags !== 0 && flags !== 1)) throw new BinaryFormatError('malformed array header');
  let count = ndim === 0 ? 0 : 1;
  for (let d = 0; d < ndim; d++) {
    const size = c.int32();
    c.int32(); // lower bound
    if (size < 0) throw new BinaryFormatError('malformed array dimension');
    count *= size;
    // Every element takes at least its 4-byte length: bounds the loop by the value's size.
    if (count > (v.length - c.pos) / 4 + 1) throw new BinaryFormatError('array larger than its value');
  }
  const [kind] = kindOrNeed(ctx, [elem]);
  if (kind!.kind === 'inert') return v;
  const headerEnd = c.pos;
  const out: (Buffer | null)[] = [];
  let changed = false;
  for (let i = 0; i < count; i++) {
    const e = c.item();
    const m = e === null ? null : maskBinaryValue(kind!, e, ctx, depth + 1);
    if (m !== e) changed = true;
    out.push(m);
  }
  c.end();
  if (!changed) return v;
  const header = Buffer.from(v.subarray(0, headerEnd));
  if (out.includes(null)) header.writeInt32BE(1, 4);
  const parts: Buffer[] = [header];
  for (const e of out) pushItem(parts, e);
  return Buffer.concat(parts);
}

function maskRecord(v: Buffer, ctx: ValueContext, depth: number): Buffer | null {
  const c = new Cursor(v);
  const n = c.int32();
  if (n < 0 || n > (v.length - 4) / 8) throw new BinaryFormatError('malformed record header');
  const fields: { oid: number; value: Buffer | null }[] = [];
  for (let i = 0; i < n; i++) {
    const oid = c.int32() >>> 0;
    fields.push({ oid, value: c.item() });
  }
  c.end();
  const kinds = kindOrNeed(ctx, fields.map((f) => f.oid));
  let changed = false;
  const out = fields.map((f, i) => {
    const m = f.value === null ? null : maskBinaryValue(kinds[i]!, f.value, ctx, depth + 1);
    if (m !== f.value) changed = true;
    return m;
  });
  if (!changed) return v;
  const parts: Buffer[] = [v.subarray(0, 4)];
  out.forEach((m, i) => {
    const oid = Buffer.alloc(4);
    oid.writeUInt32BE(fields[i]!.oid);
    parts.push(oid);
    pushItem(parts, m);
  });
  return Buffer.concat(parts);
}

function maskRange(subtype: number, v: Buffer, ctx: ValueContext, depth: number): Buffer | null {
  if (v.length < 1) throw new BinaryFormatError('empty range value');
  const flags = v[0]!;
  const [kind] = kindOrNeed(ctx, [subtype]);
  const c = new Cursor(v);
  c.pos = 1;
  // RANGE_EMPTY 0x01, LB_INF 0x08, UB_INF 0x10, LB_NULL 0x20, UB_NULL 0x40: bounds present otherwise.
  const bounds: (Buffer | null)[] = [];
  if ((flags & 0x01) === 0) {
    if ((flags & 0x28) === 0) bounds.push(c.item());
    if ((flags & 0x50) === 0) bounds.push(c.item());
  }
  c.end();
  for (const b of bounds) {
    if (b === null) throw new BinaryFormatError('malformed range bound');
    if (maskBinaryValue(kind!, b, ctx, depth + 1) !== b) return null;
  }
  return v;
}

function maskHstore(v: Buffer, ctx: ValueContext): Buffer | null {
  const c = new Cursor(v);
  const n = c.int32();
  if (n < 0 || n > (v.length - 4) / 8) throw new BinaryFormatError('malformed hstore header');
  const parts: Buffer[] = [v.subarray(0, 4)];
  let changed = false;
  for (let i = 0; i < 2 * n; i++) {
    const item = c.item();
    if (item === null && i % 2 === 0) throw new BinaryFormatError('hstore key is NULL');
    const m = item === null ? null : maskBinaryValue({ kind: 'text' }, item, ctx);
    if (m !== item) changed = true;
    pushItem(parts, m);
  }
  c.end();
  return changed ? Buffer.concat(parts) : v;
}

function maskTsvector(v: Buffer, ctx: ValueContext): Buffer | null {
  const c = new Cursor(v);
  const n = c.int32();
  if (n < 0 || n > v.length) throw new BinaryFormatError('malformed tsvector header');
  const lexemes: string[] = [];
  for (let i = 0; i < n; i++) {
    const end = v.indexOf(0, c.pos);
    if (end < 0 || end + 3 > v.length) throw new BinaryFormatError('malformed tsvector lexeme');
    const lexeme = v.toString('utf8', c.pos, end);
    const npos = v.readUInt16BE(end + 1);
    c.pos = end + 3 + 2 * npos;
    if (c.pos > v.length) throw new BinaryFormatError('malformed tsvector positions');
    lexemes.push(lexeme);
  }
  c.end();
  // Each lexeme alone, and all of them in their (sorted) order: an entity may span lexemes.
  const all = lexemes.join(' ');
  return ctx.scan(all) !== all || lexemes.some((l) => ctx.scan(l) !== l) ? null : v;
}
