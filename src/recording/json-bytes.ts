/**
 * The UTF-8 size of `JSON.stringify(v)` for plain data (strings, numbers, booleans, null, plain
 * arrays and objects; members that JSON drops are skipped), computed without building the text:
 * the unit `recording.max_session_bytes` counts an event's data in (`canonicalData` is
 * `JSON.stringify` for events built with their keys in order). Data paths use it to know, before
 * a statement runs, how much of the session's recording its event will take.
 *
 * @example jsonBytes({ a: 'é"' }) === Buffer.byteLength(JSON.stringify({ a: 'é"' })) // 11
 */
export function jsonBytes(v: unknown): number {
  switch (typeof v) {
    case 'string': return stringBytes(v);
    case 'number': return Number.isFinite(v) ? String(v).length : 4;
    case 'boolean': return v ? 4 : 5;
    case 'undefined': case 'function': case 'symbol': return 0;
    case 'bigint': throw new TypeError('a BigInt is not JSON');
    default: break;
  }
  if (v === null) return 4;
  if (Array.isArray(v)) {
    let n = 2 + Math.max(0, v.length - 1);
    for (const x of v as unknown[]) n += x === undefined || typeof x === 'function' || typeof x === 'symbol' ? 4 : jsonBytes(x);
    return n;
  }
  let n = 2;
  let members = 0;
  for (const k of Object.keys(v as object)) {
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
    n += stringBytes(k) + 1 + jsonBytes(x);
    members++;
  }
  return n + Math.max(0, members - 1);
}

/** Characters JSON.stringify escapes (quote, backslash, C0 controls) or may (surrogates: lone ones become `\uXXXX`). */
// eslint-disable-next-line no-control-regex
const SPECIAL = /["\\\u0000-\u001f\ud800-\udfff]/;

/** UTF-8 bytes of a JSON string literal (quotes included). */
export function stringBytes(s: string): number {
  if (!SPECIAL.test(s)) return Buffer.byteLength(s, 'utf8') + 2;
  let n = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20) n += c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d ? 2 : 6;
    else if (c === 0x22 || c === 0x5c) n += 2;
    else if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) { n += 4; i++; } else n += 6;
    } else if (c >= 0xdc00 && c <= 0xdfff) n += 6;
    else n += 3;
  }
  return n;
}

/**
 * Most characters `JSON.stringify` writes for a finite number: a negative decimal just above 1e-6
 * with 17 significant digits (`-0.0000012345678901234567`, 25; exponent forms such as
 * `-1.7976931348623157e+308` are 24).
 */
const MAX_NUMBER_CHARS = 25;

/**
 * An upper bound of {@link jsonBytes}`(v)`, cheaper to compute (no text is looked at: every
 * UTF-16 unit of a string counts as 6 bytes, its most as JSON, every number as 25): data paths
 * reserve it while a session is far from its limit, and compute the exact size only near it.
 *
 * @example jsonBound({ a: 'é' }) >= jsonBytes({ a: 'é' })
 */
export function jsonBound(v: unknown): number {
  switch (typeof v) {
    case 'string': return 6 * v.length + 2;
    case 'number': return MAX_NUMBER_CHARS;
    case 'boolean': return 5;
    case 'undefined': case 'function': case 'symbol': return 0;
    case 'bigint': throw new TypeError('a BigInt is not JSON');
    default: break;
  }
  if (v === null) return 4;
  if (Array.isArray(v)) {
    let n = 2 + v.length;
    for (const x of v as unknown[]) n += x === undefined || typeof x === 'function' || typeof x === 'symbol' ? 4 : jsonBound(x);
    return n;
  }
  let n = 2;
  for (const k of Object.keys(v as object)) {
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
    n += 6 * k.length + 4 + jsonBound(x);
  }
  return n;
}
