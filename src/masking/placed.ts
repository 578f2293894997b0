import type { Finding } from './detectors/types.ts';
import { originalRange, type DetectionText } from './normalize.ts';

/** A resolved finding placed in the original text, with the normalized value its strategy sees. */
export interface Placed {
  /** The finding with `start`/`end` in the original text. */
  readonly finding: Finding;
  /** The value as the detector saw it (normalized: `4111 1111 …` for `４１１１ １１１１ …`). */
  readonly value: string;
}

/**
 * Places the resolved finding `f` (normalized range `[s, e)` of `d`, already shifted) in the
 * original text: from the start of its first code point to the end of its last one.
 */
export function place(f: Finding, s: number, e: number, d: DetectionText): Placed {
  const [start, end] = originalRange(d, s, e);
  const finding: Finding = f.kind === undefined ? { entity: f.entity, start, end } : { entity: f.entity, kind: f.kind, start, end };
  return { finding, value: d.text.slice(s, e) };
}

/**
 * Merges placed findings whose original ranges overlap (two findings that end and start inside
 * the expansion of one code point, `㎒` → `MHz`): the longer one names the replacement, which
 * covers both (fail closed). `placed` is sorted by start, as resolved findings are.
 */
export function mergePlaced(placed: readonly Placed[]): Placed[] {
  const out: Placed[] = [];
  for (const p of placed) {
    const last = out[out.length - 1];
    if (last === undefined || p.finding.start >= last.finding.end) { out.push(p); continue; }
    const longer = p.finding.end - p.finding.start > last.finding.end - last.finding.start ? p : last;
    const start = last.finding.start;
    const end = Math.max(last.finding.end, p.finding.end);
    const w = longer.finding;
    out[out.length - 1] = { finding: w.kind === undefined ? { entity: w.entity, start, end } : { entity: w.entity, kind: w.kind, start, end }, value: longer.value };
  }
  return out;
}
