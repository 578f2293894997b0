import type { Buffer } from 'node:buffer';
import type { Detector, EntityType, Finding, SecretKind } from './detectors/types.ts';
import { normalizeForDetection } from './normalize.ts';
import { mergePlaced, place, type Placed } from './placed.ts';
import { applyStrategy, type Strategy } from './strategies.ts';

export type { Placed } from './placed.ts';

export { defaultDetectors } from './detectors/index.ts';

/** Options of {@link TextMasker}. */
export interface TextMaskerOptions {
  readonly detectors: readonly Detector[];
  /** Strategy for every entity without an override. */
  readonly strategy: Strategy;
  /** Per-entity override; `undefined` falls back to `strategy`. */
  readonly strategyFor?: (entity: EntityType) => Strategy | undefined;
  /** HMAC key for the `hash` strategy (≥ 16 bytes when `hash` is used). */
  readonly hashKey: Buffer;
}

/** The masked text and the findings that were replaced (resolved, in text order). */
export interface MaskResult {
  readonly text: string;
  readonly findings: Finding[];
}

/** Options of {@link TextMasker.mask} and {@link TextMasker.scan}. */
export interface MaskOptions {
  /**
   * The name of the field the text is the value of (a result column, a JSON key). Detectors read
   * it as if `label: ` preceded the value, so context-dependent detectors see it: a bare 9-digit
   * number in a column named `ssn` is a `US_SSN`, a random value in a column named `api_key` a
   * `SECRET`. Only the value is ever masked. At most 64 characters are read.
   */
  readonly label?: string;
}

/** Characters of a label that detectors read. */
const MAX_LABEL = 64;

/** Policy facts about findings: types only, never values. */
export interface FindingSummary {
  /** Sorted entity types that are credentials: `JWT`, `PRIVATE_KEY`, `SECRET`. */
  readonly secret_types: string[];
  /** Sorted `kind`s of `SECRET` findings (`aws_access_key`, `generic`, …). */
  readonly secret_kinds: string[];
  /** Sorted entity types that are personal data: every other type. */
  readonly pii_types: string[];
  /** Number of findings. */
  readonly findings: number;
}

const SECRET_ENTITIES: ReadonlySet<EntityType> = new Set(['JWT', 'PRIVATE_KEY', 'SECRET']);

/**
 * Resolves overlapping findings deterministically and fail-closed. Findings that overlap
 * (transitively) form a cluster; the longest finding of the cluster wins (then the earliest, then
 * the earlier detector: input order) and names the replacement, which covers the whole cluster —
 * so no part of a losing finding is ever left unmasked (e.g. an SSN overlapping a longer card
 * candidate). Returns one finding per cluster, sorted by start. Clusters are independent, so
 * resolving any union of whole clusters gives the same result for them (the stream masker
 * relies on this).
 *
 * @example
 *   resolveOverlaps([{ entity: 'PHONE', start: 0, end: 10 }, { entity: 'CREDIT_CARD', start: 2, end: 18 }])
 *   // → [{ entity: 'CREDIT_CARD', start: 0, end: 18 }]
 */
export function resolveOverlaps(findings: readonly Finding[]): Finding[] {
  const order = findings.map((f, i) => ({ f, i })).filter(({ f }) => f.end > f.start);
  order.sort((a, b) => a.f.start - b.f.start || a.i - b.i);
  const out: Finding[] = [];
  let k = 0;
  while (k < order.length) {
    let best = order[k]!;
    const start = best.f.start;
    let end = best.f.end;
    for (k++; k < order.length && order[k]!.f.start < end; k++) {
      const c = order[k]!;
      end = Math.max(end, c.f.end);
      const lenC = c.f.end - c.f.start;
      const lenB = best.f.end - best.f.start;
      if (lenC > lenB || (lenC === lenB && (c.f.start < best.f.start || (c.f.start === best.f.start && c.i < best.i)))) best = c;
    }
    const w = best.f;
    out.push(w.kind === undefined ? { entity: w.entity, start, end } : { entity: w.entity, kind: w.kind, start, end });
  }
  return out;
}

/**
 * Facts for policy and recording: which secret and PII types were found and how many findings.
 * `SECRET`, `PRIVATE_KEY` and `JWT` are secret types; everything else is PII.
 *
 * @example
 *   summarize(masker.scan(prompt)) // { secret_types: ['SECRET'], secret_kinds: ['aws_access_key'], pii_types: ['EMAIL'], findings: 2 }
 */
export function summarize(findings: readonly Finding[]): FindingSummary {
  const secret = new Set<string>();
  const kinds = new Set<SecretKind>();
  const pii = new Set<string>();
  for (const f of findings) {
    if (SECRET_ENTITIES.has(f.entity)) secret.add(f.entity);
    else pii.add(f.entity);
    if (f.kind !== undefined) kinds.add(f.kind);
  }
  return { secret_types: [...secret].sort(), secret_kinds: [...kinds].sort(), pii_types: [...pii].sort(), findings: findings.length };
}

