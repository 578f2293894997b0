import { GatehouseError } from '../kernel/errors.ts';
import type { Finding } from './detectors/types.ts';
import { normalizeForDetection } from './normalize.ts';
import { mergePlaced, type Placed } from './placed.ts';
import { resolveOverlaps, summarize, type FindingSummary, type TextMasker } from './text-masker.ts';

/** Default bound on text held back (UTF-16 code units): above the largest built-in match (16 KiB). */
export const DEFAULT_MAX_HOLD = 65_536;
/** Held text above which a rescan waits until the held text grew by a quarter (amortized linear). */
const LAZY_RESCAN_FROM = 512;

/** Options of {@link StreamMasker}. */
export interface StreamMaskerOptions {
  /** Most text held back at once (UTF-16 code units); beyond it the stream fails closed. */
  readonly maxHoldBytes?: number;
}

/**
 * Masks a text stream chunk by chunk so that no unmasked character ever leaves, whatever the
 * chunk boundaries. The concatenation of every `push()` result and `end()` equals
 * `masker.mask(wholeText).text` for any split of the input.
 *
 * How: after each chunk it scans only the held tail (plus `masker.lookbehind` characters of
 * context already emitted), asks every detector where a finding could still appear or grow
 * (`pendingFrom`), and cuts at the latest point before that which no finding straddles. Text
 * before the cut is final: it is masked and emitted; the rest is held. Detectors are local
 * (see `detectors/types.ts`), so the findings of the scanned window equal those of the whole text.
 *
 * Fail closed: if the held text would exceed `maxHoldBytes` (default 64 Ki), `push` throws
 * `internal` ("masking hold limit exceeded") and the stream is dead — nothing of the held text
 * is emitted; the caller ends the response with an error. A detector error does the same.
 *
 * @example
 *   const sm = new StreamMasker(masker);
 *   res.write(sm.push('mail bob@exa')); // "mail "
 *   res.write(sm.push('mple.com now')); // "[EMAIL] "
 *   res.end(sm.end());                  // "now"
 */
export class StreamMasker {
  readonly #masker: TextMasker;
  readonly #maxHold: number;
  /** Original text: emitted context (`lookbehind` normalized characters at most) then the held text. */
  #orig = '';
  /** `#orig` normalized ({@link normalizeForDetection}): what the detectors scan. */
  #norm = '';
  /** Offset in `#orig` of the code point each `#norm` unit comes from (null: unit i is `#orig` unit i). */
  #starts: number[] | null = null;
  /** End in `#orig` of that code point (null like `#starts`). */
  #ends: number[] | null = null;
  /** Where the held text starts in `#norm` and in `#orig`. */
  #emitN = 0;
  #emitO = 0;
  /** A high surrogate that ended the last chunk: normalized with the chunk that brings its pair. */
  #high = '';
  #lastScanLength = 0;
  #state: 'open' | 'ended' | 'failed' = 'open';
  readonly #found: Finding[] = [];
  #count = 0;

