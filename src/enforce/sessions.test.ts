import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXCHANGE_RESERVE_BYTES, HttpSessions, MAX_DEFAULT_AGE_MS, MAX_DEFAULT_EXCHANGES, MAX_TRACKED_SESSIONS, sessionOwner, type EndedSession, type HttpSession, type SessionIdentity } from './sessions.ts';

let n = 0;
const fresh = (): string => `new-${++n}`;

/** Resolves and ends one exchange at once (as a finished request does). */
function one(s: HttpSessions, header: unknown, owner: string, identity?: SessionIdentity): HttpSession {
  const r = s.resolve(header, owner, fresh, identity);
  s.release(r.id, 1000);
  return r;
}

test('a label opens a session with a generated id; the label or the id continues it for the same principal', () => {
  const s = new HttpSessions();
  const first = one(s, 'abc', 'alice');
  assert.ok(first.id.startsWith('new-'), 'the stored id is generated, not the client value');
  assert.equal(first.fresh, true);
  assert.equal(first.label, 'abc');
  assert.deepEqual(one(s, 'abc', 'alice'), { id: first.id, fresh: false, exchange: 2 });
  assert.deepEqual(one(s, first.id, 'alice'), { id: first.id, fresh: false, exchange: 3 });
  assert.equal(s.peek('abc', 'alice'), first.id);
  assert.equal(s.peek(first.id, 'alice'), first.id);
  assert.equal(s.peek('abc', 'mallory'), undefined);
});

test('another principal sending the same label or the stored id gets its own session; invalid or absent headers a new one', () => {
  const s = new HttpSessions();
  const alice = one(s, 'abc', 'alice');
  const byLabel = one(s, 'abc', 'mallory');
  const byId = one(s, alice.id, 'mallory');
  for (const m of [byLabel, byId]) {
    assert.notEqual(m.id, alice.id);
    assert.equal(m.fresh, true);
  }
  assert.equal(byId.label, alice.id, 'the other principal\'s id is only a label of its own session');
  assert.deepEqual(one(s, 'abc', 'mallory'), { id: byLabel.id, fresh: false, exchange: 2 });
  assert.deepEqual(one(s, 'abc', 'alice'), { id: alice.id, fresh: false, exchange: 2 });
  const bad = one(s, 'bad id!', 'alice');
  assert.ok(bad.id.startsWith('new-'));
  assert.equal(bad.label, undefined);
});

