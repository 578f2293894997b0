import { MessageLengthError } from './errors.ts';

/** One framed message. `body` excludes the header; `raw` is the whole message as received. */
export interface Frame {
  /** The type byte, or 0 for an untyped startup-phase message. */
  readonly type: number;
  readonly body: Buffer;
  readonly raw: Buffer;
}

/** Limits of a {@link FrameReader}. */
export interface FrameLimits {
  /** Largest typed message, header included (default 64 MiB). */
  readonly maxMessage?: number;
  /** Largest untyped startup-phase message (default 10 000 bytes, as PostgreSQL). */
  readonly maxStartup?: number;
}

export const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;
export const DEFAULT_MAX_STARTUP = 10_000;
/** First buffer of a message split across chunks; it doubles as bytes arrive. */
const INITIAL_PARTIAL = 64 * 1024;

/**
 * Incremental framing of a PostgreSQL byte stream. Complete messages inside a chunk are returned
 * as zero-copy slices; a message split across chunks is assembled in a buffer that grows with the
 * bytes that actually arrived (doubling, up to the declared length, which was checked against the
 * limit first): a peer that declares 64 MiB and sends five bytes costs 64 KiB, not 64 MiB. Holds
 * at most one partial message.
 *
 * @example
 *   const r = new FrameReader();
 *   socket.on('data', (chunk) => { for (const f of r.push(chunk)) handle(f); });
 */
export class FrameReader {
  readonly #maxMessage: number;
  readonly #maxStartup: number;
  #untyped: boolean;
  /** Header bytes of a message whose header is split (≤ 5). */
  readonly #head = Buffer.alloc(5);
  #headLen = 0;
  /** The message being assembled, when split across chunks. */
  #partial: Buffer | undefined;
  #partialLen = 0;
  /** Declared length of the message in #partial (header included). */
  #partialTotal = 0;
  #partialType = 0;

  /** `untyped`: start in the startup phase (messages without a type byte). */
  constructor(opts: FrameLimits & { untyped?: boolean } = {}) {
    this.#maxMessage = opts.maxMessage ?? DEFAULT_MAX_MESSAGE;
    this.#maxStartup = opts.maxStartup ?? DEFAULT_MAX_STARTUP;
    this.#untyped = opts.untyped ?? false;
  }

  /** Switches to typed messages (after the startup packet). */
  typed(): void {
    this.#untyped = false;
  }

  /** Bytes held for an incomplete message. */
  get buffered(): number {
    return this.#headLen + this.#partialLen;
  }

  /** Bytes allocated for the incomplete message (grows with `buffered`, never to the declared size at once). */
  get capacity(): number {
    return this.#partial?.length ?? 0;
  }

  /** Feeds a chunk; returns every message it completes. Throws ProtocolError on a bad length. */
  push(chunk: Buffer): Frame[] {
    const out: Frame[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      // In the startup phase, stop after one message: the caller switches modes (or TLS) first.
      if (this.#untyped && out.length > 0) break;
      if (this.#partial !== undefined) {
        const n = Math.min(chunk.length - pos, this.#partialTotal - this.#partialLen);
        this.#reserve(this.#partialLen + n);
        chunk.copy(this.#partial, this.#partialLen, pos, pos + n);
        this.#partialLen += n;
        pos += n;
        if (this.#partialLen === this.#partialTotal) {
          out.push(this.#frame(this.#partialType, this.#partial));
          this.#partial = undefined;
          this.#partialLen = 0;
        }
        continue;
      }
      const headSize = this.#untyped ? 4 : 5;
      if (this.#headLen === 0 && chunk.length - pos >= headSize) {
        const type = this.#untyped ? 0 : chunk[pos]!;
        const total = this.#total(chunk.readInt32BE(pos + headSize - 4));
        if (chunk.length - pos >= total) {
          out.push(this.#frame(type, chunk.subarray(pos, pos + total)));
          pos += total;
          continue;
        }
        this.#startPartial(type, total);
        continue;
      }
      // The header itself is split.
      const n = Math.min(headSize - this.#headLen, chunk.length - pos);
      chunk.copy(this.#head, this.#headLen, pos, pos + n);
      this.#headLen += n;
      pos += n;
      if (this.#headLen === headSize) {
        const type = this.#untyped ? 0 : this.#head[0]!;
        const total = this.#total(this.#head.readInt32BE(headSize - 4));
        this.#headLen = 0;
        this.#startPartial(type, total);
        this.#head.copy(this.#partial!, 0, 0, headSize);
        this.#partialLen = headSize;
        if (this.#partialLen === total) {
          out.push(this.#frame(type, this.#partial!));
          this.#partial = undefined;
          this.#partialLen = 0;
        }
      }
    }
    if (pos < chunk.length) this.#rest = chunk.subarray(pos);
    return out;
  }

  /** Bytes after an untyped message in the same chunk; the caller feeds them back once typed. */
  #rest: Buffer | undefined;

  /** Takes the bytes left over after a startup-phase message (see `push`). */
  takeRest(): Buffer | undefined {
    const r = this.#rest;
    this.#rest = undefined;
    return r;
  }

  #total(len: number): number {
    const max = this.#untyped ? this.#maxStartup : this.#maxMessage;
    const total = len + (this.#untyped ? 0 : 1);
    if (len < 4) throw new MessageLengthError(len, undefined, this.#untyped);
    if (total > max) throw new MessageLengthError(total, max, this.#untyped);
    return total;
  }

  #startPartial(type: number, total: number): void {
    this.#partial = Buffer.allocUnsafe(Math.min(total, INITIAL_PARTIAL));
    this.#partialLen = 0;
    this.#partialTotal = total;
    this.#partialType = type;
  }

  /** Grows #partial (doubling, at most to the declared length) to hold `need` bytes. */
  #reserve(need: number): void {
    const cur = this.#partial!;
    if (need <= cur.length) return;
    let size = cur.length;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(Math.min(size, this.#partialTotal));
    cur.copy(next, 0, 0, this.#partialLen);
    this.#partial = next;
  }

  #frame(type: number, raw: Buffer): Frame {
    return { type, raw, body: raw.subarray(this.#untyped ? 4 : 5) };
  }
}
