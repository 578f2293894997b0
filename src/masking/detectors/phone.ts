import { codeAt, isDigit, isWord, trailingRunStart } from './scan-util.ts';
import type { Detector, Finding } from './types.ts';

const PLUS = 43;
const LPAREN = 40;
const RPAREN = 41;
const MAX_LENGTH = 32;
const MAX_DIGITS = 15;
/** Parsing reads at most this far past a start (digits, separators, parentheses, look-ahead). */
const PENDING_BACK = 64;
/**
 * Pre-filter for possible starts: `+` and a digit, `(AAA)`, `AAA` and a separator, `1` and a
 * separator and an area digit. Constant-width look-arounds only (linear time).
 */
const TRIGGER = /\+[1-9]|\([2-9][0-9]{2}\)|(?<![0-9])(?:[2-9][0-9]{2}[-. ]|1[-. ][2-9])/g;

function isSep(c: number): boolean {
  return c === 32 || c === 45 || c === 46; // space - .
}

/** Characters that may not sit right before a phone number (it would be part of something longer). */
function badBefore(c: number): boolean {
  return isWord(c) || c === PLUS || c === 45 || c === 46 || c === LPAREN || c === RPAREN || c === 47;
}

/** A number may not continue with a digit, a letter, or a separator followed by a digit. */
function goodAfter(text: string, end: number): boolean {
  const c = codeAt(text, end);
  if (isWord(c)) return false;
  return !((c === 45 || c === 46) && isDigit(codeAt(text, end + 1)));
}

function digitRun(text: string, i: number, max: number): number {
  let j = i;
  while (j < text.length && j - i <= max && isDigit(text.charCodeAt(j))) j++;
  return j - i;
}

/** `+CC …`: E.164 compact (8–15 digits) or groups split by single separators / one `( )` group. */
function international(text: string, plus: number): number {
  let i = plus + 1;
  if (!isDigit(codeAt(text, i)) || text.charCodeAt(i) === 48) return -1;
  let digits = 0;
  let groups = 0;
  for (;;) {
    const paren = codeAt(text, i) === LPAREN;
    const at = paren ? i + 1 : i;
    const n = digitRun(text, at, MAX_DIGITS);
    if (n === 0 || (paren && codeAt(text, at + n) !== RPAREN)) return -1;
    digits += n;
    groups++;
    if (digits > MAX_DIGITS) return -1;
    i = at + n + (paren ? 1 : 0);
    const c = codeAt(text, i);
    const next = codeAt(text, i + 1);
    if (isSep(c) && (isDigit(next) || next === LPAREN)) { i++; continue; }
    if (paren && isDigit(c)) continue;
    break;
  }
  if (digits < 8 || (groups > 1 && digits > MAX_DIGITS)) return -1;
  return i;
}

/** NANP: `(AAA) EEE-NNNN`, `AAA-EEE-NNNN`, `AAA.EEE.NNNN`, `AAA EEE NNNN`, optionally `1-` first. */
function northAmerican(text: string, s: number): number {
  let i = s;
  if (codeAt(text, i) === 49 && isSep(codeAt(text, i + 1)) && digitRun(text, i + 2, 4) === 3) i += 2;
  let sep: number;
  if (codeAt(text, i) === LPAREN) {
    if (digitRun(text, i + 1, 4) !== 3 || codeAt(text, i + 4) !== RPAREN) return -1;
    if (!goodArea(text, i + 1)) return -1;
    i += 5;
    if (codeAt(text, i) === 32) i++;
    sep = -1;
  } else {
    if (digitRun(text, i, 4) !== 3 || !goodArea(text, i)) return -1;
    sep = codeAt(text, i + 3);
    if (!isSep(sep)) return -1;
    i += 4;
  }
  if (digitRun(text, i, 4) !== 3 || !goodArea(text, i)) return -1;
  const sep2 = codeAt(text, i + 3);
  if (sep === -1 ? sep2 !== 45 && sep2 !== 32 && sep2 !== 46 : sep2 !== sep) return -1;
  i += 4;
  if (digitRun(text, i, 5) !== 4) return -1;
  return i + 4;
}

/** Area codes and exchanges start with 2–9. */
function goodArea(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 50 && c <= 57;
}

/**
 * PHONE: E.164 / international numbers written with a leading `+`, and North-American numbers
 * with separators or parentheses. Conservative: bare digit strings (ids, timestamps), dates
 * (`2024-01-15`), versions (`1.2.3`) and numbers glued to letters are not phones.
 *
 * @example
 *   phoneDetector.find('call +1 (415) 555-2671') // [{ entity: 'PHONE', start: 5, end: 22 }]
 */
export const phoneDetector: Detector = {
  entity: 'PHONE',
  maxLength: MAX_LENGTH,
  lookbehind: 1,
  find(text: string): Finding[] {
    const out: Finding[] = [];
    TRIGGER.lastIndex = 0;
    for (let m = TRIGGER.exec(text); m !== null; m = TRIGGER.exec(text)) {
      const s = m.index;
      TRIGGER.lastIndex = s + 1;
      if (badBefore(codeAt(text, s - 1))) continue;
      const end = text.charCodeAt(s) === PLUS ? international(text, s) : northAmerican(text, s);
      if (end !== -1 && end - s <= MAX_LENGTH && goodAfter(text, end)) out.push({ entity: 'PHONE', start: s, end });
    }
    return out;
  },
  pendingFrom(text: string): number {
    return trailingRunStart(text, (c) => isDigit(c) || isSep(c) || c === PLUS || c === LPAREN || c === RPAREN, PENDING_BACK, (c) => isDigit(c) || c === PLUS || c === LPAREN);
  },
};
