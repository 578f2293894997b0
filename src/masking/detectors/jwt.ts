import { Buffer } from 'node:buffer';
import { codeAt, isBase64Url } from './scan-util.ts';
import type { Detector, Finding } from './types.ts';

const DOT = 46;
const MAX_LENGTH = 16_384;
const MAX_HEADER = 2_048;

function isJwtChar(c: number): boolean {
  return isBase64Url(c) || c === DOT;
}

/** True when the base64url segment decodes to a JSON object with a string `alg`. */
export function isJoseHeader(segment: string): boolean {
  if (segment.length > MAX_HEADER) return false;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && typeof (parsed as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

/** End of the JWS (3 parts) or JWE (5 parts) starting at `s`, or -1. */
function tokenAt(text: string, s: number): number {
  let i = s;
  const dots: number[] = [];
  const limit = Math.min(text.length, s + MAX_LENGTH + 1);
  for (;;) {
    while (i < limit && isBase64Url(text.charCodeAt(i))) i++;
    if (i >= limit) break;
    if (text.charCodeAt(i) !== DOT || !isBase64Url(codeAt(text, i + 1)) || dots.length === 4) break;
    dots.push(i);
    i++;
  }
  if (i - s > MAX_LENGTH) return -1;
  if (codeAt(text, i) === DOT && isJwtChar(codeAt(text, i + 1))) return -1; // "a.b.c..d" and the like
  // A JWS may end with an empty signature (`alg: none`): "header.payload."
  if (dots.length === 1 && codeAt(text, i) === DOT && !isJwtChar(codeAt(text, i + 1))) {
    dots.push(i);
    i++;
  }
  if (dots.length !== 2 && dots.length !== 4) return -1;
  return isJoseHeader(text.slice(s, dots[0])) ? i : -1;
}

/**
 * JWT: a compact JWS (`header.payload.signature`) or JWE (five parts) whose header is base64url
 * JSON with an `alg` member. Base64 blobs that are not JOSE headers are not matched.
 *
 * @example
 *   jwtDetector.find('Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig') // [{ entity: 'JWT', start: 7, end: 35 }]
 */
export const jwtDetector: Detector = {
  entity: 'JWT',
  maxLength: MAX_LENGTH,
  lookbehind: 1,
  find(text: string): Finding[] {
    const out: Finding[] = [];
    for (let s = text.indexOf('eyJ'); s !== -1; s = text.indexOf('eyJ', s + 1)) {
      if (isJwtChar(codeAt(text, s - 1))) continue;
      const end = tokenAt(text, s);
      if (end !== -1) out.push({ entity: 'JWT', start: s, end });
    }
    return out;
  },
  pendingFrom(text: string): number {
    // A token starts where a run of token characters starts, with "eyJ"; held while it may grow.
    const stop = Math.max(0, text.length - MAX_LENGTH - 3);
    let r = text.length;
    while (r > stop && isJwtChar(text.charCodeAt(r - 1))) r--;
    if (r === stop && r > 0 && isJwtChar(text.charCodeAt(r - 1))) return text.length; // too long to be one
    const head = text.slice(r, r + 3);
    return 'eyJ'.startsWith(head) ? r : text.length;
  },
};
