import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { jsonBound, jsonBytes, stringBytes } from './json-bytes.ts';
import { canonicalData } from './event-hash.ts';

const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\b', '\f', '\n', '\r', '\t', '\u0000', '\u001f', '\u007f', '\ud800', '\udfff', '\ud83d', '\ude00', 'é', '€', '\u2028', 'a') }),
);

test('property: stringBytes is the UTF-8 size of JSON.stringify of any string (escapes, controls, lone surrogates)', () => {
  fc.assert(fc.property(text, (s) => stringBytes(s) === Buffer.byteLength(JSON.stringify(s), 'utf8')), { numRuns: 2000 });
});

test('property: jsonBytes is the UTF-8 size of the canonical JSON of plain data with sorted keys', () => {
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, text, fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined),
      fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(text, tie('v'), { maxKeys: 4 })),
  })).v;
  fc.assert(fc.property(fc.dictionary(text, value, { maxKeys: 6 }), (d) => {
    // Keys in sorted order, as the data paths build events (canonicalData is then JSON.stringify).
    const sorted = Object.fromEntries(Object.entries(d).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    assert.equal(jsonBytes(sorted), Buffer.byteLength(JSON.stringify(sorted), 'utf8'));
    if (canonicalData(sorted) === JSON.stringify(sorted)) assert.equal(jsonBytes(sorted), Buffer.byteLength(canonicalData(sorted), 'utf8'));
  }), { numRuns: 1000 });
});

test('property: jsonBound is never below jsonBytes (escape-heavy text, numbers of every length, nesting, dropped members)', () => {
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, text, fc.double(), fc.integer(), fc.constant(-Number.MAX_VALUE), fc.constant(5e-324), fc.boolean(), fc.constant(null), fc.constant(undefined),
      fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(text, tie('v'), { maxKeys: 4 })),
  })).v;
  fc.assert(fc.property(fc.dictionary(text, value, { maxKeys: 6 }), (d) => {
    assert.ok(jsonBound(d) >= jsonBytes(d), `${jsonBound(d)} < ${jsonBytes(d)}`);
  }), { numRuns: 2000 });
});

test('property: jsonBound is never below jsonBytes for any value, top-level arrays of the longest numbers included', () => {
  // The longest JSON numbers are decimals just above 1e-6 with 17 significant digits, negative:
  // -0.0000012345678901234567 is 25 characters (longer than -1.7976931348623157e+308). An array
  // of them has no key to hide a short bound behind.
  const longest = fc.double({ min: 1e-6, max: 1e-5, noNaN: true }).map((x) => -x);
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, text, longest, fc.double(), fc.integer(), fc.constant(-1.2345678901234567e-6), fc.boolean(), fc.constant(null),
      fc.array(tie('v'), { maxLength: 6 }), fc.dictionary(text, tie('v'), { maxKeys: 4 })),
  })).v;
  assert.ok(jsonBound([-1.2345678901234567e-6, -1.2345678901234567e-6]) >= jsonBytes([-1.2345678901234567e-6, -1.2345678901234567e-6]));
  fc.assert(fc.property(fc.oneof(value, fc.array(longest, { maxLength: 8 })), (v) => {
    assert.ok(jsonBound(v) >= jsonBytes(v), `${jsonBound(v)} < ${jsonBytes(v)}`);
  }), { numRuns: 2000 });
});
