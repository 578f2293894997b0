import { GatehouseError } from '../kernel/errors.ts';

/**
 * Normalizes the path of a proxied request to the one form that policy decides on and that is
 * forwarded, so that no spelling of a path routes differently upstream from what was decided:
 *
 * - percent-encoded **unreserved** characters (`ALPHA DIGIT - . _ ~`) are decoded
 *   (RFC 3986 §6.2.2.2): `/%61dmin` → `/admin`;
 * - every other percent-encoding is kept, with upper-case hex digits (§6.2.2.1): `%3a` → `%3A`;
 * - then dot segments (`.`, `..`, also from `%2e`) and empty segments (`//`) are refused, as the
 *   target parser always did.
 *
 * Refused as ambiguous (400 `bad_request`), because upstream servers disagree on them: encoded
 * `/` (`%2F`) or `\` (`%5C`), `%00` and every encoded control character, a double encoding
 * (`%25` followed by two hex digits, which a server decoding twice reads as another character),
 * a `%` not followed by two hex digits, encoded bytes that are not valid UTF-8 (overlong forms,
 * surrogates, truncated sequences), raw non-ASCII bytes, backslashes, control characters,
 * spaces, `;` (path parameters, which some servers strip before routing:
 * `/;x/admin` is `/admin` there), and a raw `#` (a fragment: servers that parse the request
 * target as a URL route `/admin#x` as `/admin`, while policy would see `/admin#x`; `%23` is kept).
 *
 * Case is kept: paths are case-sensitive (RFC 3986 §6.2.2.1); policy sees `context.http.path`
 * as forwarded and `context.http.path_lower` for case-insensitive rules.
 *
 * @example normalizePath('%61dmin/x%3a1') === 'admin/x%3A1'
 */
export function normalizePath(rest: string): string {
  let out = '';
  let i = 0;
  while (i < rest.length) {
    const c = rest.charCodeAt(i);
    if (c !== 0x25) {
      if (c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x3b || c === 0x23) throw notAllowed();
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    const b = hexByte(rest, i);
    if (b < 0x80) {
      if (isUnreserved(b)) out += String.fromCharCode(b);
      else if (b < 0x20 || b === 0x7f || b === 0x2f || b === 0x5c) throw notAllowed();
      else out += `%${hex(b)}`;
      i += 3;
      continue;
    }
    // A run of encoded non-ASCII bytes: must be well-formed UTF-8; kept encoded.
    const bytes: number[] = [];
    while (i < rest.length && rest.charCodeAt(i) === 0x25) {
      const v = hexByte(rest, i);
      if (v < 0x80) break;
      bytes.push(v);
      i += 3;
    }
    if (!isWellFormedUtf8(bytes)) throw new GatehouseError('bad_request', 'percent-encoded bytes in the path are not valid UTF-8');
    for (const v of bytes) out += `%${hex(v)}`;
  }
  // Checked on the result: `%25%36%31` decodes to `%2561` too.
  if (/%25[0-9A-Fa-f]{2}/.test(out)) throw new GatehouseError('bad_request', 'double percent-encoding is not allowed in the path');
  return out;
}

function notAllowed(): GatehouseError {
  return new GatehouseError('bad_request', 'path contains characters that are not allowed');
}

function isUnreserved(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
}

function hex(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** The byte of `%XX` at `i`; throws on a malformed escape. */
function hexByte(s: string, i: number): number {
  const hi = i + 2 < s.length && s.charCodeAt(i) === 0x25 ? hexDigit(s.charCodeAt(i + 1)) : -1;
  const lo = hi >= 0 ? hexDigit(s.charCodeAt(i + 2)) : -1;
  if (lo < 0) throw new GatehouseError('bad_request', 'malformed percent-encoding in the path');
  return hi * 16 + lo;
}

/** Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF, nothing truncated. */
export function isWellFormedUtf8(bytes: readonly number[]): boolean {
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b0 < 0x80) n = 0;
    else if (b0 >= 0xc2 && b0 <= 0xdf) n = 1;
    else if (b0 >= 0xe0 && b0 <= 0xef) {
      n = 2;
      if (b0 === 0xe0) lo = 0xa0;
      if (b0 === 0xed) hi = 0x9f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      n = 3;
      if (b0 === 0xf0) lo = 0x90;
      if (b0 === 0xf4) hi = 0x8f;
    } else return false;
    for (let k = 1; k <= n; k++) {
      const b = bytes[i + k];
      if (b === undefined) return false;
      const min = k === 1 ? lo : 0x80;
      const max = k === 1 ? hi : 0xbf;
      if (b < min || b > max) return false;
    }
    i += n + 1;
  }
  return true;
}