/**
 * Masks text with a set of detectors and per-entity strategies. Pure and synchronous; a detector
 * error propagates (callers fail closed).
 *
 * @example
 *   const masker = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
 *   masker.mask('mail bob@example.com').text === 'mail [EMAIL]'
 */
export class TextMasker {
  readonly detectors: readonly Detector[];
  /** Largest `lookbehind` of the detectors: the context a stream masker keeps before its cut. */
  readonly lookbehind: number;
  readonly #strategy: Strategy;
  readonly #strategyFor: ((entity: EntityType) => Strategy | undefined) | undefined;
  readonly #hashKey: Buffer;

  constructor(opts: TextMaskerOptions) {
    this.detectors = [...opts.detectors];
    this.lookbehind = Math.max(0, ...this.detectors.map((d) => d.lookbehind));
    this.#strategy = opts.strategy;
    this.#strategyFor = opts.strategyFor;
    this.#hashKey = opts.hashKey;
  }

  /**
   * True when every detector of this masker is one of `other`'s. Detectors are pure and run
   * independently, so a text in which `other` finds nothing, this masker leaves unchanged.
   */
  coveredBy(other: TextMasker): boolean {
    return this.detectors.every((d) => other.detectors.includes(d));
  }

  /**
   * Resolved findings in `text`, in text order, as ranges of the original text. Detectors run on
   * the normalized text ({@link normalizeForDetection}); see {@link MaskOptions} for `label`.
   */
  scan(text: string, opts: MaskOptions = {}): Finding[] {
    return this.#detect(text, opts).map((p) => p.finding);
  }

  /**
   * `text` with every resolved finding replaced according to its strategy. A value disguised
   * with Unicode (full-width digits, zero-width characters, other dashes and spaces …) is found
   * in the normalized text and replaced in the original, characters removed by the
   * normalization included.
   */
  mask(text: string, opts: MaskOptions = {}): MaskResult {
    const placed = this.#detect(text, opts);
    return { text: this.renderPlaced(text, 0, text.length, placed), findings: placed.map((p) => p.finding) };
  }

  #detect(text: string, opts: MaskOptions): Placed[] {
    const label = opts.label === undefined || opts.label === '' ? '' : `${normalizeForDetection(opts.label.slice(0, MAX_LABEL)).text}: `;
    const d = normalizeForDetection(text);
    const norm = label + d.text;
    const raw = this.collect(norm, 0);
    // Nothing found (the common case): nothing to resolve, place or merge.
    if (raw.length === 0) return [];
    const found = resolveOverlaps(raw);
    const placed: Placed[] = [];
    for (const f of found) {
      if (f.end <= label.length) continue; // wholly in the label
      const s = Math.max(f.start, label.length) - label.length; // a finding reaching into the value masks its part there
      const e = f.end - label.length;
      placed.push(place(f, s, e, d));
    }
    return d.starts === undefined ? placed : mergePlaced(placed);
  }

  /**
   * Raw findings of every detector (detector order) whose start is at least `minStart`. Each
   * detector scans only from `minStart - lookbehind` (its look-behind contract makes the findings
   * from `minStart` on the same as a scan of the whole text), so a stream masker's re-scan of
   * emitted context costs almost nothing for the detectors that read little context.
   */
  collect(text: string, minStart: number): Finding[] {
    const out: Finding[] = [];
    for (const d of this.detectors) {
      const from = Math.max(0, minStart - d.lookbehind);
      if (from === 0) {
        for (const f of d.find(text)) if (f.start >= minStart) out.push(f);
        continue;
      }
      for (const f of d.find(text.slice(from))) {
        const start = f.start + from;
        if (start >= minStart) out.push({ ...f, start, end: f.end + from });
      }
    }
    return out;
  }

  /**
   * `text.slice(from, to)` with `findings` (resolved, sorted, inside the range: what {@link scan}
   * returns) replaced; each replacement is computed from the normalized value, as {@link mask} does.
   */
  render(text: string, from: number, to: number, findings: readonly Finding[]): string {
    return this.renderPlaced(text, from, to, findings.map((f) => ({ finding: f, value: normalizeForDetection(text.slice(f.start, f.end)).text })));
  }

  /**
   * `text.slice(from, to)` with `placed` (original ranges, sorted, disjoint, inside the range)
   * replaced; each replacement is computed from the normalized value.
   */
  renderPlaced(text: string, from: number, to: number, placed: readonly Placed[]): string {
    let out = '';
    let pos = from;
    for (const p of placed) {
      out += text.slice(pos, p.finding.start);
      out += this.replacement(p.finding.entity, p.value);
      pos = p.finding.end;
    }
    return out + text.slice(pos, to);
  }

  /** The replacement for one value under the entity's strategy. */
  replacement(entity: EntityType, value: string): string {
    return applyStrategy(this.#strategyFor?.(entity) ?? this.#strategy, entity, value, this.#hashKey);
  }
}
