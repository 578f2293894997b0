import { codeAt, isDigit, isWord, trailingRunStart } from './scan-util.ts';
import type { Detector, Finding } from './types.ts';

/** 19 single digits with 18 separators (grouped: 19 digits, 4 separators of up to 3 characters). */
const MAX_LENGTH = 37;
const MAX_GROUPS = 5;
const GROUP = /(?<![A-Za-z0-9_])[0-9]{4,19}(?![0-9])/g;
/** A lone digit followed by a separator and another lone digit: the start of a digit-by-digit card. */
const SINGLE = /(?<![A-Za-z0-9_])[0-9](?=[-. ][0-9](?![0-9]))/g;
/** A start is decided by reading at most 5 groups of up to 7 digits, separators of up to 3 characters and 2 look-ahead characters (or 19 single digits and their separators). */
const PENDING_BACK = 64;

/** Luhn checksum over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** The number made of the first `n` digits of `d` (n ≤ 4). */
function prefixOf(d: string, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 10 + d.charCodeAt(i) - 48;
  return v;
}

/** Known issuer prefixes (IIN ranges) with the lengths each network issues. */
export function knownIssuer(d: string): boolean {
  const n = d.length;
  const p2 = prefixOf(d, 2);
  const p3 = prefixOf(d, 3);
  const p4 = prefixOf(d, 4);
  if (d.charCodeAt(0) === 52) return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // American Express
  if (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65) return n >= 16 && n <= 19; // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return n >= 14 && n <= 19; // Diners
  if (p2 === 62) return n >= 16 && n <= 19; // UnionPay
  if (p2 === 50 || (p2 >= 56 && p2 <= 58) || p2 === 67) return n >= 13 && n <= 19; // Maestro
  return false;
}

function isCard(digits: string): boolean {
  return digits.length >= 13 && digits.length <= 19 && luhnValid(digits) && knownIssuer(digits);
}

/** Not glued to a word, and not the fraction / thousands part of a number (`3.4111…`, `1,4111…`). */
function goodBefore(text: string, s: number): boolean {
  const c = codeAt(text, s - 1);
  if (isWord(c)) return false;
  return !((c === 46 || c === 44) && isDigit(codeAt(text, s - 2)));
}

function goodAfter(text: string, e: number): boolean {
  const c = codeAt(text, e);
  if (isWord(c)) return false;
  return !((c === 46 || c === 44) && isDigit(codeAt(text, e + 1)));
}

/** Group sizes after a first group of 4 that can still grow into a layout (4-4-4-4[-3], 4-6-5, 4-6-4). */
function layoutPrefix(sizes: readonly number[]): boolean {
  const [b, c, d, e] = [sizes[1], sizes[2], sizes[3], sizes[4]];
  if (b === 4) return (c === undefined || c === 4) && (d === undefined || d === 4) && (e === undefined || e === 3);
  if (b === 6) return (c === undefined || c === 5 || c === 4) && d === undefined;
  return b === undefined;
}

/** A complete layout. */
function matchesLayout(sizes: readonly number[]): boolean {
  return (sizes.length === 4 && sizes[1] === 4) || sizes.length === 5 || (sizes.length === 3 && sizes[1] === 6);
}

/** Length of the separator at `i`: `-`, `.`, one or two spaces, ` - ` or ` . `; 0 when there is none. */
function sepAt(text: string, i: number): number {
  const c = codeAt(text, i);
  if (c === 45 || c === 46) return 1;
  if (c !== 32) return 0;
  const d = codeAt(text, i + 1);
  if (d === 32) return 2;
  return (d === 45 || d === 46) && codeAt(text, i + 2) === 32 ? 3 : 1;
}

/** Candidates starting at the digit group `[s, e)`: the group alone, or groups joined by one consistent separator. */
function cardsAt(text: string, s: number, e: number, out: Finding[]): void {
  if (e - s >= 13 && isCard(text.slice(s, e)) && goodAfter(text, e)) out.push({ entity: 'CREDIT_CARD', start: s, end: e });
  const n = sepAt(text, e);
  if (n === 0 || e - s !== 4) return;
  const sep = text.slice(e, e + n);
  const sizes = [4];
  let end = e;
  while (sizes.length < MAX_GROUPS && sepAt(text, end) === n && text.startsWith(sep, end) && isDigit(codeAt(text, end + n))) {
    const g = end + n;
    let j = g;
    while (j < text.length && j - g <= 6 && isDigit(text.charCodeAt(j))) j++;
    if (j - g > 6) return;
    sizes.push(j - g);
    end = j;
    if (!layoutPrefix(sizes)) return;
    if (matchesLayout(sizes) && goodAfter(text, end)) {
      const digits = text.slice(s, end).replace(/[^0-9]/g, '');
      if (isCard(digits)) out.push({ entity: 'CREDIT_CARD', start: s, end });
    }
  }
}

/** A card written one digit at a time (`4 1 1 1 …`, `4-1-1-1…`) starting at `s`: the whole run, 13–19 digits. */
function singlesAt(text: string, s: number, out: Finding[]): void {
  const sep = text.charCodeAt(s + 1);
  if (codeAt(text, s - 1) === sep && isDigit(codeAt(text, s - 2))) return; // inside a longer run
  let digits = text[s]!;
  let end = s + 1;
  while (digits.length <= 19 && codeAt(text, end) === sep && isDigit(codeAt(text, end + 1)) && !isDigit(codeAt(text, end + 2))) {
    digits += text[end + 1]!;
    end += 2;
  }
  if (digits.length > 19 || (codeAt(text, end) === sep && isDigit(codeAt(text, end + 1)))) return;
  if (isCard(digits) && goodAfter(text, end)) out.push({ entity: 'CREDIT_CARD', start: s, end });
}

/**
 * CREDIT_CARD: 13–19 digits, compact, grouped in a card layout (4-4-4-4, 4-4-4-4-3, 4-6-5,
 * 4-6-4) with one consistent separator (`-`, `.`, one or two spaces, ` - `), or written one digit
 * at a time with one consistent `-`, `.` or space; with a known issuer prefix and a valid Luhn
 * check digit. Any group of a longer digit sequence may start a card.
 *
 * @example
 *   creditCardDetector.find('card 4111 1111 1111 1111') // [{ entity: 'CREDIT_CARD', start: 5, end: 24 }]
 */
export const creditCardDetector: Detector = {
  entity: 'CREDIT_CARD',
  maxLength: MAX_LENGTH,
  lookbehind: 2,
  find(text: string): Finding[] {
    const out: Finding[] = [];
    // Pre-filter: a digit run of 4–19 not glued to a word (a card's first group or the whole card).
    GROUP.lastIndex = 0;
    for (let m = GROUP.exec(text); m !== null; m = GROUP.exec(text)) {
      const s = m.index;
      if (goodBefore(text, s)) cardsAt(text, s, s + m[0].length, out);
    }
    SINGLE.lastIndex = 0;
    for (let m = SINGLE.exec(text); m !== null; m = SINGLE.exec(text)) {
      if (goodBefore(text, m.index)) singlesAt(text, m.index, out);
    }
    return out;
  },
  pendingFrom(text: string): number {
    return trailingRunStart(text, (c) => isDigit(c) || c === 32 || c === 45 || c === 46 || c === 44, PENDING_BACK, isDigit);
  },
};
