import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MaskingRules } from '../../masking/rules.ts';
import { OutputMasker } from './output-masker.ts';

const masker = new MaskingRules([{ connections: ['*'], direction: 'response', entities: ['EMAIL', 'CREDIT_CARD'], strategy: 'redact' }], undefined).textMasker('web01', 'response');

/** Feeds `bytes` in pieces cut at `cuts` (any byte offset, also inside a UTF-8 character). */
function run(bytes: Buffer, cuts: number[]): string {
  const out = new OutputMasker(masker, { record: false });
  const parts: Buffer[] = [];
  let from = 0;
  for (const c of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (c <= from || c >= bytes.length) continue;
    parts.push(out.push(bytes.subarray(from, c)));
    from = c;
  }
  parts.push(out.push(bytes.subarray(from)), out.end());
  return Buffer.concat(parts).toString('utf8');
}

test('command output is masked the same whatever the chunk boundaries, even inside UTF-8 characters', () => {
  assert.ok(masker);
  const entity = fc.constantFrom('bob@example.com', 'zoë.müller@exämple.org', '4111 1111 1111 1111', 'a.b+c@sub.example.co.uk');
  const filler = fc.string({ unit: fc.constantFrom('a', ' ', '\n', 'é', '€', '😀', '"', '@', '.', '-', '1'), maxLength: 20 });
  fc.assert(fc.property(fc.array(fc.tuple(filler, entity), { minLength: 1, maxLength: 4 }), fc.array(fc.nat({ max: 200 }), { maxLength: 30 }), (pieces, cuts) => {
    const text = pieces.map(([f, e]) => `${f} ${e} `).join('');
    const bytes = Buffer.from(text, 'utf8');
    const whole = masker.mask(text).text;
    const streamed = run(bytes, cuts);
    assert.equal(streamed, whole);
    for (const [, e] of pieces) assert.ok(!streamed.includes(e), `${e} leaked`);
  }), { numRuns: 300 });
});

test('without a masking rule the bytes pass unchanged (binary output too)', () => {
  const out = new OutputMasker(undefined, { record: true });
  const bin = Buffer.from([0xff, 0x00, 0xc3]);
  assert.deepEqual(out.push(bin), bin);
  assert.equal(out.end().length, 0);
  assert.equal(out.bytes, 3);
});
