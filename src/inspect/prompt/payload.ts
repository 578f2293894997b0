import { isUtf8 } from 'node:buffer';

/**
 * Encoded payloads inside JSON strings: `data:` URLs (base64 or percent-encoded), bare base64
 * (standard or URL alphabet, MIME line breaks, as in Anthropic `{"type": "base64", "data": …}`
 * sources, OpenAI `input_audio.data`, or any other field), hex, and percent-escaped text. The walk scans the string as it is *and* what it
 * decodes to, so plaintext cannot hide behind an encoding.
 *
 * Text or binary: the decoded bytes are text when they are valid UTF-8 (or UTF-16 with a byte
 * order mark, or ASCII-range UTF-16 without one) with no control character other than tab, line
 * feed, vertical tab, form feed and carriage return. The declared media type is not trusted (an
 * `image/png` may hold a letter); a real image, audio or PDF file has bytes that are not UTF-8 or
 * are controls, so it is binary. Binary payloads are reported as attachments (media type, size)
 * for policy; their inner structure (compressed PDF text, image metadata) is not inspected.
 */

/** Largest encoded payload decoded (characters); a longer one is refused (it cannot be inspected). */
export const MAX_PAYLOAD_CHARS = 16 * 1024 * 1024;
/** Shortest bare hex or base64 string that is decoded (shorter runs are ordinary words and ids). */
const MIN_BARE = 16;
/** Shortest string checked for percent-escapes (`a%40b.io`). */
const MIN_PERCENT = 6;

const DATA_URL = /^data:([\w.+-]{0,100}\/[\w.+-]{0,100})?((?:;[\w.+-]{1,100}=[^;,]{0,200}){0,8})(;base64)?,/i;
const BASE64 = /^[A-Za-z0-9+/_\r\n-]+={0,2}[\r\n]*$/;
const HEX = /^[0-9A-Fa-f]+$/;
const PERCENT = /%[0-9A-Fa-f]{2}/;
// eslint-disable-next-line no-control-regex -- the control characters are what is tested for
const CONTROL = /[\u0000-\u0008\u000e-\u001f\u007f]/;

/** A payload the walk found: text to scan (and how to encode a masked version back), or binary. */
export type Payload =
  | { readonly kind: 'text'; readonly text: string; readonly encode: (masked: string) => string }
  | { readonly kind: 'binary'; readonly mediaType: string | undefined; readonly bytes: number; readonly dataUrl: boolean };

/**
 * The payload `s` carries, or undefined when it is none of: a `data:` URL, hex (an even run of
 * 16+ hex digits), base64 (16+ characters of the standard or URL alphabet, MIME line breaks
 * allowed), or text with percent-escapes (`bob%40example.com`). Throws `RangeError` for a payload
 * longer than {@link MAX_PAYLOAD_CHARS} (fail closed).
 *
 * @example decodePayload('data:text/plain;base64,Ym9iQGV4YW1wbGUuY29t') // { kind: 'text', text: 'bob@example.com', … }
 */
export function decodePayload(s: string): Payload | undefined {
  if (s.length < MIN_PERCENT) return undefined;
  const c = s.charCodeAt(0);
  if (c === 100 || c === 68) { // d / D
    const m = DATA_URL.exec(s.slice(0, 1024));
    if (m !== null) return dataUrl(s, m);
  }
  if (s.length >= MIN_BARE) {
    if (s.length % 2 === 0 && HEX.test(s)) {
      bound(s.length);
      const upper = /[A-F]/.test(s);
      const p = classify(Buffer.from(s, 'hex'), undefined, false, (bytes) => (upper ? bytes.toString('hex').toUpperCase() : bytes.toString('hex')));
      if (p.kind === 'text') return p;
    }
    if (BASE64.test(s)) {
      const compact = s.includes('\n') || s.includes('\r') ? s.replace(/[\r\n]/g, '') : s;
      if (compact.length % 4 !== 1) {
        bound(compact.length);
        const url = /[-_]/.test(compact);
        const padded = compact.endsWith('=');
        return classify(Buffer.from(compact, 'base64'), undefined, false, (bytes) => {
          let out = bytes.toString(url ? 'base64url' : 'base64');
          if (url && padded) out += '='.repeat((4 - (out.length % 4)) % 4);
          if (!url && !padded) out = out.replace(/=+$/, '');
          return out;
        });
      }
    }
  }
  if (s.includes('%') && PERCENT.test(s)) {
    bound(s.length);
    let text: string;
    try {
      text = decodeURIComponent(s);
    } catch {
      return undefined; // not percent-decodable: the raw string (already scanned) is all there is
    }
    if (text !== s) return { kind: 'text', text, encode: (masked) => encodeURIComponent(masked) };
  }
  return undefined;
}

