/**
 * The text content detectors see: the original with every Unicode disguise a reader would look
 * through taken off, and a map from each normalized position back to the original.
 *
 * Each code point is mapped on its own (context-free, so a stream normalized chunk by chunk equals
 * the whole text normalized at once, as long as no chunk ends between the halves of a surrogate
 * pair):
 *
 * - **removed**: format and default-ignorable characters (zero-width space/joiners U+200B–U+200D,
 *   word joiner U+2060, BOM U+FEFF, soft hyphen U+00AD, bidi controls, tags, variation selectors,
 *   Hangul fillers), combining marks (Mn, Me: `4⃣`, `4̲`), and control characters other than
 *   tab, line feed, carriage return;
 * - **NFKC**: full-width and other compatibility forms (`４`, `ａ`, `＠`, `．`, `𝟒`, `①`, `¹`, `ﬁ`);
 * - **digits**: every decimal digit (Arabic-Indic `٤`, Devanagari `४`, …) to `0`–`9`; dingbat
 *   circled numbers (`❹`, `➃`) to their value;
 * - **separators**: every space separator (NBSP, thin, narrow, ideographic …) and tab to `' '`,
 *   line/paragraph separators to `'\n'`, every dash (en, em, minus sign U+2212, non-breaking
 *   hyphen, full-width hyphen …) to `'-'`, full stops and middle dots used as separators
 *   (U+3002, U+FF61, U+00B7, U+2027, U+2219, U+22C5, U+30FB) to `'.'`.
 *
 * Plain printable ASCII (plus `\n`, `\r`) is returned as is without copying: the common case
 * costs one regular-expression test.
 *
 * @example
 *   const n = normalizeForDetection('４１１１\u200b-1111');
 *   n.text === '4111-1111'; originalRange(n, 0, 9, 10) // → [0, 10]
 */

/** A normalized text and its map back to the original. */
export interface DetectionText {
  /** What the detectors scan. */
  readonly text: string;
  /**
   * Original start of the code point each normalized unit comes from (`starts[text.length]` is
   * the original length). Undefined when unit `i` comes from original unit `i` for every `i`.
   */
  readonly starts: Int32Array | undefined;
  /** Original end of the code point each normalized unit comes from (undefined like `starts`). */
  readonly ends: Int32Array | undefined;
}

/** Printable ASCII, LF and CR: nothing to normalize. */
const SIMPLE = /^[\n\r\x20-\x7e]*$/;
const IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Mn}\p{Me}\p{Cc}]$/u;
const SPACE = /^\p{Zs}$/u;
const LINE = /^[\p{Zl}\p{Zp}\u0085]$/u;
const DIGIT = /^\p{Nd}$/u;
/** Dash punctuation and the dash look-alikes outside it (minus signs, hyphen bullet, box-drawing lines, prolonged sound marks). */
const DASH = /^[\p{Pd}\u2212\u2043\u02d7\u2796\u2010\u2011\u30fc\uff70\u2500\u2501\u23af\u2e3b\ufe63]$/u;
const DOTS: ReadonlySet<number> = new Set([0x3002, 0xff61, 0x00b7, 0x0387, 0x2027, 0x2219, 0x22c5, 0x30fb, 0xff65, 0x2024]);
/** Dingbat and enclosed numbers NFKC leaves alone: first code point and the value it stands for. */
const NUMBER_RUNS: readonly (readonly [number, number, number])[] = [
  [0x2776, 0x277f, 1], [0x2780, 0x2789, 1], [0x278a, 0x2793, 1], [0x24eb, 0x24f4, 11], [0x24f5, 0x24fe, 1], [0x24ff, 0x24ff, 0],
];
/**
 * Changed code points remembered: all of them fit (about 11 800 code points change), so after a
 * code point was seen once it costs a lookup (bounded memory whatever the input).
 */
