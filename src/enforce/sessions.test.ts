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

test('bounded: the least recently used id is let go (and not continued)', () => {
  const s = new HttpSessions(2);
  s.resolve('a', 'u', fresh);
  s.resolve('b', 'u', fresh);
  s.resolve('a', 'u', fresh);
  s.resolve('c', 'u', fresh);
  assert.equal(s.resolve('a', 'u', fresh).fresh, false);
  const b = s.resolve('b', 'u', fresh);
  assert.equal(b.fresh, true);
  assert.notEqual(b.id, 'b');
});

test('sessions unused for the idle time end (least recently used first); an ended id is never continued', () => {
  let now = 0;
  const s = new HttpSessions(100, () => now);
  const who = { protocol: 'http' as const, user: 'alice', agent: 'bot' };
  s.resolve('old', 'alice', fresh, who);
  now = 500;
  s.resolve('recent', 'alice', fresh, who);
  now = 1200;
  assert.deepEqual(s.sweep(1000), [{ id: 'old', identity: who, reason: 'idle' }]);
  assert.deepEqual(s.sweep(1000), []);
  const again = s.resolve('old', 'alice', fresh, who);
  assert.notEqual(again.id, 'old', 'a closed session is not reopened under its id');
  assert.equal(again.fresh, true);
  assert.deepEqual(s.endAll().map((e) => [e.id, e.reason]), [['recent', 'shutdown'], [again.id, 'shutdown']]);
});

test('an evicted session ends too (reported by the next sweep)', () => {
  const s = new HttpSessions(1, () => 0);
  const who = { protocol: 'mcp' as const, user: 'bob' };
  s.resolve('a', 'bob', fresh, who);
  s.resolve('b', 'bob', fresh, who);
  assert.deepEqual(s.sweep(60_000), [{ id: 'a', identity: who, reason: 'evicted' }]);
});
