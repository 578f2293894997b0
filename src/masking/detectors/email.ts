import { codeAt, isAlnum, isLetter, trailingRunStart } from './scan-util.ts';
import type { Detector, Finding } from './types.ts';

const AT = 64;
const DOT = 46;
const QUOTE = 34;
const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;
/** A quoted local part adds its quotes (and an escaping backslash). */
const MAX_LENGTH = MAX_LOCAL + 3 + 1 + MAX_DOMAIN;
/** Internationalized top-level domains (a non-ASCII TLD must be one of them: prose has dots too). */
const IDN_TLDS: ReadonlySet<string> = new Set([
  '中国', '中國', '公司', '网络', '網絡', '广告', '在线', '网址', '网店', '商城', '商店', '移动', '集团', '香港', '台湾', '台灣',
  '新加坡', '澳門', '澳门', 'рф', 'бг', 'укр', 'срб', 'мкд', 'қаз', 'мон', 'бел', 'онлайн', 'сайт', 'ελ', 'ευ', 'भारत', 'भारतम्',
  '한국', '닷컴', 'みんな', 'コム', 'ไทย', 'مصر', 'السعودية', 'امارات', 'ایران', 'عمان', 'قطر', 'شبكة', 'موقع', 'الجزائر', 'المغرب',
  'გე', 'հայ', 'ලංකා', 'இந்தியா', 'சிங்கப்பூர்', 'ישראל', 'קום', 'ລາວ',
]);

/** Non-ASCII (a letter of another script, after normalization: the detector sees normalized text). */
function isWide(c: number): boolean {
  return c >= 0x80;
}

/** Scripts written without spaces between words: a run of them is not glued to an ASCII address. */
function isCjk(c: number): boolean {
  return (c >= 0x2e80 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7af) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xd800 && c <= 0xdfff);
}

/** Local-part characters: letters (any script), digits, `. _ % + -` and `' ! # $ & * ^ { | } ~`. */
function isLocal(c: number): boolean {
  return isAlnum(c) || c === DOT || c === 95 || c === 37 || c === 43 || c === 45 || isWide(c)
    || c === 39 || c === 33 || c === 35 || c === 36 || c === 38 || c === 42 || c === 94 || (c >= 123 && c <= 126);
}

/** A local part may start with a letter, digit, `_`, `%`, `+` or a non-ASCII letter. */
function canStartLocal(c: number): boolean {
  return isAlnum(c) || c === 95 || c === 37 || c === 43 || isWide(c);
}

function isDomainChar(c: number): boolean {
  return isAlnum(c) || c === DOT || c === 45 || isWide(c);
}

function validTld(tld: string): boolean {
  if (tld.startsWith('xn--')) return tld.length > 4 && /^[A-Za-z0-9-]+$/.test(tld) && !tld.endsWith('-'); // punycode
  if (IDN_TLDS.has(tld)) return true;
  if (tld.length < 2) return false;
  for (let i = 0; i < tld.length; i++) if (!isLetter(tld.charCodeAt(i))) return false;
  return true;
}

/** Length of the longest prefix of `domain` made of whole labels that is a valid domain, or 0. */
function validDomainPrefix(domain: string): number {
  const labels = domain.split('.');
  for (const label of labels) {
    if (label.length === 0 || label.length > 63 || label.startsWith('-') || label.endsWith('-')) return 0;
  }
  // Prose may run on after the address in a script without spaces ("例子.广告。谢谢"): drop labels
  // from the end until the TLD is one.
  for (let n = labels.length; n >= 2; n--) {
    if (validTld(labels[n - 1]!)) return labels.slice(0, n).join('.').length;
  }
  return 0;
}

/** Start of a quoted local part (`"john doe"@x.com`) ending right before `at`, or -1. */
function quotedStart(text: string, at: number): number {
  if (codeAt(text, at - 1) !== QUOTE) return -1;
  const limit = Math.max(0, at - 1 - MAX_LOCAL);
  for (let i = at - 2; i >= limit; i--) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      if (i === at - 2) return -1;
      return codeAt(text, i - 1) === 92 ? i - 1 : i; // an escaped quote (JSON text): the backslash too
    }
    if (c === 10 || c === 13 || c === AT) return -1;
  }
  return -1;
}

