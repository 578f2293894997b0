import { GatehouseError } from '../kernel/errors.ts';
import type { Finding } from './detectors/types.ts';
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
  /** Emitted context (`lookbehind` characters at most) followed by the held text. */
  #buf = '';
  /** Where the held text starts in `#buf`. */
  #emitPos = 0;
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
    this.#buf += chunk;
    const held = this.#buf.length - this.#emitPos;
    if (held >= LAZY_RESCAN_FROM && held <= this.#maxHold && (this.#buf.length - this.#lastScanLength) * 4 < held) return '';
    return this.#advance(false);
  }

  /** Ends the stream: returns the rest, masked. */
  end(): string {
    this.#assertOpen();
    const out = this.#advance(true);
    this.#state = 'ended';
    return out;
  }

  /** Characters currently held back (not yet emitted). */
  get heldLength(): number {
    return this.#buf.length - this.#emitPos;
  }

  /** Types and count of the findings masked so far (types only). */
  summary(): FindingSummary {
    return { ...summarize(this.#found), findings: this.#count };
  }

  #assertOpen(): void {
    if (this.#state === 'failed') throw new GatehouseError('internal', 'masking stream failed earlier');
    if (this.#state === 'ended') throw new GatehouseError('internal', 'masking stream already ended');
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
    const w = Math.max(0, this.#emitPos - lookbehind);
    const view = w === 0 ? this.#buf : this.#buf.slice(w);
    const base = this.#emitPos - w;
    const found = this.#masker.collect(view, base);

    let cut = view.length;
    if (!final) {
      for (const d of this.#masker.detectors) {
        const p = d.pendingFrom(view);
        if (p < cut) cut = p;
      }
      if (cut < base) cut = base;
      if (found.length > 0) cut = cutOutsideFindings(found, cut);
    }
    if (view.length - cut > this.#maxHold) {
      throw new GatehouseError('internal', 'masking hold limit exceeded');
    }
    let out: string;
    if (found.length === 0) {
      out = view.slice(base, cut); // the common case: nothing to mask, no sorting or rendering
    } else {
      const done = resolveOverlaps(found.filter((f) => f.start < cut));
      out = this.#masker.render(view, base, cut, done);
      this.#record(done);
    }

    // Keep `lookbehind` characters of emitted context before the new held text.
    const emitAbs = w + cut;
    const keepFrom = Math.max(0, emitAbs - lookbehind);
    if (keepFrom > 0) this.#buf = this.#buf.slice(keepFrom);
    this.#emitPos = emitAbs - keepFrom;
    this.#lastScanLength = this.#buf.length;
    return out;
  }

  #record(findings: readonly Finding[]): void {
    this.#count += findings.length;
    for (const f of findings) {
      if (!this.#found.some((g) => g.entity === f.entity && g.kind === f.kind)) this.#found.push(f);
    }
  }
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