const CACHE_LIMIT = 16_384;
const cache = new Map<number, string>();

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Value of a decimal digit: Unicode assigns them in runs of ten, 0 to 9 (a stability guarantee). */
function digitValue(cp: number): number {
  let start = cp;
  while (start > 0 && cp - start < 100 && DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

/** One code point after NFKC: removed, mapped to ASCII, or kept. */
function mapOne(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x80) {
    if (cp >= 0x20 && cp < 0x7f) return ch;
    if (cp === 10 || cp === 13) return ch;
    if (cp === 9 || cp === 11 || cp === 12) return ' ';
    return '';
  }
  if (IGNORABLE.test(ch)) return '';
  if (SPACE.test(ch)) return ' ';
  if (LINE.test(ch)) return '\n';
  if (DASH.test(ch)) return '-';
  if (DOTS.has(cp)) return '.';
  if (DIGIT.test(ch)) return String(digitValue(cp));
  for (const [first, last, base] of NUMBER_RUNS) if (cp >= first && cp <= last) return String(base + cp - first);
  return ch;
}

/**
 * Code points already classified as mapping to themselves (1). Most text outside ASCII is letters
 * that stay as they are: one array read each (1.1 MB, so that random rare characters cannot make
 * every character take the slow path).
 */
const sameKind = new Uint8Array(0x110000);

/** The normalized form of one code point (cached). */
export function normalizeCodePoint(cp: number): string {
  if (cp < 0x80) return mapOne(String.fromCharCode(cp));
  if (sameKind[cp] === 1) return String.fromCodePoint(cp);
  const hit = cache.get(cp);
  if (hit !== undefined) return hit;
  const ch = String.fromCodePoint(cp);
  let out = '';
  // Classify before NFKC too: NFKC turns some dashes and spaces into others (U+2011 → U+2010).
  const direct = mapOne(ch);
  if (direct !== ch) out = direct;
  else for (const c of ch.normalize('NFKC')) out += mapOne(c);
  if (out === ch) sameKind[cp] = 1;
  else if (cache.size < CACHE_LIMIT) cache.set(cp, out);
  return out;
}

/** A growable pair of offset arrays (normalized unit → original code point start and end). */
class OffsetMap {
  starts: Int32Array;
  ends: Int32Array;
  length = 0;

  constructor(capacity: number) {
    this.starts = new Int32Array(capacity);
    this.ends = new Int32Array(capacity);
  }

  #reserve(n: number): void {
    if (this.length + n <= this.starts.length) return;
    const capacity = Math.max(this.length + n, this.length * 2 + 16);
    const starts = new Int32Array(capacity);
    const ends = new Int32Array(capacity);
    starts.set(this.starts);
    ends.set(this.ends);
    this.starts = starts;
    this.ends = ends;
  }

  /** `count` units that all come from the code point `[start, end)`. */
  push(start: number, end: number, count = 1): void {
    this.#reserve(count);
    for (let k = 0; k < count; k++) {
      this.starts[this.length] = start;
      this.ends[this.length] = end;
      this.length++;
    }
  }

  /** Units `[from, to)` that map one to one. */
  pushRun(from: number, to: number): void {
    this.#reserve(to - from);
    const { starts, ends } = this;
    let len = this.length;
    for (let k = from; k < to; k++, len++) {
      starts[len] = k;
      ends[len] = k + 1;
    }
    this.length = len;
  }
}

/**
 * Normalizes `text` for detection (see the module comment). A lone surrogate is kept as is.
 * Linear in the text; plain ASCII is returned without copying or a map.
 */
export function normalizeForDetection(text: string): DetectionText {
  if (SIMPLE.test(text)) return { text, starts: undefined, ends: undefined };
  const n = text.length;
  const parts: string[] = [];
  let map: OffsetMap | undefined;
  let run = 0; // start of the pending run of unchanged units
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if ((c >= 0x20 && c <= 0x7e) || c === 10 || c === 13 || (c >= 0x80 && c < 0xd800 && sameKind[c] === 1)) { i++; continue; }
    const width = isHigh(c) && i + 1 < n && isLow(text.charCodeAt(i + 1)) ? 2 : 1;
    if (width === 2 && sameKind[text.codePointAt(i)!] === 1) { i += 2; continue; } // an emoji, a rare ideograph
    const rep = width === 1 && (isHigh(c) || isLow(c)) ? text[i]! : normalizeCodePoint(width === 2 ? text.codePointAt(i)! : c);
    if (rep.length === width && map === undefined) {
      // Still position-for-position: no map needed yet.
      if (rep !== text.slice(i, i + width)) { parts.push(text.slice(run, i), rep); run = i + width; }
      i += width;
      continue;
    }
    if (map === undefined) {
      // First change of length: everything so far maps one to one.
      map = new OffsetMap(n + 16);
      map.pushRun(0, i);
    } else {
      map.pushRun(run, i);
    }
    parts.push(text.slice(run, i), rep);
    map.push(i, i + width, rep.length);
    i += width;
    run = i;
  }
  if (map === undefined) return { text: run === 0 ? text : parts.join('') + text.slice(run), starts: undefined, ends: undefined };
  map.pushRun(run, n);
  parts.push(text.slice(run));
  map.push(n, n);
  return { text: parts.join(''), starts: map.starts.subarray(0, map.length), ends: map.ends.subarray(0, map.length) };
}

/**
 * The original range `[start, end)` covered by the normalized range `[s, e)` (`e > s`): from the
 * start of the code point of unit `s` to the end of the code point of unit `e - 1`, so characters
 * removed inside the range are covered too.
 */
export function originalRange(d: DetectionText, s: number, e: number): [number, number] {
  if (d.starts === undefined || d.ends === undefined) return [s, e];
  return [d.starts[s]!, d.ends[e - 1]!];
}
