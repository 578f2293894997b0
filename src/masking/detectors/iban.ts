import { codeAt, isDigit, isUpper, isWord, trailingRunStart } from './scan-util.ts';
import type { Detector, Finding } from './types.ts';

/** IBAN lengths of common countries (ISO 13616 registry); other country codes are not matched. */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22,
  GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27,
  JO: 30, KW: 30, KZ: 20, LB: 28, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MD: 24, ME: 22, MK: 19,
  MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22,
  SA: 24, SE: 24, SI: 19, SK: 24, SM: 27, TN: 24, TR: 26, UA: 29, VG: 24, XK: 20,
};
/** 34 characters (the longest IBAN) plus a space every four. */
const MAX_LENGTH = 42;
/** Country code and check digits at a word start (occurrences cannot overlap). */
const TRIGGER = /(?<![A-Za-z0-9_])[A-Z]{2}[0-9]{2}/g;

function isIbanChar(c: number): boolean {
  return isUpper(c) || isDigit(c);
}

/** ISO 7064 mod 97-10 over the rearranged IBAN (country code and check digits moved to the end). */
export function ibanChecksumValid(compact: string): boolean {
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (isDigit(c)) rem = (rem * 10 + (c - 48)) % 97;
    else rem = (rem * 100 + (c - 55)) % 97; // A=10 … Z=35
  }
  return rem === 1;
}

/** The IBAN starting at `s` (country code), compact or in space-separated groups of four. */
function ibanAt(text: string, s: number, length: number): number {
  const spaced = codeAt(text, s + 4) === 32;
  let compact = text.slice(s, s + 4);
  let i = s + 4;
  while (compact.length < length) {
    if (spaced && compact.length % 4 === 0) {
      if (codeAt(text, i) !== 32) return -1;
      i++;
    }
    const c = codeAt(text, i);
    if (!isIbanChar(c)) return -1;
    compact += text[i]!;
    i++;
  }
  if (isWord(codeAt(text, i))) return -1;
  return ibanChecksumValid(compact) ? i : -1;
}

/**
 * IBAN: a known country code, two check digits and the country's BBAN length, compact or in
 * groups of four separated by single spaces; validated with the ISO 7064 mod-97 checksum.
 *
 * @example
 *   ibanDetector.find('IBAN DE89 3704 0044 0532 0130 00') // [{ entity: 'IBAN', start: 5, end: 32 }]
 */
export const ibanDetector: Detector = {
  entity: 'IBAN',
  maxLength: MAX_LENGTH,
  lookbehind: 1,
  find(text: string): Finding[] {
    const out: Finding[] = [];
    TRIGGER.lastIndex = 0;
    for (let m = TRIGGER.exec(text); m !== null; m = TRIGGER.exec(text)) {
      const s = m.index;
      if (isWord(codeAt(text, s - 1))) continue;
      const length = IBAN_LENGTHS[text.slice(s, s + 2)];
      if (length === undefined) continue;
      const end = ibanAt(text, s, length);
      if (end !== -1) out.push({ entity: 'IBAN', start: s, end });
    }
    return out;
  },
  pendingFrom(text: string): number {
    return trailingRunStart(text, (c) => isIbanChar(c) || c === 32, MAX_LENGTH + 2, isUpper);
  },
};
