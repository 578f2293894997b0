import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConcurrencyLimiter } from './concurrency.ts';

test('the N+1th unit of one key is refused while another key is served; release frees it once', () => {
  const l = new ConcurrencyLimiter(2);
  const a1 = l.acquire('a');
  const a2 = l.acquire('a');
  assert.ok(a1 && a2);
  assert.equal(l.acquire('a'), undefined);
  assert.ok(l.acquire('b'));
  a1();
  a1(); // idempotent
  assert.equal(l.held('a'), 1);
  assert.ok(l.acquire('a'));
  assert.equal(l.acquire('a'), undefined);
});

test('property: held never exceeds max and returns to zero (entries removed) after every release', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.boolean()), { maxLength: 200 }), (max, ops) => {
    const l = new ConcurrencyLimiter(max);
    const releases: (() => void)[] = [];
    for (const [key, take] of ops) {
      if (take) {
        const r = l.acquire(key);
        if (r) releases.push(r);
      } else {
        releases.shift()?.();
      }
      for (const k of ['a', 'b', 'c']) assert.ok(l.held(k) <= max);
    }
    for (const r of releases) { r(); r(); }
    assert.equal(l.keys, 0);
  }));
});

test('a non-positive limit is refused', () => {
  assert.throws(() => new ConcurrencyLimiter(0), RangeError);
});
