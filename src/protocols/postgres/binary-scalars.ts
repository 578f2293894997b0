import type { NumberCodec, RenderCodec } from './pg-types.ts';
import type { ErrorCode } from '../../kernel/errors.ts';

/** A binary value whose bytes do not fit its type's layout. */
export class BinaryFormatError extends Error {
  override readonly name = 'BinaryFormatError';
  /** The registry code (the value cannot be read, so not masked). */
  readonly code = 'uninspectable_media' satisfies ErrorCode;
}

function need(v: Buffer, n: number, what: string): void {
  if (v.length !== n) throw new BinaryFormatError(`${what} value of ${v.length} bytes (expected ${n})`);
}

/** A float as the digits a reader may see: integral values in full (no exponent), others as JS prints them. */
function floatText(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return BigInt(n).toString();
  return String(n);
}

/**
 * The decimal text of a binary `numeric`: int16 ndigits, int16 weight, uint16 sign, int16 dscale,
 * then ndigits base-10000 digits. Bounded by the value's own length.
 */
function numericText(v: Buffer): string {
  if (v.length < 8) throw new BinaryFormatError('numeric value too short');
  const ndigits = v.readInt16BE(0);
  const weight = v.readInt16BE(2);
  const sign = v.readUInt16BE(4);
  const dscale = v.readInt16BE(6);
  if (ndigits < 0 || v.length !== 8 + 2 * ndigits || dscale < 0) throw new BinaryFormatError('malformed numeric value');
  if (sign === 0xc000) return 'NaN';
  if (sign === 0xd000) return 'Infinity';
  if (sign === 0xf000) return '-Infinity';
  if (sign !== 0 && sign !== 0x4000) throw new BinaryFormatError('malformed numeric sign');
  const digits: number[] = [];
  for (let i = 0; i < ndigits; i++) {
    const d = v.readInt16BE(8 + 2 * i);
    if (d < 0 || d > 9999) throw new BinaryFormatError('malformed numeric digit');
    digits.push(d);
  }
  // Integer part: groups 0..weight; fraction: groups weight+1.. (zero-padded to 4 digits each).
  let int = '';
  for (let g = 0; g <= weight; g++) int += g === 0 ? String(digits[g] ?? 0) : String(digits[g] ?? 0).padStart(4, '0');
  if (int === '') int = '0';
  let frac = '';
  for (let g = weight + 1; frac.length < dscale; g++) frac += g < 0 ? '0000' : String(digits[g] ?? 0).padStart(4, '0');
  frac = frac.slice(0, dscale);
  return `${sign === 0x4000 ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

/** The decimal text of a binary number of the given layout. Throws {@link BinaryFormatError}. */
export function numberText(codec: NumberCodec, v: Buffer): string {
  switch (codec) {
    case 'int4': need(v, 4, 'int4'); return String(v.readInt32BE(0));
    case 'uint32': need(v, 4, 'oid'); return String(v.readUInt32BE(0));
    case 'int8': need(v, 8, 'int8'); return v.readBigInt64BE(0).toString();
    case 'uint64': need(v, 8, 'xid8'); return v.readBigUInt64BE(0).toString();
    case 'float4': need(v, 4, 'float4'); return floatText(v.readFloatBE(0));
    case 'float8': need(v, 8, 'float8'); return floatText(v.readDoubleBE(0));
    case 'money': {
      need(v, 8, 'money');
      const cents = v.readBigInt64BE(0);
      const abs = cents < 0n ? -cents : cents;
      // Both renderings: in cents (how a driver may show it) and with the decimal point.
      return `${cents < 0n ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')} ${cents.toString()}`;
    }
    case 'numeric': return numericText(v);
  }
}

function hex(v: Buffer, from: number, to: number): string {
  return v.subarray(from, to).toString('hex');
}

/** The text of a fixed-layout binary value (as PostgreSQL prints it, near enough for detection). */
export function renderText(codec: RenderCodec, v: Buffer): string {
  switch (codec) {
    case 'uuid':
      need(v, 16, 'uuid');
      return `${hex(v, 0, 4)}-${hex(v, 4, 6)}-${hex(v, 6, 8)}-${hex(v, 8, 10)}-${hex(v, 10, 16)}`;
    case 'inet': {
      if (v.length < 4) throw new BinaryFormatError('inet value too short');
      const family = v[0]!;
      const bits = v[1]!;
      const n = v[3]!;
      if (v.length !== 4 + n || (family === 2 && n !== 4) || (family === 3 && n !== 16) || (family !== 2 && family !== 3)) throw new BinaryFormatError('malformed inet value');
      const addr = family === 2
        ? [...v.subarray(4)].join('.')
        : Array.from({ length: 8 }, (_, i) => v.readUInt16BE(4 + 2 * i).toString(16)).join(':');
      return `${addr}/${bits}`;
    }
    case 'macaddr':
      if (v.length !== 6 && v.length !== 8) throw new BinaryFormatError('malformed macaddr value');
      return [...v].map((b) => b.toString(16).padStart(2, '0')).join(':');
    case 'bits': {
      if (v.length < 4) throw new BinaryFormatError('bit value too short');
      const len = v.readInt32BE(0);
      if (len < 0 || Math.ceil(len / 8) !== v.length - 4) throw new BinaryFormatError('malformed bit value');
      let s = '';
      for (let i = 0; i < len; i++) s += (v[4 + (i >> 3)]! >> (7 - (i & 7))) & 1 ? '1' : '0';
      return s;
    }
    case 'tid':
      need(v, 6, 'tid');
      return `(${v.readUInt32BE(0)},${v.readUInt16BE(4)})`;
    case 'lsn':
      need(v, 8, 'pg_lsn');
      return `${v.readUInt32BE(0).toString(16).toUpperCase()}/${v.readUInt32BE(4).toString(16).toUpperCase()}`;
  }
}
