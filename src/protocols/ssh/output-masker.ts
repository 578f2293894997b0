import { StringDecoder } from 'node:string_decoder';
import { StreamMasker } from '../../masking/stream-masker.ts';
import type { TextMasker } from '../../masking/text-masker.ts';

/** Most characters of each output stream kept for the recording (masked). */
export const RECORDED_OUTPUT_CHARS = 16_384;

/**
 * One output stream (stdout, stderr, or a terminal's output) on its way to the client. With a
 * masker: bytes are decoded as UTF-8 (a character split across chunks waits for its end) and go
 * through a {@link StreamMasker}, so no entity reaches the client whatever the chunk boundaries;
 * what is emitted is UTF-8 again (bytes that are not UTF-8 become U+FFFD — masking needs text).
 * Without a masker the bytes pass unchanged. Keeps the first {@link RECORDED_OUTPUT_CHARS}
 * characters of what the client received, for the recording.
 *
 * Fail closed: a masking error (hold limit, detector failure) throws from `push`/`end`; the caller
 * ends the channel without sending what was held.
 *
 * @example
 *   const out = new OutputMasker(masker);
 *   channel.write(out.push(chunk)); … channel.write(out.end());
 */
export class OutputMasker {
  #stream: StreamMasker | undefined;
  readonly #masker: TextMasker | undefined;
  readonly #decoder = new StringDecoder('utf8');
  #kept = '';
  #bytes = 0;
  #record: boolean;

  constructor(masker: TextMasker | undefined, opts: { readonly record: boolean }) {
    this.#masker = masker;
    this.#stream = masker ? new StreamMasker(masker) : undefined;
    this.#record = opts.record;
  }

  /** The bytes to send for this chunk (possibly empty: held back until the entity is decided). */
  push(chunk: Buffer): Buffer {
    if (!this.#stream) return this.#keep(chunk);
    const text = this.#stream.push(this.#decoder.write(chunk));
    return this.#keep(Buffer.from(text, 'utf8'));
  }

  /** Flushes what was held (the stream ended). */
  end(): Buffer {
    if (!this.#stream) return Buffer.alloc(0);
    const rest = this.#stream.push(this.#decoder.end());
    return this.#keep(Buffer.from(rest + this.#stream.end(), 'utf8'));
  }

  /** Characters held back, waiting for what follows to decide whether they are part of an entity. */
  get held(): number {
    return this.#stream?.heldLength ?? 0;
  }

  /**
   * Interactive terminals only: the upstream went quiet with text held back (a prompt, an echo),
   * so the held text is decided as if the stream ended — masked as a whole — and a new stream
   * starts. An entity split across such a pause is masked in two halves, each on its own (see
   * SECURITY.md); exec output never uses this.
   */
  flushIdle(): Buffer {
    if (!this.#stream || !this.#masker || this.#stream.heldLength === 0) return Buffer.alloc(0);
    const out = this.#stream.end();
    this.#stream = new StreamMasker(this.#masker);
    return this.#keep(Buffer.from(out, 'utf8'));
  }

  /** Bytes sent to the client so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The start of what the client received (masked), at most {@link RECORDED_OUTPUT_CHARS} characters. */
  get recorded(): string {
    return this.#kept;
  }

  /** Number of entities masked so far. */
  get masked(): number {
    return this.#stream ? this.#stream.summary().findings : 0;
  }

  /** Takes what was kept for the recording since the last call (terminal events). */
  takeRecorded(): string {
    const t = this.#kept;
    this.#kept = '';
    return t;
  }

  #keep(out: Buffer): Buffer {
    this.#bytes += out.length;
    if (this.#record && out.length > 0 && this.#kept.length < RECORDED_OUTPUT_CHARS) {
      this.#kept += out.toString('utf8').slice(0, RECORDED_OUTPUT_CHARS - this.#kept.length);
    }
    return out;
  }
}
