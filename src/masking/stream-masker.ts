import { GatehouseError } from '../kernel/errors.ts';
import type { Finding } from './detectors/types.ts';
import { mergePlaced } from './placed.ts';
import { StreamBuffer } from './stream-buffer.ts';
import { resolveOverlaps, summarize, type FindingSummary, type TextMasker } from './text-masker.ts';

/** Default bound on text held back (UTF-16 code units): above the largest built-in match (16 KiB). */
export const DEFAULT_MAX_HOLD = 65_536;
/** Held text above which a rescan waits until the held text grew by a quarter (amortized linear). */
const LAZY_RESCAN_FROM = 512;

/** A detector rescans its backlog (held text it has not settled) once the new text is 1/4 of it. */
const BACKLOG_RATIO = 4;

const NONE: readonly Finding[] = [];

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
 * How: the stream is normalized as it arrives ({@link StreamBuffer}: detectors see through
 * Unicode disguises, findings map back to the original). Each detector keeps its own *settled*
 * point — the largest `pendingFrom` it gave, before which its findings can no longer change —
 * and the findings it found before it. After a chunk, each detector scans only from its settled
 * point (less its `lookbehind`), so a detector that holds back much (a base64 run that may still
 * be a key) does not make the others rescan it: the work per chunk is the chunk plus the text each
 * detector itself holds, never a growing window. The cut is the smallest settled point, moved
 * before any finding that straddles it and never inside an original code point; what is before it
 * is masked and emitted, the rest is held. Detectors are local (see `detectors/types.ts`), so the
 * findings of these windows equal those of the whole text.
 *
 * Fail closed: if the held text would exceed `maxHoldBytes` (default 64 Ki, original or
 * normalized), `push` throws `masking_failed` ("masking hold limit exceeded") and the stream is dead —
 * nothing of the held text is emitted; the caller ends the response with an error. A detector
 * error does the same.
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
  /** Emitted context (`lookbehind` normalized characters at most) then the held text. */
  readonly #buf = new StreamBuffer();
  /** Where the held text starts in the normalized and in the original text. */
  #emitN = 0;
  #emitO = 0;
  /** Per detector: normalized position before which its findings are final. */
  readonly #settled: number[];
  /** Per detector: its final findings not emitted yet (normalized positions). */
  readonly #final: Finding[][];
  /** Per detector: normalized length when it last scanned. */
  readonly #scanned: number[];
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
    this.#settled = masker.detectors.map(() => 0);
    this.#final = masker.detectors.map(() => []);
    this.#scanned = masker.detectors.map(() => 0);
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
    this.#buf.append(text);
    const held = this.#buf.norm.length - this.#emitN;
    if (held >= LAZY_RESCAN_FROM && this.heldLength <= this.#maxHold && (this.#buf.norm.length - this.#lastScanLength) * 4 < held) return '';
    return this.#advance(false);
  }

  /** Ends the stream: returns the rest, masked. */
  end(): string {
    this.#assertOpen();
    if (this.#high !== '') {
      this.#buf.append(this.#high);
      this.#high = '';
    }
    const out = this.#advance(true);
    this.#state = 'ended';
    return out;
  }

  /** Characters currently held back (not yet emitted), in the original text. */
  get heldLength(): number {
    return this.#buf.orig.length - this.#emitO + this.#high.length;
  }

  /** Types and count of the findings masked so far (types only). */
  summary(): FindingSummary {
    return { ...summarize(this.#found), findings: this.#count };
  }

  #assertOpen(): void {
    if (this.#state === 'failed') throw new GatehouseError('masking_failed', 'masking stream failed earlier');
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

  /**
   * Brings detector `k` up to date: scans from its settled point (less its look-behind), moves
   * the settled point to its new `pendingFrom` (never back) and keeps the findings before it.
   */
  #settle(k: number, final: boolean): number {
    const d = this.#masker.detectors[k]!;
    const norm = this.#buf.norm;
    const settled = this.#settled[k]!;
    const last = this.#scanned[k]!;
    // Amortized: a detector holding a backlog rescans once the new text is a quarter of it, so
    // each character costs it a bounded number of visits whatever the chunk size (skipping a scan
    // only keeps its settled point, and so the cut, where it was).
    if (!final && (norm.length - last) * BACKLOG_RATIO < last - settled) return settled;
    this.#scanned[k] = norm.length;
    const from = Math.max(0, settled - d.lookbehind);
    const view = from === 0 ? norm : norm.slice(from);
    const p = final ? norm.length : Math.max(settled, from + d.pendingFrom(view));
    const kept = this.#final[k]!;
    for (const f of d.find(view)) {
      const start = f.start + from;
      if (start >= settled && start < p) kept.push(from === 0 ? f : { ...f, start, end: f.end + from });
    }
    this.#settled[k] = p;
    return p;
  }

  #advanceUnsafe(final: boolean): string {
    const buf = this.#buf;
    let cut = buf.norm.length;
    for (let k = 0; k < this.#settled.length; k++) cut = Math.min(cut, this.#settle(k, final));
    const found = this.#final.some((f) => f.length > 0) ? this.#final.flat() : NONE;
    if (!final) {
      for (;;) {
        if (found.length > 0) cut = cutOutsideFindings(found, cut);
        if (cut <= this.#emitN || !buf.inside(cut)) break;
        cut--; // never between two units of one original code point
      }
    }
    const cutO = buf.origOf(cut);
    if (buf.norm.length - cut > this.#maxHold || buf.orig.length - cutO > this.#maxHold) {
      throw new GatehouseError('masking_failed', 'masking hold limit exceeded');
    }
    let out: string;
    if (found.length === 0) {
      out = buf.orig.slice(this.#emitO, cutO); // the common case: nothing to mask, no sorting or rendering
    } else {
      const done = resolveOverlaps(found.filter((f) => f.start < cut));
      let placed = done.map((f) => buf.place(f));
      if (buf.mapped) placed = mergePlaced(placed);
      out = this.#masker.renderPlaced(buf.orig, this.#emitO, cutO, placed);
      this.#record(done);
      for (let k = 0; k < this.#final.length; k++) if (this.#final[k]!.length > 0) this.#final[k] = this.#final[k]!.filter((f) => f.start >= cut);
    }

    // Keep `lookbehind` normalized characters of emitted context before the new held text.
    const keepN = Math.max(0, cut - this.#masker.lookbehind);
    const keepO = buf.trim(keepN);
    this.#emitN = cut - keepN;
    this.#emitO = cutO - keepO;
    if (keepN > 0) {
      for (let k = 0; k < this.#settled.length; k++) {
        this.#settled[k]! -= keepN;
        this.#scanned[k]! -= keepN;
        if (this.#final[k]!.length > 0) this.#final[k] = this.#final[k]!.map((f) => ({ ...f, start: f.start - keepN, end: f.end - keepN }));
      }
    }
    this.#lastScanLength = buf.norm.length;
    return out;
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
