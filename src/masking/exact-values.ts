import { Buffer } from 'node:buffer';
import type { Detector, Finding } from './detectors/types.ts';
import { TextMasker } from './text-masker.ts';

/** The replacement of an exact secret, whatever the rule's strategy (never partial, never hashed). */
export const EXACT_SECRET_REPLACEMENT = '[SECRET]';

/**
 * A detector for a fixed set of exact strings (the secrets a gateway holds and their encodings).
 * `SECRET` findings of kind `custom`. Local in the sense of `detectors/types.ts`: it reads no
 * context (`lookbehind` 0), a finding is at most the longest value, and `pendingFrom` is the
 * earliest suffix of the text that is a proper prefix of some value.
 *
 * @example exactValuesDetector(['sk-live-123456']).find('key: sk-live-123456') // [{ entity: 'SECRET', kind: 'custom', start: 5, end: 19 }]
 */
export function exactValuesDetector(values: readonly string[]): Detector {
  const vals = [...new Set(values)].filter((v) => v.length > 0);
  const maxLength = Math.max(1, ...vals.map((v) => v.length));
  return {
    entity: 'SECRET',
    maxLength,
    lookbehind: 0,
    find(text: string): Finding[] {
      const out: Finding[] = [];
      for (const v of vals) {
        for (let i = text.indexOf(v); i >= 0; i = text.indexOf(v, i + 1)) out.push({ entity: 'SECRET', kind: 'custom', start: i, end: i + v.length });
      }
      return out;
    },
    pendingFrom(text: string): number {
      let p = text.length;
      for (const v of vals) {
        const first = v.charCodeAt(0);
        for (let i = Math.max(0, text.length - v.length + 1); i < p; i++) {
          if (text.charCodeAt(i) === first && v.startsWith(text.slice(i))) {
            p = i;
            break;
          }
        }
      }
      return p;
    },
  };
}

/**
 * A masker that also replaces a fixed set of exact values by {@link EXACT_SECRET_REPLACEMENT},
 * whatever the base masker's strategies: a cluster of overlapping findings that contains one of
 * the values is replaced whole (so `partial` cannot keep its last characters). Everything else
 * is masked as `base` masks it (or redacted when there is no base).
 */
class ExactValuesMasker extends TextMasker {
  readonly #values: readonly string[];
  readonly #base: TextMasker | undefined;

  constructor(base: TextMasker | undefined, values: readonly string[], hashKey: Buffer) {
    super({ detectors: [...(base?.detectors ?? []), exactValuesDetector(values)], strategy: 'redact', hashKey });
    this.#values = values;
    this.#base = base;
  }

  override replacement(entity: Parameters<TextMasker['replacement']>[0], value: string): string {
    for (const v of this.#values) if (value.includes(v)) return EXACT_SECRET_REPLACEMENT;
    return this.#base ? this.#base.replacement(entity, value) : `[${entity}]`;
  }
}

/**
 * `base` plus exact values that are always redacted (see {@link ExactValuesMasker}); `base`
 * itself when there are no values.
 *
 * @example withExactValues(ruleMasker, ['sk-upstream-…'], key).mask('echo sk-upstream-…').text === 'echo [SECRET]'
 */
export function withExactValues(base: TextMasker | undefined, values: readonly string[], hashKey: Buffer): TextMasker | undefined {
  if (values.length === 0) return base;
  return new ExactValuesMasker(base, values, hashKey);
}

/**
 * Replaces exact byte strings in a byte stream by as many `*` bytes (lengths are kept, so a
 * `Content-Length` stays true), whatever the chunk boundaries: the last `longest − 1` bytes are
 * held until more input (or the end) shows they are not the start of a value.
 *
 * @example const s = new ExactBytesScrubber([Buffer.from('tok')]); s.push(Buffer.from('a t')); s.push(Buffer.from('ok')); s.end(); // 'a ***'
 */
export class ExactBytesScrubber {
  readonly #values: readonly Buffer[];
  readonly #hold: number;
  #tail: Buffer;
  #found = 0;

  constructor(values: readonly Buffer[]) {
    this.#values = values.filter((v) => v.length > 0);
    this.#hold = Math.max(0, ...this.#values.map((v) => v.length - 1));
    this.#tail = Buffer.alloc(0);
  }

  /** Number of values replaced so far. */
  get found(): number {
    return this.#found;
  }

  /** Adds a chunk; returns the bytes that are now final (scrubbed). */
  push(chunk: Uint8Array): Buffer {
    const buf = this.#tail.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#tail, chunk]);
    this.#scrub(buf);
    const cut = Math.max(0, buf.length - this.#hold);
    this.#tail = Buffer.from(buf.subarray(cut));
    return buf.subarray(0, cut);
  }

  /** Ends the stream: the held bytes, scrubbed. */
  end(): Buffer {
    const rest = this.#tail;
    this.#tail = Buffer.alloc(0);
    return rest;
  }

  #scrub(buf: Buffer): void {
    for (const v of this.#values) {
      for (let i = buf.indexOf(v); i >= 0; i = buf.indexOf(v, i + 1)) {
        buf.fill(0x2a, i, i + v.length);
        this.#found++;
      }
    }
  }
}