test('a header this process does not know (after a restart) starts a new session instead of adopting the id', () => {
  const before = new HttpSessions();
  const old = one(before, 'x', 'alice');
  const after = new HttpSessions();
  for (const owner of ['alice', 'mallory']) {
    const s = one(after, old.id, owner);
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
  const a = one(s, 'l', user);
  assert.notEqual(one(s, a.id, agent).id, a.id);
  assert.notEqual(one(s, 'l', viaBot).id, a.id);
});

test('bounded: the least recently used session is let go with its label (and not continued)', () => {
  const s = new HttpSessions(2);
  const a = one(s, 'a', 'u');
  const b = one(s, 'b', 'u');
  one(s, 'a', 'u');
  one(s, 'c', 'u');
  assert.equal(s.size, 2);
  assert.deepEqual(one(s, 'a', 'u'), { id: a.id, fresh: false, exchange: 3 });
  const b2 = one(s, 'b', 'u');
  assert.equal(b2.fresh, true);
  assert.notEqual(b2.id, b.id);
  const b3 = one(s, b.id, 'u');
  assert.equal(b3.fresh, true, 'an evicted stored id is not continued either');
  assert.equal(s.size, 2);
});

test('sessions unused for the idle time end (least recently used first); an ended session is never continued', () => {
  let now = 0;
  const s = new HttpSessions(100, () => now);
  const who = { protocol: 'http' as const, user: 'alice', agent: 'bot' };
  const old = one(s, 'old', 'alice', who);
  now = 500;
  const recent = one(s, 'recent', 'alice', who);
  now = 1200;
  assert.deepEqual(s.sweep(1000), [{ id: old.id, identity: who, reason: 'idle' }]);
  assert.deepEqual(s.sweep(1000), []);
  const byLabel = one(s, 'old', 'alice', who);
  const byId = one(s, old.id, 'alice', who);
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
  const a = one(s, 'a', 'bob', who);
  one(s, 'b', 'bob', who);
  assert.deepEqual(s.sweep(60_000), [{ id: a.id, identity: who, reason: 'evicted' }]);
});

test('exchanges without a valid header continue the principal\'s default session (per owner and protocol), numbered', () => {
  const s = new HttpSessions();
  const http = { protocol: 'http' as const, user: 'alice' };
  const a1 = one(s, undefined, 'alice', http);
  const a2 = one(s, 'bad id!', 'alice', http);
  assert.equal(a1.fresh, true);
  assert.equal(a1.label, undefined);
  assert.deepEqual(a2, { id: a1.id, fresh: false, exchange: 2 });
  assert.notEqual(one(s, undefined, 'bob', { protocol: 'http', user: 'bob' }).id, a1.id, 'another owner has its own');
  assert.notEqual(one(s, undefined, 'alice', { protocol: 'mcp', user: 'alice' }).id, a1.id, 'another protocol too');
  assert.deepEqual(one(s, a1.id, 'alice', http), { id: a1.id, fresh: false, exchange: 3 }, 'the returned id continues it too');
  assert.equal(one(s, a1.id, 'bob', http).fresh, true, 'never for another owner');
});

test('a default session is rotated after MAX_DEFAULT_EXCHANGES exchanges (closed as rotated) and after MAX_DEFAULT_AGE_MS', () => {
  let now = 0;
  const s = new HttpSessions(100, () => now);
  const who = { protocol: 'http' as const, user: 'alice' };
  const first = one(s, undefined, 'alice', who);
  for (let i = 2; i <= MAX_DEFAULT_EXCHANGES; i++) assert.equal(one(s, undefined, 'alice', who).id, first.id);
  const next = one(s, undefined, 'alice', who);
  assert.notEqual(next.id, first.id);
  assert.deepEqual([next.fresh, next.exchange], [true, 1]);
  assert.deepEqual(s.sweep(60_000), [{ id: first.id, identity: who, reason: 'rotated' }]);
  assert.deepEqual(one(s, first.id, 'alice', who), { id: next.id, fresh: false, exchange: 2 }, 'a rotated session is never continued: its id reaches its successor');
  now = MAX_DEFAULT_AGE_MS - 1;
  const d = one(s, undefined, 'alice', who);
  assert.equal(d.id, next.id);
  now += 1;
  assert.notEqual(one(s, undefined, 'alice', who).id, next.id, 'rotated when 5 minutes old');
  // A labelled session groups the client's run: not rotated on count or age (only on size, below).
  const l = one(s, 'mine', 'alice', who);
  for (let i = 0; i < MAX_DEFAULT_EXCHANGES + 5; i++) assert.equal(one(s, 'mine', 'alice', who).id, l.id);
  now += 2 * MAX_DEFAULT_AGE_MS;
  assert.equal(one(s, 'mine', 'alice', who).id, l.id);
});

test('a client echoing a rotated id continues the current successor (chains too); another owner sending it gets a session of its own', () => {
  const ended: EndedSession[] = [];
  const s = new HttpSessions(100, () => 0, { maxSessionBytes: 10 * EXCHANGE_RESERVE_BYTES, onEnded: (e) => { ended.push(e); } });
  const who = { protocol: 'mcp' as const, user: 'alice' };
  const first = s.resolve(undefined, 'alice', fresh, who);
  const ids = [first.id];
  // Five running exchanges reserve half of the limit; the sixth rotates — and again.
  for (let i = 0; i < 14; i++) {
    const r = s.resolve(first.id, 'alice', fresh, who); // always the first id, as an echoing client may
    if (r.id !== ids.at(-1)) {
      assert.deepEqual([r.fresh, r.previous, r.label], [true, ids.at(-1), undefined], 'a successor, not a labelled session');
      ids.push(r.id);
    }
  }
  assert.equal(ids.length, 3, 'rotated twice');
  assert.equal(s.size, 1, 'no labelled session was opened (the rotated ones are retiring: their exchanges run)');
  assert.deepEqual(ended, [], 'closed only once their exchanges end');
  assert.equal(s.peek(first.id, 'alice'), ids[2], 'peek follows the rotations');
  assert.equal(s.peek(ids[1], 'alice'), ids[2]);
  assert.equal(s.peek(first.id, 'mallory'), undefined);
  const m = s.resolve(first.id, 'mallory', fresh, { protocol: 'mcp', user: 'mallory' });
  assert.deepEqual([m.fresh, m.label, m.previous], [true, first.id, undefined], 'only a label for another owner');
  // The successor ended (idle): the old id opens the owner's default session anew, not a labelled one.
  const t = new HttpSessions(100, () => 0, { maxSessionBytes: 4 * EXCHANGE_RESERVE_BYTES });
  const a = one(t, undefined, 'alice', who);
  const held = t.resolve(undefined, 'alice', fresh, who);
  const b = t.resolve(undefined, 'alice', fresh, who); // rotates a
  assert.equal(b.previous, a.id);
  t.release(held.id, 0);
  t.release(b.id, 0);
  t.sweep(-1);
  assert.equal(t.size, 0);
  const again = one(t, a.id, 'alice', who);
  assert.deepEqual([again.fresh, again.label], [true, undefined]);
  assert.equal(one(t, undefined, 'alice', who).id, again.id, 'it is the default session');
});

test('a labelled session is rotated on its byte estimate; its label and old ids continue the successor, which keeps the label', () => {
  const ended: EndedSession[] = [];
  const s = new HttpSessions(100, () => 0, { maxSessionBytes: 3 * EXCHANGE_RESERVE_BYTES, onEnded: (e) => { ended.push(e); } });
  const who = { protocol: 'http' as const, user: 'alice' };
  const a = s.resolve('run', 'alice', fresh, who);
  s.release(a.id); // a whole reserve recorded: another could pass half of the limit
  const b = s.resolve('run', 'alice', fresh, who);
  assert.deepEqual([b.fresh, b.label, b.previous], [true, 'run', a.id]);
  assert.deepEqual(ended, [{ id: a.id, identity: who, reason: 'rotated' }], 'closed at once through onEnded');
  s.release(b.id, 1000);
  assert.deepEqual(one(s, a.id, 'alice', who), { id: b.id, fresh: false, exchange: 2 });
  assert.deepEqual(one(s, 'run', 'alice', who), { id: b.id, fresh: false, exchange: 3 });
  assert.deepEqual(s.sweep(60_000), [], 'nothing left for the sweep: reported once');
});

test('fair eviction: a full table evicts from an owner holding more sessions than the opener, else the opener\'s own', () => {
  const ended: EndedSession[] = [];
  const s = new HttpSessions(4, () => 0, { onEnded: (e) => { ended.push(e); } });
  const as = (who: string) => ({ protocol: 'http' as const, user: who });
  const alice = one(s, 'a1', 'alice', as('alice'));
  const m = ['m1', 'm2', 'm3'].map((l) => one(s, l, 'mallory', as('mallory')));
  // mallory opens more: alice (1 session) is never evicted by mallory (3): mallory's own LRU goes.
  for (const l of ['m4', 'm5', 'm6']) one(s, l, 'mallory', as('mallory'));
  assert.deepEqual(ended.map((e) => e.id), m.map((x) => x.id));
  assert.ok(ended.every((e) => e.reason === 'evicted'));
  assert.deepEqual(one(s, 'a1', 'alice', as('alice')), { id: alice.id, fresh: false, exchange: 2 });
  // bob (none) opening evicts from the biggest holder, mallory, not alice (whose session is older).
  ended.length = 0;
  one(s, 'b1', 'bob', as('bob'));
  assert.equal(ended[0]?.identity.user, 'mallory');
  assert.deepEqual([s.held('alice'), s.held('bob'), s.held('mallory')], [1, 1, 2]);
  // alice opening a second (she will hold 2, as many as mallory): mallory's goes; a third: her own
  // least recently used (mallory and bob now hold 1, fewer than her).
  ended.length = 0;
  one(s, 'a2', 'alice', as('alice'));
  assert.equal(ended[0]?.identity.user, 'mallory');
  one(s, 'a3', 'alice', as('alice'));
  assert.deepEqual(ended.map((e) => e.identity.user), ['mallory', 'alice']);
  assert.equal(ended[1]?.id, alice.id, 'her least recently used');
  assert.deepEqual([s.held('alice'), s.held('bob'), s.held('mallory')], [2, 1, 1], 'those holding fewer kept theirs');
});

test('a default session is rotated before half of max_session_bytes, counting a reserve for each running exchange', () => {
  const s = new HttpSessions(100, () => 0, { maxSessionBytes: 10 * EXCHANGE_RESERVE_BYTES });
  const who = { protocol: 'http' as const, user: 'alice' };
  // Five running exchanges reserve half of it: the sixth starts a new session.
  const running = Array.from({ length: 5 }, () => s.resolve(undefined, 'alice', fresh, who));
  assert.equal(new Set(running.map((r) => r.id)).size, 1);
  const sixth = s.resolve(undefined, 'alice', fresh, who);
  assert.notEqual(sixth.id, running[0]?.id);
  // Small exchanges: many fit.
  s.release(sixth.id, 10_000);
  for (let i = 0; i < 200; i++) { const r = s.resolve(undefined, 'alice', fresh, who); assert.equal(r.id, sixth.id); s.release(r.id, 10_000); }
  // With a limit below one exchange's reserve, every exchange has its own session.
  const tiny = new HttpSessions(100, () => 0, { maxSessionBytes: 1024 });
  assert.notEqual(one(tiny, undefined, 'alice', who).id, one(tiny, undefined, 'alice', who).id);
});

test('a session let go while an exchange runs is closed when that exchange ends (session.close stays last)', () => {
  let now = 0;
  const s = new HttpSessions(1, () => now);
  const who = { protocol: 'http' as const, user: 'alice' };
  const running = s.resolve('a', 'alice', fresh, who);
  one(s, 'b', 'alice', who); // evicts a, still running
  assert.deepEqual(s.sweep(60_000), [], 'not closed while its exchange runs');
  s.release(running.id, 1000);
  assert.deepEqual(s.sweep(60_000), [{ id: running.id, identity: who, reason: 'evicted' }]);
  // Idle: a session with a running exchange is not idle (until four idle times: a lost release).
  const t = new HttpSessions(10, () => now);
  const long = t.resolve('long', 'alice', fresh, who);
  now += 2_000;
  assert.deepEqual(t.sweep(1_000), []);
  now += 2_001;
  assert.deepEqual(t.sweep(1_000), [{ id: long.id, identity: who, reason: 'idle' }]);
  // Shutdown closes everything, running or retiring.
  const u = new HttpSessions(1, () => now);
  const r1 = u.resolve(undefined, 'alice', fresh, who);
  const r2 = u.resolve('z', 'alice', fresh, who);
  assert.deepEqual(u.endAll().map((e) => e.id).sort(), [r1.id, r2.id].sort());
});

test('retiring sessions are bounded without closing another principal\'s session while its exchange runs', () => {
  // Review finding (rev1): past MAX_TRACKED_SESSIONS retiring sessions the oldest one was closed
  // at once, whoever owned it; a principal rotating its own sessions under running exchanges (one
  // MCP batch of tools/call does it in one request) so closed another's session before that
  // session's last exchange had recorded its events (session.close no longer its last event).
  const ended: EndedSession[] = [];
  const s = new HttpSessions(MAX_TRACKED_SESSIONS, () => 0, { maxSessionBytes: 1024, onEnded: (e) => { ended.push(e); } });
  const as = (who: string) => ({ protocol: 'http' as const, user: who });
  // alice: a session rotated (every exchange rotates under this budget) while its exchange runs.
  const alice = s.resolve('a', 'alice', fresh, as('alice'));
  const next = s.resolve('a', 'alice', fresh, as('alice'));
  assert.notEqual(next.id, alice.id);
  assert.equal(ended.length, 0, 'rotated with its exchange running: closed when it ends');
  // mallory: as many rotations under running exchanges as she can.
  for (let i = 0; i < MAX_TRACKED_SESSIONS + 10; i++) s.resolve('m', 'mallory', fresh, as('mallory'));
  assert.equal(ended.filter((e) => e.identity.user === 'alice').length, 0, 'alice\'s running session was not closed by mallory\'s');
  assert.ok(ended.length >= 10 && ended.every((e) => e.identity.user === 'mallory'), 'mallory\'s own retiring sessions were closed instead');
  s.release(alice.id, 1000);
  assert.deepEqual(ended.filter((e) => e.identity.user === 'alice').map((e) => [e.id, e.reason]), [[alice.id, 'rotated']], 'closed once, as its exchange ended');
});

test('a session the recorder reports full is rotated at its next exchange (once; its label and old id go on in the successor)', () => {
  const ended: EndedSession[] = [];
  const s = new HttpSessions(100, () => 0, { onEnded: (e) => { ended.push(e); } });
  const who = { protocol: 'http' as const, user: 'alice' };
  const first = one(s, 'run', 'alice', who);
  const running = s.resolve('run', 'alice', fresh, who);
  s.filled(first.id);
  s.release(running.id, 0); // the refused exchange ends: the session still rotates next time
  const next = one(s, 'run', 'alice', who);
  assert.notEqual(next.id, first.id);
  assert.deepEqual([next.label, next.previous], ['run', first.id]);
  assert.deepEqual(ended.map((e) => [e.id, e.reason]), [[first.id, 'rotated']]);
  assert.equal(one(s, first.id, 'alice', who).id, next.id);
  s.filled('unknown'); // not live: nothing
});
