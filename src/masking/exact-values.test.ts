import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { checkLocality } from './detectors/conformance.case.ts';
import { ExactBytesScrubber, exactValuesDetector, withExactValues } from './exact-values.ts';
import { StreamMasker } from './stream-masker.ts';
import { TextMasker, defaultDetectors } from './text-masker.ts';

const key = randomBytes(32);
const VALUES = ['tok-abcabc-123', 'abcab', 'c2VjcmV0LXZhbHVl'];

test('the exact-values detector keeps the locality contract (at every offset)', () => {
  const d = exactValuesDetector(VALUES);
  fc.assert(fc.property(fc.array(fc.constantFrom('tok-', 'abc', 'ab', '-123', 'c2Vj', 'cmV0LXZhbHVl', ' ', 'x'), { maxLength: 12 }), (parts) => {
    checkLocality(d, parts.join(''));
  }), { numRuns: 500 });
});

test('withExactValues: the values are redacted whole whatever the strategy, even inside a longer finding', () => {
  const partial = new TextMasker({ detectors: defaultDetectors(), strategy: 'partial', hashKey: key });
  const m = withExactValues(partial, ['Zq8xW3vK9pL2mN7r'], key)!;
  assert.equal(m.mask('token Zq8xW3vK9pL2mN7r here').text, 'token [SECRET] here');
  assert.equal(m.mask('mail bob@example.com').text, 'mail [EMAIL ****ecom]');
  // A value glued into an email: the cluster is replaced whole, so `partial` keeps none of it.
  assert.ok(!m.mask('Zq8xW3vK9pL2mN7r@example.com').text.includes('mN7r'));
  assert.equal(withExactValues(partial, [], key), partial);
});

test('property: a stream masker with exact values equals whole-text masking at any split', () => {
  const m = withExactValues(undefined, VALUES, key)!;
  fc.assert(fc.property(fc.array(fc.constantFrom('tok-', 'abc', 'abcabc', '-123', 'c2Vj', 'cmV0LXZhbHVl', ' ', 'x'), { maxLength: 12 }), fc.array(fc.nat(60), { maxLength: 5 }), (parts, cuts) => {
    const text = parts.join('');
    const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
    const sm = new StreamMasker(m);
    let out = '';
    let prev = 0;
    for (const c of at) { out += sm.push(text.slice(prev, c)); prev = c; }
    out += sm.push(text.slice(prev)) + sm.end();
    assert.equal(out, m.mask(text).text);
    for (const v of VALUES) assert.ok(!out.includes(v));
  }), { numRuns: 1000 });
});

test('property: the byte scrubber leaves no value at any split and keeps the length', () => {
  const values = VALUES.map((v) => Buffer.from(v));
  fc.assert(fc.property(fc.array(fc.oneof(fc.constantFrom(...VALUES, 'tok-', 'ab').map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 4 }).map((u) => Buffer.from(u))), { maxLength: 10 }), fc.array(fc.nat(80), { maxLength: 6 }), (parts, cuts) => {
    const input = Buffer.concat(parts);
    const at = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
    const s = new ExactBytesScrubber(values);
    const out: Buffer[] = [];
    let prev = 0;
    for (const c of at) { out.push(s.push(input.subarray(prev, c))); prev = c; }
    out.push(s.push(input.subarray(prev)), s.end());
    const all = Buffer.concat(out);
    assert.equal(all.length, input.length);
    for (const v of values) assert.equal(all.indexOf(v), -1);
  }), { numRuns: 1000 });
});
