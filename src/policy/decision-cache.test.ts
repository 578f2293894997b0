import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DecisionCache } from './decision-cache.ts';

describe('DecisionCache', () => {
  test('evicts the least recently used entry', () => {
    const c = new DecisionCache<number>(2);
    c.set('a', 1);
    c.set('b', 2);
    assert.equal(c.get('a'), 1); // a is now the most recent
    c.set('c', 3);
    assert.equal(c.get('b'), undefined);
    assert.equal(c.get('a'), 1);
    assert.equal(c.get('c'), 3);
    assert.equal(c.size, 2);
  });

  test('keys over the limit are not stored; 0 entries disables; clear empties', () => {
    const c = new DecisionCache<number>(10, 4);
    assert.equal(c.set('12345', 1), 1);
    assert.equal(c.get('12345'), undefined);
    c.set('1234', 2);
    assert.equal(c.get('1234'), 2);
    c.clear();
    assert.equal(c.size, 0);
    const off = new DecisionCache<number>(0);
    off.set('a', 1);
    assert.equal(off.get('a'), undefined);
    assert.throws(() => new DecisionCache<number>(-1), RangeError);
  });
});