function dataUrl(s: string, m: RegExpExecArray): Payload | undefined {
  const head = m[0];
  const mediaType = m[1]?.toLowerCase();
  const body = s.slice(head.length);
  bound(body.length);
  if (m[3] !== undefined) {
    return classify(Buffer.from(body, 'base64'), mediaType, true, (bytes) => head + bytes.toString('base64'));
  }
  let text: string;
  try {
    text = decodeURIComponent(body);
  } catch {
    return undefined; // not percent-decodable: the raw string (already scanned) is all there is
  }
  if (text === body) return undefined;
  return { kind: 'text', text, encode: (masked) => head + encodeURIComponent(masked) };
}

function bound(n: number): void {
  if (n > MAX_PAYLOAD_CHARS) throw new RangeError(`an encoded payload of ${n} characters exceeds the inspection limit`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf16le = new TextDecoder('utf-16le', { fatal: true });

function classify(buf: Buffer, mediaType: string | undefined, isDataUrl: boolean, reencode: (b: Buffer) => string): Payload {
  const binary: Payload = { kind: 'binary', mediaType, bytes: buf.length, dataUrl: isDataUrl };
  const u16 = utf16Order(buf);
  if (u16 !== undefined) {
    const bom = buf.length >= 2 && ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff));
    const le = u16 === 'le' ? buf : swap(buf);
    let text: string;
    try {
      text = utf16le.decode(bom ? le.subarray(2) : le);
    } catch {
      return binary;
    }
    if (CONTROL.test(text)) return binary;
    return {
      kind: 'text', text,
      encode: (masked) => {
        const b = Buffer.from(masked, 'utf16le');
        const body = u16 === 'le' ? b : swap(b);
        return reencode(bom ? Buffer.concat([buf.subarray(0, 2), body]) : body);
      },
    };
  }
  if (!isUtf8(buf)) return binary; // no exception on the common path (garbage from a word that looked like base64)
  const text = utf8.decode(buf);
  if (CONTROL.test(text)) return binary;
  return { kind: 'text', text, encode: (masked) => reencode(Buffer.from(masked, 'utf8')) };
}

/** UTF-16 byte order: a byte order mark, or (even length ≥ 4) every high byte zero as in ASCII text. */
function utf16Order(buf: Buffer): 'le' | 'be' | undefined {
  if (buf.length < 2 || buf.length % 2 !== 0) return undefined;
  if (buf[0] === 0xff && buf[1] === 0xfe) return 'le';
  if (buf[0] === 0xfe && buf[1] === 0xff) return 'be';
  if (buf.length < 4) return undefined;
  let le = true;
  let be = true;
  for (let i = 0; i < buf.length && (le || be); i += 2) {
    if (buf[i + 1] !== 0 || buf[i] === 0) le = false;
    if (buf[i] !== 0 || buf[i + 1] === 0) be = false;
  }
  return le ? 'le' : be ? 'be' : undefined;
}

function swap(buf: Buffer): Buffer {
  const out = Buffer.from(buf);
  out.swap16();
  return out;
}
