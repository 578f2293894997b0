import { isDigit, isUpper } from './scan-util.ts';
import type { Detector, Finding } from './types.ts';

const BEGIN = '-----BEGIN ';
const END = '-----END ';
const DASHES = '-----';
/** Longest block masked: a 16384-bit RSA key in PEM is about 12.7 KiB. */
const MAX_LENGTH = 16_384;
const MAX_LABEL = 48;

function isLabelChar(c: number): boolean {
  return isUpper(c) || isDigit(c) || c === 32;
}

function isKeyLabel(label: string): boolean {
  return label.endsWith('PRIVATE KEY') || label.endsWith('PRIVATE KEY BLOCK');
}

/** Scans `MARKER LABEL-----` at `i`: the index after it, -2 while it may still be arriving, -1 if not one. */
function markerAt(text: string, i: number, marker: string): number {
  let j = i + marker.length;
  const limit = Math.min(text.length, j + MAX_LABEL + 1);
  while (j < limit && isLabelChar(text.charCodeAt(j))) j++;
  if (j - i - marker.length > MAX_LABEL) return -1;
  const label = text.slice(i + marker.length, j);
  const rest = text.slice(j, j + DASHES.length);
  if (rest.length < DASHES.length && j === text.length - rest.length && DASHES.startsWith(rest)) return -2;
  if (rest !== DASHES) return -1;
  return isKeyLabel(label) ? j + DASHES.length : -1;
}

interface Block {
  readonly start: number;
  readonly end: number;
  /** No END line yet and still within `maxLength`: more input may close or extend it. */
  readonly open: boolean;
}

/** Every private-key block, with whether it is still open at the end of `text`. */
function blocks(text: string): Block[] {
  const out: Block[] = [];
  // First complete private-key END line at or after `from` (-1: none). END lines are searched
  // forward only, so the whole scan stays linear however many BEGIN lines there are.
  let from = -1;
  let endAt = -1;
  let endAfter = -1;
  for (let s = text.indexOf(BEGIN); s !== -1; s = text.indexOf(BEGIN, s + 1)) {
    const headerEnd = markerAt(text, s, BEGIN);
    if (headerEnd < 0) continue;
    if (from === -1 || from > headerEnd || (endAt !== -1 && endAt < headerEnd)) {
      from = headerEnd;
      endAt = -1;
      for (let e = text.indexOf(END, headerEnd); e !== -1; e = text.indexOf(END, e + 1)) {
        const after = markerAt(text, e, END);
        if (after >= 0) { endAt = e; endAfter = after; break; }
      }
    }
    const limit = s + MAX_LENGTH;
    if (endAt !== -1 && endAfter <= limit) out.push({ start: s, end: endAfter, open: false });
    else out.push({ start: s, end: Math.min(text.length, limit), open: limit > text.length });
  }
  return out;
}

/**
 * PRIVATE_KEY: PEM blocks `-----BEGIN … PRIVATE KEY-----` … `-----END … PRIVATE KEY-----`
 * (PKCS#8, RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP … BLOCK). A BEGIN without an END within
 * 16 KiB fails closed: it is masked from BEGIN to 16 KiB further or to the end of the text.
 *
 * @example
 *   privateKeyDetector.find(pem) // [{ entity: 'PRIVATE_KEY', start: 0, end: pem.length }]
 */
export const privateKeyDetector: Detector = {
  entity: 'PRIVATE_KEY',
  maxLength: MAX_LENGTH,
  lookbehind: 0,
  find(text: string): Finding[] {
    return blocks(text).map((b) => ({ entity: 'PRIVATE_KEY', start: b.start, end: b.end }));
  },
  pendingFrom(text: string): number {
    let p = text.length;
    // A BEGIN line may be arriving: the text ends inside the marker, or inside its label.
    // (Every prefix of BEGIN starts with '-': no '-' near the end means no partial marker.)
    if (text.lastIndexOf('-') >= text.length - BEGIN.length) {
      for (let k = Math.min(BEGIN.length, text.length); k > 0; k--) {
        if (text.endsWith(BEGIN.slice(0, k))) { p = text.length - k; break; }
      }
    }
    const last = text.lastIndexOf(BEGIN);
    if (last === -1) return p; // no BEGIN line: no block, open or not
    if (markerAt(text, last, BEGIN) === -2) p = Math.min(p, last);
    for (const b of blocks(text)) if (b.open) return Math.min(p, b.start);
    return p;
  },
};