  constructor(masker: TextMasker, opts: StreamMaskerOptions = {}) {
    this.#masker = masker;
    this.#maxHold = opts.maxHoldBytes ?? DEFAULT_MAX_HOLD;
    if (!Number.isInteger(this.#maxHold) || this.#maxHold < 1) {
      throw new GatehouseError('config_invalid', 'maxHoldBytes must be a positive integer');
    }
  }

  /** Adds a chunk; returns the masked text that is now safe to emit (possibly empty). */
  push(chunk: string): string {
    this.#assertOpen();
    if (chunk.length === 0) return '';
    let text = this.#high + chunk;
    this.#high = '';
    if (isHigh(text.charCodeAt(text.length - 1))) {
      this.#high = text.slice(-1);
      text = text.slice(0, -1);
      if (text.length === 0) return '';
    }
    this.#append(text);
    const held = this.#norm.length - this.#emitN;
    if (held >= LAZY_RESCAN_FROM && this.heldLength <= this.#maxHold && (this.#norm.length - this.#lastScanLength) * 4 < held) return '';
    return this.#advance(false);
  }

  /** Ends the stream: returns the rest, masked. */
  end(): string {
    this.#assertOpen();
    if (this.#high !== '') {
      this.#append(this.#high);
      this.#high = '';
    }
    const out = this.#advance(true);
    this.#state = 'ended';
    return out;
  }

  /** Characters currently held back (not yet emitted), in the original text. */
  get heldLength(): number {
    return this.#orig.length - this.#emitO + this.#high.length;
  }

  /** Types and count of the findings masked so far (types only). */
  summary(): FindingSummary {
    return { ...summarize(this.#found), findings: this.#count };
  }

  #assertOpen(): void {
    if (this.#state === 'failed') throw new GatehouseError('internal', 'masking stream failed earlier');
    if (this.#state === 'ended') throw new GatehouseError('internal', 'masking stream already ended');
  }

  /** Appends original text and its normalization (and map, once some unit moved). */
  #append(text: string): void {
    const d = normalizeForDetection(text);
    const off = this.#orig.length;
    if (d.starts === undefined && this.#starts === null) {
      this.#orig += text;
      this.#norm += d.text;
      return;
    }
    if (this.#starts === null || this.#ends === null) {
      this.#starts = Array.from({ length: this.#norm.length }, (_, k) => k);
      this.#ends = Array.from({ length: this.#norm.length }, (_, k) => k + 1);
    }
    for (let i = 0; i < d.text.length; i++) {
      this.#starts.push(off + (d.starts === undefined ? i : d.starts[i]!));
      this.#ends.push(off + (d.ends === undefined ? i + 1 : d.ends[i]!));
    }
    this.#orig += text;
    this.#norm += d.text;
  }

  /** Offset in `#orig` of the normalized position `n` (the original length at the end). */
  #origOf(n: number): number {
    if (n >= this.#norm.length) return this.#orig.length;
    return this.#starts === null ? n : this.#starts[n]!;
  }

  /** True when a cut at normalized `n` would split one original code point. */
  #inside(n: number): boolean {
    return this.#starts !== null && n > 0 && n < this.#norm.length && this.#starts[n] === this.#starts[n - 1];
  }

  #advance(final: boolean): string {
    try {
      return this.#advanceUnsafe(final);
    } catch (err) {
      this.#state = 'failed';
      throw err;
    }
  }

  #advanceUnsafe(final: boolean): string {
    const lookbehind = this.#masker.lookbehind;
    const w = Math.max(0, this.#emitN - lookbehind);
    const view = w === 0 ? this.#norm : this.#norm.slice(w);
    const base = this.#emitN - w;
    const found = this.#masker.collect(view, base);

    let cut = view.length;
    if (!final) {
      for (const d of this.#masker.detectors) {
        const p = d.pendingFrom(view);
        if (p < cut) cut = p;
      }
      if (cut < base) cut = base;
      for (;;) {
        if (found.length > 0) cut = cutOutsideFindings(found, cut);
        if (cut <= base || !this.#inside(w + cut)) break;
        cut--; // never between two units of one original code point
      }
    }
    const cutO = this.#origOf(w + cut);
    if (view.length - cut > this.#maxHold || this.#orig.length - cutO > this.#maxHold) {
      throw new GatehouseError('internal', 'masking hold limit exceeded');
    }
    let out: string;
    if (found.length === 0) {
      out = this.#orig.slice(this.#emitO, cutO); // the common case: nothing to mask, no sorting or rendering
    } else {
      const done = resolveOverlaps(found.filter((f) => f.start < cut));
      let placed = done.map((f) => this.#place(f, w, view));
      if (this.#starts !== null) placed = mergePlaced(placed);
      out = this.#masker.renderPlaced(this.#orig, this.#emitO, cutO, placed);
      this.#record(done);
    }

    // Keep `lookbehind` normalized characters of emitted context before the new held text.
    const emitN = w + cut;
    const keepN = Math.max(0, emitN - lookbehind);
    const keepO = this.#origOf(keepN);
    if (keepN > 0 || keepO > 0) this.#trim(keepN, keepO);
    this.#emitN = emitN - keepN;
    this.#emitO = cutO - keepO;
    this.#lastScanLength = this.#norm.length;
    return out;
  }

  /** The resolved finding `f` (relative to `view`, which starts at `w`) in original offsets. */
  #place(f: Finding, w: number, view: string): Placed {
    const s = w + f.start;
    const e = w + f.end;
    const start = this.#starts === null ? s : this.#starts[s]!;
    const end = this.#ends === null ? e : this.#ends[e - 1]!;
    const finding: Finding = f.kind === undefined ? { entity: f.entity, start, end } : { entity: f.entity, kind: f.kind, start, end };
    return { finding, value: view.slice(f.start, f.end) };
  }

  /** Drops the text before normalized `keepN` / original `keepO`; the map goes when it is the identity again. */
  #trim(keepN: number, keepO: number): void {
    this.#orig = this.#orig.slice(keepO);
    this.#norm = this.#norm.slice(keepN);
    if (this.#starts === null || this.#ends === null) return;
    const starts = this.#starts.slice(keepN);
    const ends = this.#ends.slice(keepN);
    let identity = this.#orig.length === this.#norm.length;
    for (let i = 0; i < starts.length; i++) {
      starts[i]! -= keepO;
      ends[i]! -= keepO;
      if (starts[i] !== i || ends[i] !== i + 1) identity = false;
    }
    this.#starts = identity ? null : starts;
    this.#ends = identity ? null : ends;
  }

  #record(findings: readonly Finding[]): void {
    this.#count += findings.length;
    for (const f of findings) {
      if (!this.#found.some((g) => g.entity === f.entity && g.kind === f.kind)) this.#found.push(f);
    }
  }
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/**
 * The largest cut `≤ limit` that no finding straddles. Findings starting before `limit` are final
 * (the detectors said so), so their overlap clusters are complete; the cut moves to the start of
 * the cluster that crosses `limit`, if any.
 */
function cutOutsideFindings(findings: readonly Finding[], limit: number): number {
  const before = findings.filter((f) => f.start < limit).sort((a, b) => a.start - b.start);
  let clusterStart = limit;
  let clusterEnd = -1;
  for (const f of before) {
    if (f.start >= clusterEnd) clusterStart = f.start;
    clusterEnd = Math.max(clusterEnd, f.end);
  }
  return clusterEnd > limit ? clusterStart : limit;
}
