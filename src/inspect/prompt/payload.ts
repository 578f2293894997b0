import { isUtf8 } from 'node:buffer';
import { deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';

/**
 * Encoded payloads inside JSON strings: `data:` URLs (base64 or percent-encoded), bare base64
 * (standard or URL alphabet, MIME line breaks, as in Anthropic `{"type": "base64", "data": …}`
 * sources, OpenAI `input_audio.data`, or any other field), hex, percent-escaped text, and the
 * escapes a reader undoes in text (`\u0040`, `\x40`, `\100`, `&#64;`, `&#x40;`, `&commat;`).
 * The walk scans the string as it is *and* what it decodes to, so plaintext cannot hide behind an
 * encoding.
 *
 * Decoded bytes are read as text when they are valid UTF-8, or UTF-16 (a byte order mark, or at
 * least half of the high bytes zero as in mostly-Latin text). UTF-16 without a byte order mark
 * is a guess: such a payload says so (`otherReading`), and the walk also scans the same bytes
 * read without UTF-16 ({@link DecodeOptions.utf16} false: UTF-8, else Latin-1), which is what a
 * reader dropping the NULs of `A\0A\0…bob@example.com` sees. Control characters do not make
 * them binary (the detectors' normalization drops them, so `\x01b\x01o\x01b@…` is still read).
 * gzip and zlib streams are inflated (bounded) and read the same way. What is left — bytes that
 * are neither — is binary: unless it starts with the signature of an image, audio or video
 * format (PNG, JPEG, GIF, WebP, BMP, TIFF, ICO, WAV, MP3, Ogg, FLAC, MP4/MOV, WebM), it is
 * also read byte for byte as Latin-1, so ASCII text inside any other binary wrapper (a
 * protobuf, a custom header, a PDF) is scanned and masked in place. The declared media type is
 * not trusted either way. Binary payloads are reported as attachments (media type, size) for
 * policy; the inner structure of real media (image metadata, compressed PDF streams) is not
 * inspected.
 */

/** Largest encoded payload decoded (characters); a longer one is refused (it cannot be inspected). */
export const MAX_PAYLOAD_CHARS = 16 * 1024 * 1024;
/**
 * Inflated bytes one document may produce in all (gzip/zlib payloads across every string of it,
 * each also bounded by {@link MAX_PAYLOAD_CHARS}): a 64 KB body holding several gzip bombs would
 * otherwise be inflated and scanned tens of MiB deep on the event loop. Past it the document is
 * refused (`RangeError`, like one over-limit payload).
 */
export const MAX_INFLATED_PER_DOCUMENT = 16 * 1024 * 1024;
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
  | {
    /** `encode(masked, rawMasked)`: the string to put back; `rawMasked` is the string masked as it was (before decoding). */
    readonly kind: 'text'; readonly text: string; readonly encode: (masked: string, rawMasked: string) => string;
    /** Set when the bytes are not plain text (controls, compressed, a binary read as Latin-1): they also count as an attachment. */
    readonly attachment?: Attachment;
    /**
     * The text is a BOM-less UTF-16 reading (a guess): the same string decoded with `utf16: false`
     * is another plausible reading, to be scanned as well.
     */
    readonly otherReading?: true;
  }
  | ({ readonly kind: 'binary' } & Attachment);

/** Options of {@link decodePayload}. */
export interface DecodeOptions {
  /** Read bytes as UTF-16 when they look like it (default true); false gives the UTF-8 / Latin-1 reading. */
  readonly utf16?: boolean;
  /** Inflated bytes left for the document (shared by its strings, decremented); default: only the per-payload bound. */
  readonly budget?: InflateBudget;
}

/** What is left of a document's {@link MAX_INFLATED_PER_DOCUMENT}; create one per document. */
export interface InflateBudget {
  left: number;
}

/** A payload that is (also) a binary attachment. */
export interface Attachment {
  readonly mediaType: string | undefined;
  /** Decoded size in bytes. */
  readonly bytes: number;
  /** It was a `data:` URL (then it is always reported). */
  readonly dataUrl: boolean;
}

/**
 * The payload `s` carries, or undefined when it is none of: a `data:` URL, hex (an even run of
 * 16+ hex digits), base64 (16+ characters of the standard or URL alphabet, MIME line breaks
 * allowed), or text with percent-escapes (`bob%40example.com`). Throws `RangeError` for a payload
 * longer than {@link MAX_PAYLOAD_CHARS} (fail closed).
 *
 * @example decodePayload('data:text/plain;base64,Ym9iQGV4YW1wbGUuY29t') // { kind: 'text', text: 'bob@example.com', … }
 */
export function decodePayload(s: string, opts: DecodeOptions = {}): Payload | undefined {
  if (s.length < MIN_PERCENT) return undefined;
  const c = s.charCodeAt(0);
  if (c === 100 || c === 68) { // d / D
    const m = DATA_URL.exec(s.slice(0, 1024));
    if (m !== null) return dataUrl(s, m, opts);
  }
  if (s.length >= MIN_BARE) {
    let hex: Payload | undefined;
    if (s.length % 2 === 0 && HEX.test(s)) {
      bound(s.length);
      const upper = /[A-F]/.test(s);
      hex = classify(Buffer.from(s, 'hex'), undefined, false, opts, (bytes) => (upper ? bytes.toString('hex').toUpperCase() : bytes.toString('hex')));
      if (hex.kind === 'text' && hex.attachment === undefined) return hex;
      // Binary as hex: base64 (whose alphabet holds every hex digit) may still read as text.
      const b = BASE64.test(s) ? decodeBase64(s, opts) : undefined;
      return b?.kind === 'text' && b.attachment === undefined ? b : hex;
    }
    if (BASE64.test(s)) {
      const p = decodeBase64(s, opts);
      if (p !== undefined) return p;
    }
  }
  if ((s.includes('\\') || s.includes('&')) && ESCAPE_TEST.test(s)) {
    bound(s.length);
    const text = unescapeText(s);
    // A masked result replaces the string decoded (the escapes are not re-applied): the text a
    // reader sees either way, with the entity gone.
    if (text !== s) return { kind: 'text', text, encode: keepEscapes };
  }
  if (s.includes('%') && PERCENT.test(s)) {
    bound(s.length);
    let text: string;
    try {
      text = decodeURIComponent(s);
    } catch {
      // Not decodable as a whole (a stray `%`, a broken UTF-8 sequence): each valid escape is.
      text = unescapeText(s);
      return text === s ? undefined : { kind: 'text', text, encode: keepEscapes };
    }
    if (text !== s) return { kind: 'text', text, encode: (masked) => encodeURIComponent(masked) };
  }
  return undefined;
}

/** Bare base64 (standard or URL alphabet, MIME line breaks); undefined when its length cannot be base64. */
function decodeBase64(s: string, opts: DecodeOptions): Payload | undefined {
  const compact = s.includes('\n') || s.includes('\r') ? s.replace(/[\r\n]/g, '') : s;
  if (compact.length % 4 === 1) return undefined;
  bound(compact.length);
  const url = /[-_]/.test(compact);
  const padded = compact.endsWith('=');
  return classify(Buffer.from(compact, 'base64'), undefined, false, opts, (bytes) => {
    let out = bytes.toString(url ? 'base64url' : 'base64');
    if (url && padded) out += '='.repeat((4 - (out.length % 4)) % 4);
    if (!url && !padded) out = out.replace(/=+$/, '');
    return out;
  });
}

function dataUrl(s: string, m: RegExpExecArray, opts: DecodeOptions): Payload | undefined {
  const head = m[0];
  const mediaType = m[1]?.toLowerCase();
  const body = s.slice(head.length);
  bound(body.length);
  if (m[3] !== undefined) {
    return classify(Buffer.from(body, 'base64'), mediaType, true, opts, (bytes) => head + bytes.toString('base64'));
  }
  let text: string;
  try {
    text = decodeURIComponent(body);
  } catch {
    text = unescapeText(body); // not decodable as a whole: each valid escape is
    return text === body ? undefined : { kind: 'text', text, encode: (masked) => head + encodeURIComponent(masked) };
  }
  if (text === body) return undefined;
  return { kind: 'text', text, encode: (masked) => head + encodeURIComponent(masked) };
}

function bound(n: number): void {
  if (n > MAX_PAYLOAD_CHARS) throw new RangeError(`an encoded payload of ${n} characters exceeds the inspection limit`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf16le = new TextDecoder('utf-16le', { fatal: true });

/** `opts.utf16` false: the bytes are not read as UTF-16 (the other reading of a BOM-less UTF-16 guess). */
function classify(buf: Buffer, mediaType: string | undefined, isDataUrl: boolean, opts: DecodeOptions, reencode: (b: Buffer) => string, inflated = false): Payload {
  const attachment: Attachment = { mediaType, bytes: buf.length, dataUrl: isDataUrl };
  const binary: Payload = { kind: 'binary', ...attachment };
  const u16 = (opts.utf16 ?? true) ? utf16Order(buf) : undefined;
  if (u16 !== undefined) {
    const bom = buf.length >= 2 && ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff));
    const le = u16 === 'le' ? buf : swap(buf);
    let text: string | undefined;
    try {
      text = utf16le.decode(bom ? le.subarray(2) : le);
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      return {
        kind: 'text', text, ...(CONTROL.test(text) || inflated ? { attachment } : {}), ...(bom ? {} : { otherReading: true as const }),
        encode: (masked) => {
          const b = Buffer.from(masked, 'utf16le');
          const body = u16 === 'le' ? b : swap(b);
          return reencode(bom ? Buffer.concat([buf.subarray(0, 2), body]) : body);
        },
      };
    }
  }
  if (isUtf8(buf)) { // no exception on the common path (garbage from a word that looked like base64)
    const text = utf8.decode(buf);
    return { kind: 'text', text, ...(CONTROL.test(text) || inflated ? { attachment } : {}), encode: (masked) => reencode(Buffer.from(masked, 'utf8')) };
  }
  if (!inflated) {
    const inner = inflate(buf, opts.budget);
    if (inner !== undefined) {
      const p = classify(inner.bytes, mediaType, isDataUrl, opts, (b) => reencode(inner.compress(b)), true);
      return p.kind === 'text' ? { ...p, attachment } : binary;
    }
  }
  if (isMedia(buf)) return binary;
  // Any other binary: its bytes read one to one as Latin-1 (ASCII text in it is found and masked in place).
  return { kind: 'text', text: buf.toString('latin1'), attachment, encode: (masked) => reencode(Buffer.from(masked, 'latin1')) };
}

/**
 * A gzip or zlib stream inflated (bounded by {@link MAX_PAYLOAD_CHARS} and what is left of the
 * document's `budget`, which it decrements), and how to compress a masked version back.
 */
function inflate(buf: Buffer, budget: InflateBudget | undefined): { bytes: Buffer; compress: (b: Buffer) => Buffer } | undefined {
  const gzip = buf.length > 18 && buf[0] === 0x1f && buf[1] === 0x8b && buf[2] === 8;
  const zlib = !gzip && buf.length > 6 && (buf[0]! & 0x0f) === 8 && (buf[0]! >> 4) <= 7 && ((buf[0]! << 8) | buf[1]!) % 31 === 0;
  if (!gzip && !zlib) return undefined;
  const perDocument = budget !== undefined && budget.left < MAX_PAYLOAD_CHARS;
  const over = (cause?: unknown): RangeError => (perDocument
    ? new RangeError('compressed payloads in one document inflate beyond the inspection limit', { cause })
    : new RangeError('a compressed payload exceeds the inspection limit', { cause }));
  const limit = Math.min(MAX_PAYLOAD_CHARS, budget?.left ?? MAX_PAYLOAD_CHARS);
  if (limit <= 0) throw over();
  try {
    const bytes = gzip ? gunzipSync(buf, { maxOutputLength: limit }) : inflateSync(buf, { maxOutputLength: limit });
    if (budget !== undefined) budget.left -= bytes.length;
    return { bytes, compress: gzip ? (b) => gzipSync(b) : (b) => deflateSync(b) };
  } catch (err) {
    if (err instanceof RangeError) throw over(err);
    return undefined; // not a valid stream: the bytes are read as they are
  }
}

/** Signatures of image, audio and video formats (their bytes are not read as text). */
const MEDIA: readonly (readonly [number, readonly number[]])[] = [
  [0, [0x89, 0x50, 0x4e, 0x47]], // PNG
  [0, [0xff, 0xd8, 0xff]], // JPEG
  [0, [0x47, 0x49, 0x46, 0x38]], // GIF8
  [0, [0x42, 0x4d]], // BMP
  [0, [0x49, 0x49, 0x2a, 0x00]], [0, [0x4d, 0x4d, 0x00, 0x2a]], // TIFF
  [0, [0x00, 0x00, 0x01, 0x00]], // ICO
  [0, [0x52, 0x49, 0x46, 0x46]], // RIFF (WAV, WebP, AVI)
  [0, [0x49, 0x44, 0x33]], [0, [0xff, 0xfb]], [0, [0xff, 0xf3]], [0, [0xff, 0xf2]], // MP3
  [0, [0x4f, 0x67, 0x67, 0x53]], // Ogg
  [0, [0x66, 0x4c, 0x61, 0x43]], // FLAC
  [4, [0x66, 0x74, 0x79, 0x70]], // ISO media (MP4, MOV, HEIC, AVIF)
  [0, [0x1a, 0x45, 0xdf, 0xa3]], // Matroska / WebM
];

function isMedia(buf: Buffer): boolean {
  return MEDIA.some(([at, sig]) => buf.length >= at + sig.length + 8 && sig.every((b, i) => buf[at + i] === b));
}

/**
 * The masked form of an escaped string: the string masked as written when that already masks
 * everything the decoded text shows (escapes elsewhere in it are kept, as a stream of the same
 * text would keep them), else the decoded text masked.
 */
function keepEscapes(masked: string, rawMasked: string): string {
  return unescapeText(rawMasked) === masked ? rawMasked : masked;
}

/** Escapes a reader undoes in text: JS/JSON/C (`\u0040`, `\u{40}`, `\x40`, octal `\100`) and HTML/XML references. */
const ESCAPE = /\\u([0-9A-Fa-f]{4})|\\u\{([0-9A-Fa-f]{1,6})\}|\\x([0-9A-Fa-f]{2})|\\([0-3][0-7]{2})|&#([0-9]{1,8});?|&#[xX]([0-9A-Fa-f]{1,7});?|&([A-Za-z][A-Za-z0-9]{1,31});|%([0-9A-Fa-f]{2})/g;
const ESCAPE_TEST = /\\(?:u[0-9A-Fa-f{]|x[0-9A-Fa-f]|[0-3][0-7])|&#|&[A-Za-z][A-Za-z0-9]{1,31};/;
/** Named references of characters that can be part of an entity or separate its parts. */
const NAMED: Readonly<Record<string, string>> = {
  commat: '@', period: '.', plus: '+', minus: '-', hyphen: '-', dash: '-', ndash: '-', mdash: '-', lowbar: '_', num: '#',
  colon: ':', sol: '/', equals: '=', lpar: '(', rpar: ')', comma: ',', nbsp: ' ', ensp: ' ', emsp: ' ', thinsp: ' ',
  amp: '&', quot: '"', apos: "'", lt: '<', gt: '>', excl: '!', quest: '?', dollar: '$', percnt: '%', ast: '*', semi: ';',
};

/** `s` with every escape of {@link ESCAPE} decoded (a code point outside Unicode, a surrogate or NUL stays as written). */
export function unescapeText(s: string): string {
  return s.replace(ESCAPE, (m, u?: string, ub?: string, x?: string, o?: string, d?: string, h?: string, name?: string, p?: string) => {
    if (name !== undefined) return NAMED[name] ?? m;
    const cp = u !== undefined ? Number.parseInt(u, 16) : ub !== undefined ? Number.parseInt(ub, 16) : x !== undefined ? Number.parseInt(x, 16)
      : o !== undefined ? Number.parseInt(o, 8) : d !== undefined ? Number.parseInt(d, 10) : Number.parseInt(h ?? p ?? '', 16);
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return m;
    return String.fromCodePoint(cp);
  });
}

/**
 * UTF-16 byte order: a byte order mark, or (even length ≥ 4, no zero in the other byte of a unit)
 * at least half of the high bytes zero, as in text that is mostly Latin letters, digits and
 * punctuation (`Grüße bob@example.com €`). Random binary has about one zero byte in 256.
 */
function utf16Order(buf: Buffer): 'le' | 'be' | undefined {
  if (buf.length < 2 || buf.length % 2 !== 0) return undefined;
  if (buf[0] === 0xff && buf[1] === 0xfe) return 'le';
  if (buf[0] === 0xfe && buf[1] === 0xff) return 'be';
  if (buf.length < 4) return undefined;
  let hiLe = 0;
  let hiBe = 0;
  let le = true;
  let be = true;
  for (let i = 0; i < buf.length && (le || be); i += 2) {
    const a = buf[i]!;
    const b = buf[i + 1]!;
    if (b === 0) { hiLe++; if (a === 0) { le = false; be = false; } } else if (a === 0) hiBe++;
  }
  const units = buf.length / 2;
  if (le && hiLe * 2 >= units && hiBe === 0) return 'le';
  if (be && hiBe * 2 >= units && hiLe === 0) return 'be';
  return undefined;
}

function swap(buf: Buffer): Buffer {
  const out = Buffer.from(buf);
  out.swap16();
  return out;
}
