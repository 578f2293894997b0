import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpSessions, sessionOwner } from './sessions.ts';

let n = 0;
const fresh = (): string => `new-${++n}`;

test('a label opens a session with a generated id; the label or the id continues it for the same principal', () => {
  const s = new HttpSessions();
  const first = s.resolve('abc', 'alice', fresh);
  assert.ok(first.id.startsWith('new-'), 'the stored id is generated, not the client value');
  assert.equal(first.fresh, true);
  assert.equal(first.label, 'abc');
  assert.deepEqual(s.resolve('abc', 'alice', fresh), { id: first.id, fresh: false });
  assert.deepEqual(s.resolve(first.id, 'alice', fresh), { id: first.id, fresh: false });
  assert.equal(s.peek('abc', 'alice'), first.id);
  assert.equal(s.peek(first.id, 'alice'), first.id);
  assert.equal(s.peek('abc', 'mallory'), undefined);
});

test('another principal sending the same label or the stored id gets its own session; invalid or absent headers a new one', () => {
  const s = new HttpSessions();
  const alice = s.resolve('abc', 'alice', fresh);
  const byLabel = s.resolve('abc', 'mallory', fresh);
  const byId = s.resolve(alice.id, 'mallory', fresh);
  for (const m of [byLabel, byId]) {
    assert.notEqual(m.id, alice.id);
    assert.equal(m.fresh, true);
  }
  assert.equal(byId.label, alice.id, 'the other principal\'s id is only a label of its own session');
  assert.deepEqual(s.resolve('abc', 'mallory', fresh), { id: byLabel.id, fresh: false });
  assert.deepEqual(s.resolve('abc', 'alice', fresh), { id: alice.id, fresh: false });
  const bad = s.resolve('bad id!', 'alice', fresh);
  assert.ok(bad.id.startsWith('new-'));
  assert.equal(bad.label, undefined);
  assert.equal(s.resolve(undefined, 'alice', fresh).fresh, true);
});

test('a header this process does not know (after a restart) starts a new session instead of adopting the id', () => {
  const before = new HttpSessions();
  const old = before.resolve('x', 'alice', fresh);
  const after = new HttpSessions();
  for (const owner of ['alice', 'mallory']) {
    const s = after.resolve(old.id, owner, fresh);
    assert.notEqual(s.id, old.id);
    assert.equal(s.fresh, true);
  }
});

test('owners: a user, the same user through an agent, and an agent of that name are different owners', () => {
  const user = sessionOwner({ kind: 'user', id: 'alice', groups: [], via: 'api_key' });
  const viaBot = sessionOwner({ kind: 'user', id: 'alice', groups: [], via: 'api_key', agent: { id: 'bot', groups: [] } });
  const agent = sessionOwner({ kind: 'agent', id: 'alice', groups: [], via: 'api_key' });
  assert.equal(new Set([user, viaBot, agent]).size, 3);
  const s = new HttpSessions();
  const a = s.resolve('l', user, fresh);
  assert.notEqual(s.resolve(a.id, agent, fresh).id, a.id);
  assert.notEqual(s.resolve('l', viaBot, fresh).id, a.id);
});

test('bounded: the least recently used session is let go with its label (and not continued)', () => {
  const s = new HttpSessions(2);
  const a = s.resolve('a', 'u', fresh);
  const b = s.resolve('b', 'u', fresh);
  s.resolve('a', 'u', fresh);
  s.resolve('c', 'u', fresh);
  assert.equal(s.size, 2);
  assert.deepEqual(s.resolve('a', 'u', fresh), { id: a.id, fresh: false });
  const b2 = s.resolve('b', 'u', fresh);
  assert.equal(b2.fresh, true);
  assert.notEqual(b2.id, b.id);
  const b3 = s.resolve(b.id, 'u', fresh);
  assert.equal(b3.fresh, true, 'an evicted stored id is not continued either');
  assert.equal(s.size, 2);
});

test('sessions unused for the idle time end (least recently used first); an ended session is never continued', () => {
  let now = 0;
  const s = new HttpSessions(100, () => now);
  const who = { protocol: 'http' as const, user: 'alice', agent: 'bot' };
  const old = s.resolve('old', 'alice', fresh, who);
  now = 500;
  const recent = s.resolve('recent', 'alice', fresh, who);
  now = 1200;
  assert.deepEqual(s.sweep(1000), [{ id: old.id, identity: who, reason: 'idle' }]);
  assert.deepEqual(s.sweep(1000), []);
  const byLabel = s.resolve('old', 'alice', fresh, who);
  const byId = s.resolve(old.id, 'alice', fresh, who);
  for (const again of [byLabel, byId]) {
    assert.notEqual(again.id, old.id, 'a closed session is not reopened');
    assert.equal(again.fresh, true);
  }
  assert.deepEqual(s.endAll().map((e) => [e.id, e.reason]), [[recent.id, 'shutdown'], [byLabel.id, 'shutdown'], [byId.id, 'shutdown']]);
  assert.equal(s.size, 0);
});

test('an evicted session ends too (reported by the next sweep)', () => {
  const s = new HttpSessions(1, () => 0);
  const who = { protocol: 'mcp' as const, user: 'bob' };
  const a = s.resolve('a', 'bob', fresh, who);
  s.resolve('b', 'bob', fresh, who);
  assert.deepEqual(s.sweep(60_000), [{ id: a.id, identity: who, reason: 'evicted' }]);
});
