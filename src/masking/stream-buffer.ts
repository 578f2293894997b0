import type { Finding } from './detectors/types.ts';
import { normalizeForDetection } from './normalize.ts';
import type { Placed } from './placed.ts';

/**
 * The text a {@link StreamMasker} keeps: the original and its normalization side by side, with
 * the map from normalized units to original offsets (only while some unit moved: plain text keeps
 * no map). Positions are relative to the start of what is kept; `trim` drops a prefix.
 *
 * Normalization is per code point, so appending chunks (never ending between the halves of a
 * surrogate pair: the stream masker holds a trailing high surrogate) gives the normalization of
 * the whole.
 */
export class StreamBuffer {
  /** Original text. */
  orig = '';
  /** `orig` normalized ({@link normalizeForDetection}): what the detectors scan. */
  norm = '';
  /** Offset in `orig` of the code point each `norm` unit comes from (null: unit i is `orig` unit i). */
  #starts: number[] | null = null;
  /** End in `orig` of that code point (null like `#starts`). */
  #ends: number[] | null = null;

  /** True while the map is not the identity. */
  get mapped(): boolean {
    return this.#starts !== null;
  }

  /** Appends original text and its normalization. */
  append(text: string): void {
    const d = normalizeForDetection(text);
    const off = this.orig.length;
    if (d.starts === undefined && this.#starts === null) {
      this.orig += text;
      this.norm += d.text;
      return;
    }
    if (this.#starts === null || this.#ends === null) {
      this.#starts = Array.from({ length: this.norm.length }, (_, k) => k);
      this.#ends = Array.from({ length: this.norm.length }, (_, k) => k + 1);
    }
    for (let i = 0; i < d.text.length; i++) {
      this.#starts.push(off + (d.starts === undefined ? i : d.starts[i]!));
      this.#ends.push(off + (d.ends === undefined ? i + 1 : d.ends[i]!));
    }
    this.orig += text;
    this.norm += d.text;
  }

  /** Offset in `orig` of normalized position `n` (the original length at the end). */
  origOf(n: number): number {
    if (n >= this.norm.length) return this.orig.length;
    return this.#starts === null ? n : this.#starts[n]!;
  }

  /** True when a cut at normalized `n` would split one original code point. */
  inside(n: number): boolean {
    return this.#starts !== null && n > 0 && n < this.norm.length && this.#starts[n] === this.#starts[n - 1];
  }

  /** The finding `f` (normalized positions) placed in the original, with its normalized value. */
  place(f: Finding): Placed {
    const start = this.#starts === null ? f.start : this.#starts[f.start]!;
    const end = this.#ends === null ? f.end : this.#ends[f.end - 1]!;
    const finding: Finding = f.kind === undefined ? { entity: f.entity, start, end } : { entity: f.entity, kind: f.kind, start, end };
    return { finding, value: this.norm.slice(f.start, f.end) };
  }

  /** Drops the normalized text before `keepN` and the original before it; returns the original length dropped. */
  trim(keepN: number): number {
    const keepO = this.origOf(keepN);
    if (keepN === 0 && keepO === 0) return 0;
    this.orig = this.orig.slice(keepO);
    this.norm = this.norm.slice(keepN);
    if (this.#starts === null || this.#ends === null) return keepO;
    const starts = this.#starts.slice(keepN);
    const ends = this.#ends.slice(keepN);
    let identity = this.orig.length === this.norm.length;
    for (let i = 0; i < starts.length; i++) {
      starts[i]! -= keepO;
      ends[i]! -= keepO;
      if (starts[i] !== i || ends[i] !== i + 1) identity = false;
    }
    this.#starts = identity ? null : starts;
    this.#ends = identity ? null : ends;
    return keepO;
  }
}
