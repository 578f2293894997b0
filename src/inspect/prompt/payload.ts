/**
 * Encoded payloads inside JSON strings: `data:` URLs (base64 or percent-encoded) and bare base64
 * (standard or URL alphabet, as in Anthropic `{"type": "base64", "data": …}` sources, OpenAI
 * `input_audio.data`, or any other field). The walk scans the string as it is *and* what it
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
/** Shortest bare base64 string that is decoded (shorter runs are ordinary words and ids). */
const MIN_BARE = 16;

const DATA_URL = /^data:([\w.+-]{0,100}\/[\w.+-]{0,100})?((?:;[\w.+-]{1,100}=[^;,]{0,200}){0,8})(;base64)?,/i;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
// eslint-disable-next-line no-control-regex -- the control characters are what is tested for
const CONTROL = /[\u0000-\u0008\u000e-\u001f\u007f]/;

/** A payload the walk found: text to scan (and how to encode a masked version back), or binary. */
export type Payload =
  | { readonly kind: 'text'; readonly text: string; readonly encode: (masked: string) => string }
  | { readonly kind: 'binary'; readonly mediaType: string | undefined; readonly bytes: number; readonly dataUrl: boolean };

/**
 * The payload `s` carries, or undefined when it is not a `data:` URL or a bare base64 string.
 * Throws `RangeError` for a payload longer than {@link MAX_PAYLOAD_CHARS} (fail closed).
 *
 * @example decodePayload('data:text/plain;base64,Ym9iQGV4YW1wbGUuY29t') // { kind: 'text', text: 'bob@example.com', … }
 */
export function decodePayload(s: string): Payload | undefined {
  if (s.length < MIN_BARE) return undefined;
  if (s.charCodeAt(0) === 100 || s.charCodeAt(0) === 68) { // d / D
    const m = DATA_URL.exec(s.slice(0, 1024));
    if (m !== null) return dataUrl(s, m);
  }
  if (!BASE64.test(s) || s.length % 4 === 1) return undefined;
  bound(s.length);
  const buf = Buffer.from(s, 'base64');
  const url = /[-_]/.test(s);
  const padded = s.endsWith('=');
  return classify(buf, undefined, false, (bytes) => {
    let out = bytes.toString(url ? 'base64url' : 'base64');
    if (url && padded) out += '='.repeat((4 - (out.length % 4)) % 4);
    if (!url && !padded) out = out.replace(/=+$/, '');
    return out;
  });
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
  let text: string;
  try {
    text = utf8.decode(buf);
  } catch {
    return binary;
  }
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
