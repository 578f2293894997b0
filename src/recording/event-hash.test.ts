import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJson } from '../audit/chain.ts';
import { canonicalData, roundTripCanonical as reference } from './event-hash.ts';

test('the round trip, the definition, is canonical JSON of what JSON keeps', () => {
  assert.equal(reference({ b: [1, undefined], a: { toJSON: () => 'x' }, u: undefined }), canonicalJson({ a: 'x', b: [1, null] }));
  assert.equal(reference('text'), '{"value":"text"}');
  assert.equal(reference({ n: 1n }), '{"$unrecordable":"TypeError"}');
});

test('canonicalData equals canonical JSON of the JSON round trip, for any value', () => {
  const values = fc.anything({
    withBoxedValues: true, withMap: true, withSet: true, withObjectString: true, withNullPrototype: true,
    withBigInt: true, withDate: true, withTypedArray: true, withSparseArray: true, stringUnit: 'grapheme', maxDepth: 4,
  });
  fc.assert(fc.property(fc.oneof(values, fc.dictionary(fc.string(), values)), (v) => {
    assert.equal(canonicalData(v), reference(v));
  }), { numRuns: 2000 });
});

test('cycles, toJSON, undefined members, -0 and NaN, and deep nesting as the round trip has them', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  let deep: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < 200; i++) deep = { d: deep };
  for (const v of [
    cyclic, deep, { at: new Date(0), n: -0, x: NaN, u: undefined, f: () => 1, arr: [undefined, () => 1, Symbol('s')] },
    { toJSON: () => ({ b: 1 }) }, { nested: { toJSON: () => 'x' } },
    { b: 1, a: Object.assign([1, 2], { toJSON: () => 'x' }) }, { a: [Object.assign([3], { toJSON: () => ({ z: 1, y: 2 }) })] },
    { get boom(): string { throw new Error('getter'); } }, { p: new Proxy({}, { ownKeys: () => { throw new RangeError('trap'); } }) }, { lone: '\ud800', emoji: '😀', 'e\u0301': 1, é: 2, '\udc00': 3 },
  ]) assert.equal(canonicalData(v), reference(v));
});

test('objects built with their keys in order (the fast path) serialize as the round trip has them', () => {
  // Keys from a small alphabet, digits included: integer-like keys ("2", "10") are listed by
  // JavaScript in numeric order, which canonical JSON does not use: those must not take the fast path.
  const key = fc.string({ unit: fc.constantFrom('a', 'b', 'A', '1', '0', '2', '_', 'é', '\u0000', '\ud800'), maxLength: 3 });
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof({ depthSize: 'small' },
      fc.string({ unit: 'binary', maxLength: 8 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined),
      fc.array(tie('tree'), { maxLength: 4 }),
      fc.dictionary(key, tie('tree'), { maxKeys: 5 }).map((d) => {
        const o: Record<string, unknown> = {};
        for (const k of Object.keys(d).sort()) o[k] = d[k];
        return o;
      })),
  }));
  fc.assert(fc.property(fc.dictionary(key, tree, { maxKeys: 6 }).map((d) => Object.fromEntries(Object.keys(d).sort().map((k) => [k, d[k]]))), (v) => {
    assert.equal(canonicalData(v), reference(v));
  }), { numRuns: 500 });
});

test('objects with keys in any order (the sorted copy) serialize as the round trip has them, array-index and __proto__ keys included', () => {
  const key = fc.constantFrom('__proto__', 'a', 'B', 'b', '1', '01', '10', '2', '4294967294', '4294967295', '-1', '1.5', 'é', '');
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof({ depthSize: 'small' },
      fc.string({ maxLength: 6 }), fc.double(), fc.constant(undefined), fc.constant(null),
      fc.array(tie('tree'), { maxLength: 3 }),
      fc.array(fc.tuple(key, tie('tree')), { maxLength: 5 }).map((entries) => {
        const o: Record<string, unknown> = {};
        for (const [k, x] of entries) Object.defineProperty(o, k, { value: x, enumerable: true, writable: true, configurable: true });
        return o;
      })),
  }));
  fc.assert(fc.property(fc.array(fc.tuple(key, tree), { maxLength: 6 }), (entries) => {
    const v: Record<string, unknown> = {};
    for (const [k, x] of entries) Object.defineProperty(v, k, { value: x, enumerable: true, writable: true, configurable: true });
    assert.equal(canonicalData(v), reference(v));
  }), { numRuns: 1000 });
});
