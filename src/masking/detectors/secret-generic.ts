import { codeAt, isAlnum, isDigit, isLower, isUpper } from './scan-util.ts';
import type { Detector, Finding, SecretKind } from './types.ts';

/** Longest value masked; a longer value is masked up to this length. */
const MAX_VALUE = 256;
const MIN_VALUE = 8;
/** Shannon entropy (bits per character) a value needs to count as a secret. */
export const ENTROPY_THRESHOLD = 3.0;
/**
 * The lower entropy a value that mixes character classes needs. A short random value cannot reach
 * 3.0 once a character repeats (log2 of 8 is 3.0, so `Tr0ub4dor` has 2.95), yet it is plainly a
 * secret; a value of one class (`changeme`, `********`) still needs the full 3.0.
 */
export const MIXED_ENTROPY_THRESHOLD = 2.5;
const MAX_SUFFIX = 24;
const MAX_SPACES = 3;
/**
 * The context window: keyword (≤ 13) + identifier suffix (≤ 24) + quote + spaces + `=`/`:` +
 * spaces + quote + auth scheme (≤ 7) ends at most 51 characters before the value; the kind check
 * reads 40 characters before the separator. 64 covers both.
 */
const CONTEXT_WINDOW = 64;

const KEYWORDS = /password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|credential|authorization/gi;
const SCHEMES = ['bearer ', 'basic ', 'token '];

/** Value characters: letters, digits and `! # $ % * + - . / = ? @ ^ _ ~`. */
function isValueChar(c: number): boolean {
  return isAlnum(c) || c === 33 || (c >= 35 && c <= 37) || c === 42 || c === 43 || c === 45 || c === 46 || c === 47
    || c === 61 || c === 63 || c === 64 || c === 94 || c === 95 || c === 126;
}

function isQuote(c: number): boolean {
  return c === 34 || c === 39;
}

function skipSpaces(text: string, i: number): number {
  let j = i;
  while (j - i < MAX_SPACES && (codeAt(text, j) === 32 || codeAt(text, j) === 9)) j++;
  return j;
}

/** Shannon entropy of `s` in bits per character. */
export function shannonEntropy(s: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) counts.set(s.charCodeAt(i), (counts.get(s.charCodeAt(i)) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** How many of lower case, upper case, digits and other characters `s` has. */
function classCount(s: string): number {
  let lower = 0, upper = 0, digit = 0, other = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isLower(c)) lower = 1;
    else if (isUpper(c)) upper = 1;
    else if (isDigit(c)) digit = 1;
    else other = 1;
  }
  return lower + upper + digit + other;
}

/** Whether a value after a credential keyword is random enough to be a secret rather than a word or placeholder. */
export function looksRandom(value: string): boolean {
  const h = shannonEntropy(value);
  return h >= ENTROPY_THRESHOLD || (h >= MIXED_ENTROPY_THRESHOLD && classCount(value) >= 2);
}

/** Where the value after the keyword ending at `k` starts (`key_suffix" : "Bearer …`), and the separator. */
function valueStart(text: string, k: number): { start: number; sep: number } | undefined {
  let i = k;
  while (i - k <= MAX_SUFFIX && (isAlnum(codeAt(text, i)) || codeAt(text, i) === 95 || codeAt(text, i) === 45)) i++;
  if (i - k > MAX_SUFFIX) return undefined;
  if (isQuote(codeAt(text, i))) i++;
  i = skipSpaces(text, i);
  const sep = i;
  if (codeAt(text, i) !== 61 && codeAt(text, i) !== 58) return undefined;
  if (codeAt(text, i + 1) === 61) return undefined; // "==" comparisons are code, not assignments
  i = skipSpaces(text, i + 1);
  if (isQuote(codeAt(text, i))) i++;
  const lower = text.slice(i, i + 7).toLowerCase();
  for (const scheme of SCHEMES) if (lower.startsWith(scheme)) { i += scheme.length; break; }
  return { start: i, sep };
}

function kindOf(text: string, sep: number, value: string): SecretKind {
  const context = text.slice(Math.max(0, sep - 40), sep).toLowerCase().replace(/[-_]/g, '');
  return context.includes('secretaccesskey') && /^[A-Za-z0-9/+]{40}$/.test(value) ? 'aws_secret_key' : 'generic';
}

/**
 * SECRET (generic): a high-entropy value right after a credential keyword and `=` or `:` —
 * `password=…`, `secret: …`, `"api_key": "…"`, `token=…`, `Authorization: Bearer …`,
 * `aws_secret_access_key = …` (kind `aws_secret_key`). The value must be at least 8 characters,
 * not all digits (counts, ids), with Shannon entropy ≥ 3.0 bits/char, or ≥ 2.5 when it mixes at
 * least two of lower case, upper case, digits and other characters; values are capped at 256. The
 * keyword must sit within 64 characters before the value (the detector's look-behind window).
 *
 * @example
 *   genericSecretDetector.find('password=Xy7#pQ2vLm9') // [{ entity: 'SECRET', kind: 'generic', start: 9, end: 20 }]
 */
export const genericSecretDetector: Detector = {
  entity: 'SECRET',
  maxLength: MAX_VALUE,
  lookbehind: CONTEXT_WINDOW,
  find(text: string): Finding[] {
    const out: Finding[] = [];
    const seen = new Set<number>();
    KEYWORDS.lastIndex = 0;
    for (let m = KEYWORDS.exec(text); m !== null; m = KEYWORDS.exec(text)) {
      KEYWORDS.lastIndex = m.index + 1;
      const v = valueStart(text, m.index + m[0].length);
      if (v === undefined || seen.has(v.start)) continue;
      let end = v.start;
      while (end < text.length && end - v.start < MAX_VALUE && isValueChar(text.charCodeAt(end))) end++;
      const value = text.slice(v.start, end);
      if (value.length < MIN_VALUE || /^[0-9]+$/.test(value)) continue;
      const kind = kindOf(text, v.sep, value);
      if (kind === 'generic' && !looksRandom(value)) continue;
      seen.add(v.start);
      out.push({ entity: 'SECRET', kind, start: v.start, end });
    }
    return out;
  },
  pendingFrom(text: string): number {
    // A value starts right after a keyword and its separator. The earliest value that runs to the
    // end of the text (and is shorter than the cap) may still grow: held from its start. A keyword
    // or separator still arriving puts its value at the end of the text or later.
    const from = Math.max(0, text.length - MAX_VALUE - CONTEXT_WINDOW - 2);
    let p = text.length;
    KEYWORDS.lastIndex = from;
    for (let m = KEYWORDS.exec(text); m !== null; m = KEYWORDS.exec(text)) {
      KEYWORDS.lastIndex = m.index + 1;
      const v = valueStart(text, m.index + m[0].length);
      if (v === undefined || v.start >= p || text.length - v.start >= MAX_VALUE) continue;
      let end = v.start;
      while (end < text.length && isValueChar(text.charCodeAt(end))) end++;
      if (end === text.length) p = v.start;
    }
    return p;
  },
};
