/** Corpus-test helper shared by the per-detector tests. Not a test file itself. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Detector } from './types.ts';

/** The substrings a detector reports in `text`, in order. */
export function matched(detector: Detector, text: string): string[] {
  return detector.find(text).sort((a, b) => a.start - b.start || a.end - b.end).map((f) => text.slice(f.start, f.end));
}

/**
 * Registers the corpus tests of one detector: each positive is `[text, expected matches]`,
 * each negative a text where nothing may be found.
 */
export function corpusTests(detector: Detector, positives: readonly (readonly [string, readonly string[]])[], negatives: readonly string[]): void {
  test('finds the true positives, exactly', () => {
    for (const [text, expected] of positives) assert.deepEqual(matched(detector, text), expected, JSON.stringify(text));
  });
  test('ignores the look-alikes (false positives)', () => {
    for (const text of negatives) assert.deepEqual(matched(detector, text), [], JSON.stringify(text));
  });
}
