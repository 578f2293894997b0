/**
 * The locality contract every detector keeps (see `types.ts`), as fast-check properties. Run by
 * `conformance.test.ts` for each built-in detector and by `custom.test.ts` for RE2 detectors.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { soupArb, textWithEntitiesArb } from './arbitraries.case.ts';
import type { Detector, Finding } from './types.ts';

function key(f: Finding, shift: number): string {
  return `${f.entity}:${f.kind ?? ''}:${f.start + shift}-${f.end + shift}`;
}

function keys(findings: readonly Finding[], shift = 0): string[] {
  return findings.map((f) => key(f, shift)).sort();
}

/** Texts that exercise a detector: realistic sentences and glued-together soups. */
export const conformanceTextArb: fc.Arbitrary<string> = fc.oneof(textWithEntitiesArb.map((t) => t.text), soupArb);

/** Asserts bounded length, the look-behind contract and the pending contract (whole and windowed) at every offset of `text`. */
export function checkLocality(detector: Detector, text: string): void {
  const all = detector.find(text);
  for (const f of all) {
    assert.ok(f.end - f.start <= detector.maxLength && f.start >= 0 && f.end <= text.length && f.start < f.end, `bad finding ${key(f, 0)}`);
    assert.equal(f.entity, detector.entity);
  }
  const lb = detector.lookbehind;
  for (let w = 0; w <= text.length; w++) {
    // Look-behind: scanning from w finds the same findings that start at w + lookbehind or later.
    const fromW = detector.find(text.slice(w)).filter((f) => f.start >= lb);
    assert.deepEqual(keys(fromW, w), keys(all.filter((f) => f.start >= w + lb)), `look-behind broken at w=${w}`);
    // Pending: findings before pendingFrom(prefix) never change when the rest arrives.
    const prefix = text.slice(0, w);
    const p = detector.pendingFrom(prefix);
    assert.ok(p >= 0 && p <= w, `pendingFrom out of range: ${p} for length ${w}`);
    assert.deepEqual(keys(detector.find(prefix).filter((f) => f.start < p)), keys(all.filter((f) => f.start < p)), `pending broken at k=${w} (p=${p})`);
    // Windowed (as the stream masker asks): from `lookbehind` before a valid pending point.
    const from = Math.max(0, p - lb);
    const m = Math.max(p, from + detector.pendingFrom(prefix.slice(from)));
    assert.ok(m <= w, `windowed pendingFrom out of range: ${m} for length ${w}`);
    assert.deepEqual(keys(detector.find(prefix).filter((f) => f.start < m)), keys(all.filter((f) => f.start < m)), `windowed pending broken at k=${w} (from=${from}, m=${m})`);
  }
}

/** Runs the locality properties on many generated texts. */
export function assertLocal(detector: Detector, numRuns = 150): void {
  fc.assert(fc.property(conformanceTextArb, (text) => checkLocality(detector, text)), { numRuns });
}
