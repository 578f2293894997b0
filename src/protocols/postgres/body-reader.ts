import { ProtocolError } from './errors.ts';

/**
 * Bounds-checked reads from one message body. Every read past the end, every count that cannot
 * fit in the remaining bytes and every unterminated string throws ProtocolError.
 *
 * @example
 *   const r = new BodyReader(frame.body); const name = r.cstring(); const n = r.int16();
 */
export class BodyReader {
  readonly #buf: Buffer;
  #pos = 0;

  constructor(buf: Buffer) {
    this.#buf = buf;
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  get position(): number {
    return this.#pos;
  }

  #need(n: number): void {
    if (n < 0 || this.#pos + n > this.#buf.length) throw new ProtocolError('message is truncated');
  }

  byte(): number {
    this.#need(1);
    return this.#buf[this.#pos++]!;
  }

  int16(): number {
    this.#need(2);
    const v = this.#buf.readInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  /** A count (int16) whose items need at least `itemBytes` each: checked against what is left. */
  count16(itemBytes: number): number {
    const n = this.int16();
    if (n < 0 || n * itemBytes > this.remaining) throw new ProtocolError(`invalid count ${n}`);
    return n;
  }

  int32(): number {
    this.#need(4);
    const v = this.#buf.readInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  uint32(): number {
    this.#need(4);
    const v = this.#buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.#need(n);
    const b = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return b;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    const end = this.#buf.indexOf(0, this.#pos);
    if (end < 0) throw new ProtocolError('unterminated string');
    const s = this.#buf.toString('utf8', this.#pos, end);
    this.#pos = end + 1;
    return s;
  }

  /** Throws unless the whole body was consumed. */
  end(): void {
    if (this.#pos !== this.#buf.length) throw new ProtocolError('unexpected bytes at the end of a message');
  }
}
