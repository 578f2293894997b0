import { codeAt, isDigit, isHex, isWord, trailingRunStart } from './scan-util.ts';
import type { Detector, Finding } from './types.ts';

const DOT = 46;
const COLON = 58;
/** `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`. */
const MAX_LENGTH = 45;
/** Longest run of address characters examined; longer runs are not addresses. */
const MAX_RUN = 64;
/** Pre-filter: the start of a digits-and-dots run that begins like a quad (`d.`, `dd.`, `ddd.`). */
const V4_START = /(?<![0-9.])[0-9]{1,3}\./g;

function isV6Char(c: number): boolean {
  return isHex(c) || c === COLON || c === DOT;
}

/** Dotted quad, each octet 0–255 without leading zeros. */
export function validIpv4(s: string): boolean {
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  return parts.every((p) => p.length >= 1 && p.length <= 3 && /^[0-9]+$/.test(p) && (p === '0' || !p.startsWith('0')) && Number(p) <= 255);
}

/** RFC 4291 text forms incl. `::` compression and a trailing dotted quad; at least two groups. */
export function validIpv6(s: string): boolean {
  let groups = 0;
  let body = s;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    if (!validIpv4(s.slice(lastColon + 1))) return false;
    body = s.slice(0, lastColon + 1) + '0';
    groups = 1; // the quad is two groups; '0' stands in for one of them
  }
  const halves = body.split('::');
  if (halves.length > 2) return false;
  for (const half of halves) {
    if (half === '') continue;
    for (const g of half.split(':')) {
      if (g.length < 1 || g.length > 4 || !/^[0-9A-Fa-f]+$/.test(g)) return false;
      groups++;
    }
  }
  if (halves.length === 2) return groups >= 2 && groups <= 7;
  return groups === 8;
}

/** Strip one sentence-ending dot (and for IPv6 one lone trailing colon). */
function trimEnd(text: string, a: number, b: number, v6: boolean): number {
  let end = b;
  if (codeAt(text, end - 1) === DOT) end--;
  else if (v6 && codeAt(text, end - 1) === COLON && codeAt(text, end - 2) !== COLON) end--;
  return end > a ? end : a;
}

function count(text: string, from: number, to: number, c: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === c) n++;
  return n;
}

function findV4(text: string, out: Finding[]): void {
  V4_START.lastIndex = 0;
  for (let m = V4_START.exec(text); m !== null; m = V4_START.exec(text)) {
    const a = m.index;
    let b = a;
    while (b < text.length && b - a <= MAX_RUN && (isDigit(text.charCodeAt(b)) || text.charCodeAt(b) === DOT)) b++;
    V4_START.lastIndex = b;
    if (b - a > MAX_RUN || isWord(codeAt(text, a - 1)) || isWord(codeAt(text, b))) continue;
    const end = trimEnd(text, a, b, false);
    if (count(text, a, end, DOT) === 3 && validIpv4(text.slice(a, end))) out.push({ entity: 'IP_ADDRESS', start: a, end });
  }
}

function findV6(text: string, out: Finding[]): void {
  for (let k = text.indexOf(':'); k !== -1; ) {
    let a = k;
    while (a > 0 && k - a <= MAX_RUN && isV6Char(text.charCodeAt(a - 1))) a--;
    let b = k + 1;
    while (b < text.length && b - k <= MAX_RUN && isV6Char(text.charCodeAt(b))) b++;
    if (b - a <= MAX_RUN && !isWord(codeAt(text, a - 1)) && !isWord(codeAt(text, b)) && text.indexOf(':', k + 1) < b) {
      const end = trimEnd(text, a, b, true);
      const colons = count(text, a, end, COLON);
      // Cheap shape check first: 7 colons, or 6 before a dotted quad, or a '::' somewhere.
      if ((colons >= 6 || text.slice(a, end).includes('::')) && validIpv6(text.slice(a, end))) out.push({ entity: 'IP_ADDRESS', start: a, end });
    }
    k = text.indexOf(':', b);
  }
}

/**
 * IP_ADDRESS: IPv4 dotted quads with octet validation and IPv6 addresses (full, `::`-compressed,
 * with an embedded IPv4 tail). Runs glued to letters (`v1.2.3.4`), times (`12:30:45`) and MAC
 * addresses are not matched. A version string that is also a valid quad (`1.2.3.4`) is.
 *
 * @example
 *   ipAddressDetector.find('from 10.0.0.1 and fe80::1:2') // two findings
 */
export const ipAddressDetector: Detector = {
  entity: 'IP_ADDRESS',
  maxLength: MAX_LENGTH,
  lookbehind: 1,
  find(text: string): Finding[] {
    const out: Finding[] = [];
    findV4(text, out);
    findV6(text, out);
    return out;
  },
  pendingFrom(text: string): number {
    return trailingRunStart(text, isV6Char, MAX_RUN + 4, (c) => c !== DOT);
  },
};
