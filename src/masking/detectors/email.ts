import { codeAt, isAlnum, isLetter, trailingRunStart } from './scan-util.ts';
import type { Detector, Finding } from './types.ts';

const AT = 64;
const DOT = 46;
const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;
const MAX_LENGTH = MAX_LOCAL + 1 + MAX_DOMAIN;

/** Local-part characters we accept: letters, digits and `. _ % + -`. */
function isLocal(c: number): boolean {
  return isAlnum(c) || c === DOT || c === 95 || c === 37 || c === 43 || c === 45;
}

function isDomainChar(c: number): boolean {
  return isAlnum(c) || c === DOT || c === 45;
}

function validDomain(domain: string): boolean {
  const labels = domain.split('.');
  if (labels.length < 2) return false;
  for (const label of labels) {
    if (label.length === 0 || label.length > 63) return false;
    if (label.startsWith('-') || label.endsWith('-')) return false;
  }
  const tld = labels[labels.length - 1]!;
  if (tld.length < 2) return false;
  for (let i = 0; i < tld.length; i++) if (!isLetter(tld.charCodeAt(i))) return false;
  return true;
}

/** The email around the `@` at `at`, or undefined. */
function emailAt(text: string, at: number): Finding | undefined {
  // Local part: the run of local characters before '@', capped at 64 (the last 64 are taken).
  const limit = Math.max(0, at - MAX_LOCAL);
  let start = at;
  while (start > limit && isLocal(text.charCodeAt(start - 1))) start--;
  if (start > limit || !isLocal(codeAt(text, start - 1))) {
    if (codeAt(text, start - 1) === AT) return undefined; // "a@b.co@c.co": ambiguous, not an address
  }
  // One leading dot is punctuation before the address (".bob@x.io"); more is not an address.
  // Trimming at most one keeps the start within two characters of what decides it.
  if (text.charCodeAt(start) === DOT) start++;
  if (start === at || text.charCodeAt(start) === DOT || text.charCodeAt(at - 1) === DOT) return undefined;
  // Domain: the run of domain characters after '@'; longer than 253 is not a domain.
  const runLimit = Math.min(text.length, at + 2 + MAX_DOMAIN);
  let runEnd = at + 1;
  while (runEnd < runLimit && isDomainChar(text.charCodeAt(runEnd))) runEnd++;
  if (runEnd - at - 1 > MAX_DOMAIN) return undefined;
  if (codeAt(text, runEnd) === AT) return undefined;
  const end = text.charCodeAt(runEnd - 1) === DOT ? runEnd - 1 : runEnd; // "mail a@b.com."
  if (!validDomain(text.slice(at + 1, end))) return undefined;
  return { entity: 'EMAIL', start, end };
}

/**
 * EMAIL: `local@domain.tld` with a conservative local-part alphabet, at least two domain labels,
 * an alphabetic TLD, one trailing sentence dot excluded.
 *
 * @example
 *   emailDetector.find('write to ann.lee@example.org.') // [{ entity: 'EMAIL', start: 9, end: 28 }]
 */
export const emailDetector: Detector = {
  entity: 'EMAIL',
  maxLength: MAX_LENGTH,
  lookbehind: 2,
  find(text: string): Finding[] {
    const out: Finding[] = [];
    for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
      const f = emailAt(text, at);
      if (f !== undefined) out.push(f);
    }
    return out;
  },
  pendingFrom(text: string): number {
    return trailingRunStart(text, (c) => isLocal(c) || c === AT, MAX_LENGTH + 2, (c) => c !== AT && c !== DOT);
  },
};
