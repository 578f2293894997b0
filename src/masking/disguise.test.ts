/**
 * Attack class: values disguised with Unicode (invisible characters, full-width and other-script
 * digits, other dashes, spaces and dots, compatibility letters) are masked like the plain value,
 * whole-text and streamed at any split.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { chunkSizesArb, splitBySizes, type Entity } from './detectors/arbitraries.case.ts';
import { textWithDisguisedEntitiesArb } from './detectors/disguise.case.ts';
import { normalizeForDetection } from './normalize.ts';
import { StreamMasker } from './stream-masker.ts';
import { TextMasker, defaultDetectors } from './text-masker.ts';

const masker = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: Buffer.alloc(32, 9) });
const norm = (s: string): string => normalizeForDetection(s).text;

/** 6-character windows of the normalized secret that the normalized text around it does not contain. */
function grams(e: Entity, around: string): string[] {
  const secret = norm(e.secret);
  const out: string[] = [];
  for (let i = 0; i + 6 <= secret.length; i++) if (!around.includes(secret.slice(i, i + 6))) out.push(secret.slice(i, i + 6));
  return out;
}

/** Asserts that no normalized form of any entity survives in `out`. */
function assertNoLeak(text: string, entities: readonly Entity[], out: string): void {
  let around = text;
  for (const e of entities) around = around.split(e.value).join('\u0000');
  const aroundN = norm(around);
  const outN = norm(out).replace(/\[[A-Z_]+\]/g, '\u0000');
  for (const e of entities) {
    for (const g of grams(e, aroundN)) assert.ok(!outN.includes(g), `${e.entity} leaked "${g}" from ${JSON.stringify(e.value)} in ${JSON.stringify(out)}`);
  }
}

function stream(chunks: readonly string[]): string[] {
  const sm = new StreamMasker(masker);
  const pieces = chunks.map((c) => sm.push(c));
  pieces.push(sm.end());
  return pieces;
}

describe('disguised entities', () => {
  test('the text masker leaves no disguised or normalized form of any entity', () => {
    fc.assert(fc.property(textWithDisguisedEntitiesArb, ({ text, entities }) => {
      assertNoLeak(text, entities, masker.mask(text).text);
    }), { numRuns: 500 });
  });

  test('streamed at any split (splitting surrogate pairs too) equals the whole-text mask and leaks nothing', () => {
    fc.assert(fc.property(textWithDisguisedEntitiesArb, chunkSizesArb(), ({ text, entities }, sizes) => {
      const pieces = stream(splitBySizes(text, sizes));
      assert.equal(pieces.join(''), masker.mask(text).text);
      for (const piece of pieces) assertNoLeak(text, entities, piece);
    }), { numRuns: 400 });
  });

  test('one code unit at a time', () => {
    fc.assert(fc.property(textWithDisguisedEntitiesArb, ({ text }) => {
      assert.equal(stream(splitBySizes(text, [1])).join(''), masker.mask(text).text);
    }), { numRuns: 100 });
  });

  test('an invisible character, a full-width card or a surrogate-pair digit split across chunks', () => {
    const cases = [
      ['card 4111 \u200b', '1111 1111 1111 ok'],
      ['card 4111\u200b1111\u200b1111\u200b111', '1 ok'],
      ['card ４１１１ １１', '１１ １１１１ １１１１ ok'],
      ['card \ud835\udfd2111', '111111111111 ok'],
      ['card \ud835', '\udfd2111111111111111 ok'],
      ['ssn 123\u2013', '45\u20136789 ok'],
      ['mail bob\uff20exa', 'mple\uff0ecom ok'],
      ['key AKIA\u200d', 'IOSFODNN7EXAMPLE ok'],
    ];
    for (const [a, b] of cases) {
      const text = a! + b!;
      const expected = masker.mask(text).text;
      assert.ok(/\[[A-Z_]+\] ok$/.test(expected), `${JSON.stringify(text)} → ${JSON.stringify(expected)}`);
      for (let i = 0; i <= text.length; i++) assert.equal(stream([text.slice(0, i), text.slice(i)]).join(''), expected, `${JSON.stringify(text)} split at ${i}`);
      assert.equal(stream([a!, b!]).join(''), expected);
    }
  });
});
