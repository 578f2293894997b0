import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpSessions } from './sessions.ts';

let n = 0;
const fresh = (): string => `new-${++n}`;

test('a header continues its session for the principal that opened it', () => {
  const s = new HttpSessions();
  assert.deepEqual(s.resolve('abc', 'alice', fresh), { id: 'abc', fresh: true });
  assert.deepEqual(s.resolve('abc', 'alice', fresh), { id: 'abc', fresh: false });
});

test('another principal reusing the id gets a new session; invalid or absent headers too', () => {
  const s = new HttpSessions();
  s.resolve('abc', 'alice', fresh);
  const other = s.resolve('abc', 'mallory', fresh);
  assert.notEqual(other.id, 'abc');
  assert.equal(other.fresh, true);
  assert.deepEqual(s.resolve(other.id, 'mallory', fresh), { id: other.id, fresh: false });
  assert.equal(s.resolve('bad id!', 'alice', fresh).id.startsWith('new-'), true);
  assert.equal(s.resolve(undefined, 'alice', fresh).fresh, true);
});

test('bounded: the least recently used id is forgotten', () => {
  const s = new HttpSessions(2);
  s.resolve('a', 'u', fresh);
  s.resolve('b', 'u', fresh);
  s.resolve('a', 'u', fresh);
  s.resolve('c', 'u', fresh);
  assert.equal(s.resolve('a', 'u', fresh).fresh, false);
  assert.equal(s.resolve('b', 'u', fresh).fresh, true);
});
