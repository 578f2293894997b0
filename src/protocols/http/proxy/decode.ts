import { Buffer } from 'node:buffer';
import { pipeline, type Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import type { Coding } from './media.ts';
import type { ErrorCode } from '../../../kernel/errors.ts';

/** Most bytes a compressed body may decode to (a decompression bomb fails beyond it). */
export const DECODED_LIMIT = 256 * 1024 * 1024;

/** Thrown when a body cannot be decoded (bad compressed data, bomb, undecodable text). */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  /** The registry code (a body that cannot be decoded cannot be inspected). */
  readonly code = 'uninspectable_media' satisfies ErrorCode;
}

function decompressor(c: Coding): Transform {
  switch (c) {
    case 'gzip': return zlib.createGunzip();
    case 'deflate': return zlib.createInflate();
    case 'br': return zlib.createBrotliDecompress();
    case 'zstd': return zlib.createZstdDecompress();
  }
}

/**
 * The body with its content codings undone (last applied, first undone), streamed with
 * backpressure; at most `limit` decoded bytes, else a {@link DecodeError}. Returns `body`
 * itself when there is nothing to decode.
 */
export function decodeStream(body: Readable, codings: readonly Coding[], limit = DECODED_LIMIT): AsyncIterable<Uint8Array> {
  if (codings.length === 0) return body;
  const stages: Transform[] = [...codings].reverse().map(decompressor);
  const out = pipeline([body, ...stages], () => undefined) as unknown as Readable;
  return bounded(out, limit);
}

async function* bounded(src: AsyncIterable<Uint8Array>, limit: number): AsyncIterable<Uint8Array> {
  let n = 0;
  try {
    for await (const chunk of src) {
      n += chunk.length;
      if (n > limit) throw new DecodeError('the decoded body exceeds the size limit');
      yield chunk;
    }
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw new DecodeError('the body is not valid compressed data');
    if (typeof code === 'string' && code.startsWith('ERR_ZSTD') || code === 'ERR_BROTLI_DECOMPRESSION_FAILED') throw new DecodeError('the body is not valid compressed data');
    throw err;
  }
}

/** The body with its codings undone, whole (request bodies); `limit` bounds the decoded size. */
export function decodeSync(body: Buffer, codings: readonly Coding[], limit: number): Buffer {
  let b = body;
  for (const c of [...codings].reverse()) {
    try {
      const opts = { maxOutputLength: limit };
      b = c === 'gzip' ? zlib.gunzipSync(b, opts) : c === 'deflate' ? zlib.inflateSync(b, opts) : c === 'br' ? zlib.brotliDecompressSync(b, opts) : zlib.zstdDecompressSync(b, opts);
    } catch (err) {
      if (err instanceof RangeError) throw new DecodeError('the decoded body exceeds the size limit');
      throw new DecodeError('the body is not valid compressed data');
    }
  }
  return b;
}

/**
 * The decoder for a declared charset (WHATWG labels: utf-8, utf-16le/be, iso-8859-x,
 * windows-125x, shift_jis, gb18030, …); `undefined` when the charset cannot be decoded.
 * Without a declared charset, UTF-8. Fatal: invalid bytes throw.
 */
export function charsetDecoder(charset: string | undefined): TextDecoder | undefined {
  try {
    const d = new TextDecoder(charset ?? 'utf-8', { fatal: true });
    // The WHATWG "replacement" encoding (iso-2022-kr, hz-gb-2312, …) decodes nothing.
    return d.encoding === 'replacement' ? undefined : d;
  } catch {
    return undefined;
  }
}

/** The encoding a byte-order mark names, if the bytes start with one. */
function bomEncoding(b: Uint8Array): string | undefined {
  if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return 'utf-8';
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return 'utf-16le';
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return 'utf-16be';
  return undefined;
}

/**
 * Incremental text decoding by the declared charset, where a byte-order mark at the start wins
 * (WHATWG "decode"): UTF-16 sent as `charset=utf-8` is read as UTF-16. The BOM is dropped.
 * Invalid input and NUL characters throw a {@link DecodeError} (text with NULs is read
 * differently by different clients).
 *
 * @example const d = new TextDecoding(decoder); d.push(bytes) + d.end()
 */
export class TextDecoding {
  #decoder: TextDecoder;
  #start: Buffer | undefined = Buffer.alloc(0);

  constructor(declared: TextDecoder) {
    this.#decoder = declared;
  }

  /** Decodes a chunk; returns the text that is complete. */
  push(chunk: Uint8Array): string {
    if (this.#start !== undefined) {
      const head = Buffer.concat([this.#start, chunk]);
      if (head.length < 3) {
        this.#start = head;
        return '';
      }
      this.#start = undefined;
      return this.#decode(this.#sniff(head), true);
    }
    return this.#decode(chunk, true);
  }

  /** Ends the input: the rest of the text (throws on a truncated sequence). */
  end(): string {
    const rest = this.#start !== undefined ? this.#sniff(this.#start) : new Uint8Array(0);
    this.#start = undefined;
    return this.#decode(rest, false);
  }

  #sniff(head: Buffer): Uint8Array {
    const bom = bomEncoding(head);
    if (bom !== undefined && bom !== this.#decoder.encoding) this.#decoder = new TextDecoder(bom, { fatal: true });
    return head;
  }

  #decode(b: Uint8Array, stream: boolean): string {
    let s: string;
    try {
      s = this.#decoder.decode(b, { stream });
    } catch {
      throw new DecodeError(`the body is not valid ${this.#decoder.encoding}`);
    }
    if (s.includes('\u0000')) throw new DecodeError('the text contains NUL characters');
    return s;
  }
}

/** Decodes a whole text body (see {@link TextDecoding}). */
export function decodeText(body: Uint8Array, declared: TextDecoder): string {
  const d = new TextDecoding(declared);
  return d.push(body) + d.end();
}

