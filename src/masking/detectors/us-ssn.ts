import { codeAt, isDigit, isWord, trailingRunStart } from './scan-util.ts';
import type { Detector, Finding } from './types.ts';

/** How far before a bare 9-digit number the `SSN` / `social security` keyword may be. */
const CONTEXT_WINDOW = 32;
const MAX_LENGTH = 11;
/** Pre-filter (constant-width look-arounds only): `ddd?dd?dddd` or nine digits, at a digit-run start. */
const CANDIDATE = /(?<![0-9])(?:[0-9]{3}[-. ][0-9]{2}[-. ][0-9]{4}|[0-9]{9})(?![0-9])/g;

/** Area 001–899 except 666, group 01–99, serial 0001–9999 (SSA rules since 2011). */
export function validSsnParts(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  return a !== 0 && a !== 666 && a < 900 && Number(group) !== 0 && Number(serial) !== 0;
}

function digitsAt(text: string, i: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (!isDigit(codeAt(text, i + k))) return false;
  return !isDigit(codeAt(text, i + n));
}

function goodBefore(c: number): boolean {
  return !isWord(c) && c !== 45 && c !== 46 && c !== 43 && c !== 47;
}

/** The number may not run on: no letter or digit, no `-`/`.`/(same separator) followed by a digit. */
function goodAfter(text: string, end: number, sep: number): boolean {
  const c = codeAt(text, end);
  if (isWord(c)) return false;
  return !((c === 45 || c === 46 || c === sep) && isDigit(codeAt(text, end + 1)));
}

function hasKeyword(text: string, s: number): boolean {
  const before = text.slice(Math.max(0, s - CONTEXT_WINDOW), s).toLowerCase().replace(/[_-]/g, ' ');
  return before.includes('ssn') || before.includes('social security');
}

function ssnAt(text: string, s: number): number {
  if (!digitsAt(text, s, 3)) {
    // A bare 9-digit number counts only with an SSN keyword just before it.
    if (!digitsAt(text, s, 9) || !goodAfter(text, s + 9, -1) || !hasKeyword(text, s)) return -1;
    return validSsnParts(text.slice(s, s + 3), text.slice(s + 3, s + 5), text.slice(s + 5, s + 9)) ? s + 9 : -1;
  }
  const sep = codeAt(text, s + 3);
  if (sep !== 45 && sep !== 32 && sep !== 46) return -1;
  if (!digitsAt(text, s + 4, 2) || codeAt(text, s + 6) !== sep || !digitsAt(text, s + 7, 4)) return -1;
  if (!goodAfter(text, s + 11, sep)) return -1;
  return validSsnParts(text.slice(s, s + 3), text.slice(s + 4, s + 6), text.slice(s + 7, s + 11)) ? s + 11 : -1;
}

/**
 * US_SSN: `AAA-GG-SSSS`, `AAA GG SSSS` or `AAA.GG.SSSS` with valid ranges (area not 000, 666 or 9xx; group not
 * 00; serial not 0000). To keep order numbers and ids out, a bare `AAAGGSSSS` counts only when
 * `SSN` or `social security` (`social_security`, `social-security`) appears within the 32 characters
 * before it — a column or key named `ssn` counts (see `MaskOptions.label`).
 *
 * @example
 *   usSsnDetector.find('ssn 123-45-6789') // [{ entity: 'US_SSN', start: 4, end: 15 }]
 */
export const usSsnDetector: Detector = {
  entity: 'US_SSN',
  maxLength: MAX_LENGTH,
  lookbehind: CONTEXT_WINDOW + 1,
  find(text: string): Finding[] {
    const out: Finding[] = [];
    CANDIDATE.lastIndex = 0;
    for (let m = CANDIDATE.exec(text); m !== null; m = CANDIDATE.exec(text)) {
      const s = m.index;
      CANDIDATE.lastIndex = s + 1;
      if (!goodBefore(codeAt(text, s - 1))) continue;
      const end = ssnAt(text, s);
      if (end !== -1) out.push({ entity: 'US_SSN', start: s, end });
    }
    return out;
  },
  pendingFrom(text: string): number {
    return trailingRunStart(text, (c) => isDigit(c) || c === 45 || c === 46 || c === 32, MAX_LENGTH + 4, isDigit);
  },
};
