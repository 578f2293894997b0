/**
 * Builds one protocol message. Each call site owns its writer (never shared between
 * connections); `frame(type)` returns a fresh Buffer and resets the writer.
 *
 * @example
 *   const q = new MessageWriter().cstring('SELECT 1').frame(0x51); // Query
 */
export class MessageWriter {
  #buf: Buffer;
  #len = 0;

  constructor(initial = 256) {
    this.#buf = Buffer.allocUnsafe(initial);
  }

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  byte(v: number): this {
    this.#ensure(1);
    this.#buf[this.#len++] = v & 0xff;
    return this;
  }

  int16(v: number): this {
    this.#ensure(2);
    this.#buf.writeInt16BE(v, this.#len);
    this.#len += 2;
    return this;
  }

  int32(v: number): this {
    this.#ensure(4);
    this.#buf.writeInt32BE(v | 0, this.#len);
    this.#len += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#ensure(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.#ensure(n + 1);
    this.#buf.write(s, this.#len, 'utf8');
    this.#len += n;
    this.#buf[this.#len++] = 0;
    return this;
  }

  /** A typed message: type byte, int32 length (self-inclusive), body. */
  frame(type: number): Buffer {
    const out = Buffer.allocUnsafe(this.#len + 5);
    out[0] = type;
    out.writeInt32BE(this.#len + 4, 1);
    this.#buf.copy(out, 5, 0, this.#len);
    this.#len = 0;
    return out;
  }

  /** An untyped message (startup, SSLRequest, CancelRequest): int32 length then body. */
  untyped(): Buffer {
    const out = Buffer.allocUnsafe(this.#len + 4);
    out.writeInt32BE(this.#len + 4, 0);
    this.#buf.copy(out, 4, 0, this.#len);
    this.#len = 0;
    return out;
  }
}

/** A message with no body (Sync, Flush, ParseComplete …). */
export function emptyMessage(type: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b[0] = type;
  b.writeInt32BE(4, 1);
  return b;
}

/** ReadyForQuery with a transaction status (`I`, `T` or `E`). */
export function readyForQuery(status: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b[0] = 0x5a;
  b.writeInt32BE(5, 1);
  b[5] = status;
  return b;
}
