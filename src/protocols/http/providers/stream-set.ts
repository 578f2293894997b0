import { StreamMasker } from '../../../masking/stream-masker.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import { maskResponseJson } from '../../../inspect/prompt/inspect.ts';
import type { TextSink } from './types.ts';

/** Most content streams open at once in one response (choices × fields × tool calls); beyond it the stream fails closed. */
export const MAX_OPEN_STREAMS = 256;

/**
 * One {@link StreamMasker} per content stream of a response (a choice's content, a tool call's
 * arguments, a content block, an output item), created on first use and closed by `flush`.
 * Every emitted piece is also handed to the sink (recording). At most {@link MAX_OPEN_STREAMS} are
 * open at once (bounded memory whatever the upstream sends).
 *
 * @example
 *   const set = new StreamSet(masker, sink);
 *   delta.content = set.push('0/content', delta.content);
 *   const rest = set.flush('0/content'); // before the choice finishes
 */
export class StreamSet {
  readonly #masker: TextMasker;
  readonly #sink: TextSink;
  readonly #open = new Map<string, StreamMasker>();

  constructor(masker: TextMasker, sink: TextSink) {
    this.#masker = masker;
    this.#sink = sink;
  }

  /** Masked text safe to emit now for `key`. */
  push(key: string, text: string): string {
    let sm = this.#open.get(key);
    if (!sm) {
      if (this.#open.size >= MAX_OPEN_STREAMS) throw new Error('too many concurrent content streams in one response');
      sm = new StreamMasker(this.#masker);
      this.#open.set(key, sm);
    }
    const out = sm.push(text);
    if (out) this.#sink(out);
    return out;
  }

  /** Ends `key`'s stream: the held remainder, masked ('' when nothing is held or key unknown). */
  flush(key: string): string {
    const sm = this.#open.get(key);
    if (!sm) return '';
    this.#open.delete(key);
    const out = sm.end();
    if (out) this.#sink(out);
    return out;
  }

  /** Keys of the open streams (optionally those starting with `prefix`), in creation order. */
  keys(prefix = ''): string[] {
    return [...this.#open.keys()].filter((k) => k.startsWith(prefix));
  }

  /** One whole value, masked (not a stream: nothing is held). */
  maskText(s: string): string {
    return this.#masker.mask(s).text;
  }

  /**
   * Masks a whole (non-delta) object in place with the fail-closed walk: every string, key and
   * long number, decoded payloads, credential-keyed values; `logprobs` emptied.
   */
  maskWhole(obj: Record<string, unknown>): void {
    maskResponseJson(obj, this.#masker);
  }
}
