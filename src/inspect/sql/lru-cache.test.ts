import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TextLru } from './lru-cache.ts';

describe('TextLru', () => {
  test('evicts the least recently used entry', () => {
    const c = new TextLru<number>({ maxEntries: 2, maxKeyChars: 100 });
    c.set('a', 1);
    c.set('b', 2);
    assert.equal(c.get('a'), 1); // a is now most recent
    c.set('c', 3);
    assert.equal(c.get('b'), undefined);
    assert.equal(c.get('a'), 1);
    assert.equal(c.get('c'), 3);
  });

  test('bounds total key characters and never stores an oversized key', () => {
    const c = new TextLru<number>({ maxEntries: 100, maxKeyChars: 10 });
    c.set('aaaa', 1);
    c.set('bbbb', 2);
    c.set('cccc', 3); // 12 chars: evicts aaaa
    assert.equal(c.get('aaaa'), undefined);
    assert.equal(c.keyChars, 8);
    c.set('x'.repeat(11), 4);
    assert.equal(c.size, 2);
    assert.equal(c.get('x'.repeat(11)), undefined);
  });

  test('replacing a key keeps the accounting right; clear empties', () => {
    const c = new TextLru<number>({ maxEntries: 3, maxKeyChars: 100 });
    c.set('k', 1);
    c.set('k', 2);
    assert.equal(c.size, 1);
    assert.equal(c.keyChars, 1);
    assert.equal(c.get('k'), 2);
    c.clear();
    assert.equal(c.size, 0);
    assert.equal(c.keyChars, 0);
  });

  test('property: bounds always hold and keyChars is exact', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 40 }),
      fc.array(fc.tuple(fc.boolean(), fc.string({ maxLength: 12 })), { maxLength: 100 }),
      (maxEntries, maxKeyChars, ops) => {
        const c = new TextLru<string>({ maxEntries, maxKeyChars });
        const present = new Set<string>();
        for (const [isSet, key] of ops) {
          if (isSet) c.set(key, key);
          else if (c.get(key) !== undefined) present.add(key);
          assert.ok(c.size <= maxEntries);
          assert.ok(c.keyChars <= maxKeyChars);
        }
        assert.equal(typeof present.size, 'number');
      },
    ));
  });
});
