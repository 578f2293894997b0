import { GatehouseError } from '../../../kernel/errors.ts';

/** One Server-Sent Event (WHATWG HTML, "event stream interpretation"). */
export interface SseEvent {
  /** The `event:` field; undefined for the default `message` type. */
  readonly event?: string;
  /** The `data:` lines joined with `\n`. */
  readonly data: string;
  readonly id?: string;
}

/** Default bound on one event (its pending line plus data), in UTF-16 code units. */
export const DEFAULT_MAX_EVENT = 4 * 1024 * 1024;

/**
 * Incremental SSE parser: bytes in (any split, including inside a UTF-8 sequence or a CRLF),
 * complete events out. Comments and `retry:` are dropped. Bounded: an event (or line) larger
 * than `maxEvent` throws `internal` and the parser is dead.
 *
 * @example
 *   const p = new SseParser();
 *   p.push(Buffer.from('data: {"a":1}\n')); // []
 *   p.push(Buffer.from('\n'));              // [{ data: '{"a":1}' }]
 */
export class SseParser {
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });
  readonly #max: number;
  #line = '';
  #skipLf = false;
  #data: string[] = [];
  #dataSize = 0;
  #event: string | undefined;
  #id: string | undefined;

  constructor(opts: { maxEvent?: number } = {}) {
    this.#max = opts.maxEvent ?? DEFAULT_MAX_EVENT;
  }

  /** Feeds bytes; returns the events completed by them. */
  push(chunk: Uint8Array): SseEvent[] {
    return this.#text(this.#decode(chunk, true));
  }

  /** Ends the input; returns a last event only if it was complete (a trailing blank line). */
  end(): SseEvent[] {
    const rest = this.#decode(new Uint8Array(0), false);
    return this.#text(rest);
  }

  #decode(chunk: Uint8Array, stream: boolean): string {
    try {
      return this.#decoder.decode(chunk, { stream });
    } catch {
      throw new GatehouseError('uninspectable_media', 'upstream event stream is not valid UTF-8');
    }
  }

  #text(s: string): SseEvent[] {
    const out: SseEvent[] = [];
    let i = 0;
    if (this.#skipLf && s.length > 0) {
      if (s.charCodeAt(0) === 10) i = 1;
      this.#skipLf = false;
    }
    let nextCr = s.indexOf('\r', i);
    while (i < s.length) {
      if (nextCr >= 0 && nextCr < i) nextCr = s.indexOf('\r', i);
      let j = s.indexOf('\n', i);
      if (j < 0) j = s.length;
      if (nextCr >= 0 && nextCr < j) j = nextCr; // a CR (alone or in CRLF) ends the line first
      if (j === s.length) {
        this.#line += s.slice(i);
        if (this.#line.length + this.#dataSize > this.#max) throw new GatehouseError('uninspectable_media', 'upstream event exceeds the size limit');
        break;
      }
      const line = this.#line + s.slice(i, j);
      this.#line = '';
      if (s.charCodeAt(j) === 13) {
        if (j + 1 < s.length) {
          if (s.charCodeAt(j + 1) === 10) j++;
        } else {
          this.#skipLf = true;
        }
      }
      i = j + 1;
      const ev = this.#onLine(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  #onLine(line: string): SseEvent | undefined {
    if (line.length === 0) {
      if (this.#data.length === 0) {
        this.#event = undefined;
        return undefined;
      }
      const ev: SseEvent = {
        data: this.#data.join('\n'),
        ...(this.#event === undefined ? {} : { event: this.#event }),
        ...(this.#id === undefined ? {} : { id: this.#id }),
      };
      this.#data = [];
      this.#dataSize = 0;
      this.#event = undefined;
      return ev;
    }
    if (line.charCodeAt(0) === 58) return undefined; // ':' comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') {
      this.#dataSize += value.length + 1;
      if (this.#dataSize > this.#max) throw new GatehouseError('uninspectable_media', 'upstream event exceeds the size limit');
      this.#data.push(value);
    } else if (field === 'event') {
      this.#event = value;
    } else if (field === 'id' && !value.includes('\0')) {
      this.#id = value;
    }
    return undefined;
  }
}
