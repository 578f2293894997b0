import { codeAt, isDigit, isWord, trailingRunStart } from './scan-util.ts';
import type { Detector, Finding } from './types.ts';

/** 19 digits in groups of 4-4-4-4-3 with 4 separators. */
const MAX_LENGTH = 23;
const MAX_GROUPS = 5;
const GROUP = /(?<![A-Za-z0-9_])[0-9]{4,19}(?![0-9])/g;
/** A start is decided by reading at most 5 groups of up to 7 digits, separators and 2 look-ahead characters. */
const PENDING_BACK = 48;

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

/** Candidates starting at the digit group `[s, e)`: the group alone, or groups joined by one separator. */
function cardsAt(text: string, s: number, e: number, out: Finding[]): void {
  if (e - s >= 13 && isCard(text.slice(s, e)) && goodAfter(text, e)) out.push({ entity: 'CREDIT_CARD', start: s, end: e });
  const sep = codeAt(text, e);
  if ((sep !== 32 && sep !== 45 && sep !== 46) || e - s !== 4) return;
  const sizes = [4];
  let end = e;
  while (sizes.length < MAX_GROUPS && codeAt(text, end) === sep && isDigit(codeAt(text, end + 1))) {
    let j = end + 1;
    while (j < text.length && j - end <= 7 && isDigit(text.charCodeAt(j))) j++;
    if (j - end - 1 > 6) return;
    sizes.push(j - end - 1);
    end = j;
    if (!layoutPrefix(sizes)) return;
    if (matchesLayout(sizes) && goodAfter(text, end)) {
      const digits = text.slice(s, end).replaceAll(String.fromCharCode(sep), '');
      if (isCard(digits)) out.push({ entity: 'CREDIT_CARD', start: s, end });
    }
  }
}

/**
 * CREDIT_CARD: 13–19 digits, compact or grouped with one consistent space/dash/dot separator in a
 * card layout (4-4-4-4, 4-4-4-4-3, 4-6-5, 4-6-4), with a known issuer prefix and a valid Luhn
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
    return out;
  },
  pendingFrom(text: string): number {
    return trailingRunStart(text, (c) => isDigit(c) || c === 32 || c === 45 || c === 46 || c === 44, PENDING_BACK, isDigit);
  },
};