/** Start of the unquoted local part before the `@` at `at`, or -1. */
function localStart(text: string, at: number): number {
  // The run of local characters before '@', capped at 64 (the last 64 are taken). A run that
  // mixes ASCII with a script written without spaces starts where that script ends
  // ("请联系bob@x.com": the address is bob@x.com).
  const limit = Math.max(0, at - MAX_LOCAL);
  const cjk = isCjk(codeAt(text, at - 1));
  let start = at;
  while (start > limit && isLocal(text.charCodeAt(start - 1)) && isCjk(text.charCodeAt(start - 1)) === cjk) start--;
  if (codeAt(text, start - 1) === AT) return -1; // "a@b.co@c.co": ambiguous, not an address
  // One leading character that cannot start an address is punctuation before it (".bob@x.io",
  // "'bob@x.io'"); trimming at most one keeps the start within two characters of what decides it.
  if (start < at && !canStartLocal(text.charCodeAt(start))) start++;
  if (start === at || text.charCodeAt(start) === DOT || text.charCodeAt(at - 1) === DOT) return -1;
  return start;
}

/** The email around the `@` at `at`, or undefined. */
function emailAt(text: string, at: number): Finding | undefined {
  const quoted = quotedStart(text, at);
  const start = quoted !== -1 ? quoted : localStart(text, at);
  if (start === -1) return undefined;
  // Domain: the run of domain characters after '@' (each label of one script kind, as for the
  // local part); longer than 253 is not a domain.
  const runLimit = Math.min(text.length, at + 2 + MAX_DOMAIN);
  let runEnd = at + 1;
  let labelCjk = isCjk(codeAt(text, runEnd));
  for (; runEnd < runLimit; runEnd++) {
    const c = text.charCodeAt(runEnd);
    if (!isDomainChar(c)) break;
    if (codeAt(text, runEnd - 1) === DOT) labelCjk = isCjk(c);
    else if (c !== DOT && isCjk(c) !== labelCjk) break; // "example.com获取": the label ends where the script changes
  }
  if (runEnd - at - 1 > MAX_DOMAIN) return undefined;
  if (codeAt(text, runEnd) === AT) return undefined;
  const end = text.charCodeAt(runEnd - 1) === DOT ? runEnd - 1 : runEnd; // "mail a@b.com."
  const length = validDomainPrefix(text.slice(at + 1, end));
  if (length === 0) return undefined;
  return { entity: 'EMAIL', start, end: at + 1 + length };
}

/**
 * EMAIL: `local@domain.tld` — local parts with letters of any script, digits and the usual
 * punctuation (`. _ % + - ' ! # $ & * ^ { | } ~`) or quoted (`"john doe"@x.com`); at least two
 * domain labels, internationalized (`用户@例子.广告`) or punycode (`x@xn--80ak6aa92e.xn--p1ai`), an
 * alphabetic, punycode or known internationalized TLD; one trailing sentence dot excluded. The
 * detector sees normalized text, so full-width `＠` and `．` and the ideographic full stop count.
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
    let p = trailingRunStart(text, (c) => isLocal(c) || c === AT, MAX_LENGTH + 2, (c) => c !== AT && c !== DOT);
    // Without an '@' yet, only the last 64 characters (and one trimmed) can become a local part.
    const at = text.indexOf('@', p);
    p = Math.max(p, (at === -1 ? text.length : at) - MAX_LOCAL - 2);
    // A run that starts with '@' right after a quoted local part: the address starts at its quote.
    const run = trailingRunStart(text, (c) => isLocal(c) || c === AT, MAX_LENGTH + 2);
    if (codeAt(text, run) === AT) {
      const qs = quotedStart(text, run);
      if (qs !== -1 && qs < p) p = qs;
    }
    // A quoted local part may still be followed by its '@'.
    const q = text.lastIndexOf('"');
    if (q !== -1 && q >= text.length - MAX_LOCAL - 2) {
      const open = text.lastIndexOf('"', q - 1);
      let from = open !== -1 && open >= text.length - MAX_LOCAL - 2 && !/[\r\n@]/.test(text.slice(open, q)) ? open : q;
      if (codeAt(text, from - 1) === 92) from--;
      if (from < p) p = from;
    }
    return p;
  },
};
