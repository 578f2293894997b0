import assert from 'node:assert/strict';
import { test } from 'node:test';
import { manualClock } from '../kernel/clock.ts';
import type { SqlDriver } from '../store/sql.ts';
import { StoreRecorder } from './store-recorder.ts';

const T0 = Date.parse('2025-06-01T00:00:00.000Z');
/** A store that never answers: nothing is committed, the recorder only counts. */
const silent = { transaction: () => new Promise(() => undefined), query: () => new Promise(() => undefined) } as unknown as SqlDriver;

test('an event recorded after its session.close (an SSH exec answered after the client left) does not track the closed session again', () => {
  const rec = new StoreRecorder(silent, { clock: manualClock(T0), groupCommitMs: 1000, maxSessionBytes: 4096 });
  const base = { session: 'late-1', protocol: 'ssh' as const, user: 'erin' };
  rec.record({ ...base, type: 'session.open', at: T0, data: {} });
  rec.record({ ...base, type: 'request', at: T0, data: { statement: 'sleep 100' } });
  rec.record({ ...base, type: 'session.close', at: T0 + 1, data: {} });
  rec.record({ ...base, type: 'response', at: T0 + 2, data: { exit: null } });
  assert.equal(rec.room('late-1'), 0, 'a closed session has no room (its size is not tracked any more)');
});

test('sessions ended with a late event do not use up the tracked sessions: a new PostgreSQL session still has room', () => {
  const rec = new StoreRecorder(silent, { clock: manualClock(T0), groupCommitMs: 1000, maxQueue: 1_000_000, maxQueueBytes: 1 << 30 });
  // 200 000 SSH connections, each left while its command ran: its response is recorded after its close.
  for (let i = 0; i < 200_000; i++) {
    const base = { session: `ssh-${i}`, protocol: 'ssh' as const, user: 'mallory' };
    rec.record({ ...base, type: 'session.open', at: T0, data: {} });
    rec.record({ ...base, type: 'session.close', at: T0, data: {} });
    rec.record({ ...base, type: 'response', at: T0, data: { exit: null } });
  }
  rec.record({ session: 'pg-victim', protocol: 'postgres', type: 'session.open', at: T0, user: 'alice', data: {} });
  assert.ok(rec.room('pg-victim') > 0, 'another user\'s new session is refused every statement (room 0)');
});

test('a session opened past the tracked sessions is full from its start (every protocol refuses it), and a close makes room again', async () => {
  const rec = new StoreRecorder(silent, { clock: manualClock(T0), groupCommitMs: 1000, maxSizedSessions: 2 });
  const open = (session: string, protocol: 'ssh' | 'http' | 'mcp' | 'postgres'): void => { rec.record({ session, protocol, type: 'session.open', at: T0, user: 'u', data: {} }); };
  open('a', 'ssh');
  open('b', 'http');
  open('c', 'mcp');
  assert.equal(rec.full('a'), false);
  assert.equal(rec.full('c'), true, 'a session whose size is not tracked runs unchecked (until session 16: capped by the writer only)');
  assert.equal(rec.room('c'), 0);
  await assert.rejects(rec.flush('c'), (e: Error & { extra?: { reason?: string } }) => e.extra?.reason === 'max_session_bytes');
  rec.record({ session: 'a', protocol: 'ssh', type: 'session.close', at: T0, user: 'u', data: {} });
  rec.record({ session: 'c', protocol: 'mcp', type: 'session.close', at: T0, user: 'u', data: {} });
  open('d', 'ssh');
  assert.equal(rec.full('d'), false, 'a close makes room for a new session');
  assert.ok(rec.room('d') > 0);
});

/** A store that commits everything at once (its queries answer no rows). */
const nothing = { query: () => Promise.resolve([]) };
const instant = { transaction: (fn: (tx: typeof nothing) => unknown) => Promise.resolve(fn(nothing)), query: () => Promise.resolve([]) } as unknown as SqlDriver;

test('losses of more sessions than are tracked fail closed: a session whose lost event no entry could record cannot flush as if nothing was lost', async () => {
  const rec = new StoreRecorder(instant, { clock: manualClock(T0), groupCommitMs: 1000, maxQueue: 1, maxLossCells: 2 });
  const ev = (session: string) => ({ session, protocol: 'http' as const, type: 'request' as const, at: T0, user: 'u', data: {} });
  rec.record(ev('a')); // fills the queue (1)
  for (const s of ['x0', 'x1', 'victim']) rec.record(ev(s)); // dropped (queue full); x0 and x1 take the two entries
  await assert.rejects(rec.flush('victim'), /could not attribute/, 'the victim\'s loss was not tracked: its flush must not succeed');
  await assert.rejects(rec.flush('x1'), /lost events/);
  // Fail closed: a session without an entry cannot tell that none of its events was among them.
  await assert.rejects(rec.flush('a'), /could not attribute/);
});

test('a loss no entry could attribute refuses the sessions open at the time, not those opened after it (until session 15: every flush until a restart)', async () => {
  const rec = new StoreRecorder(instant, { clock: manualClock(T0), groupCommitMs: 1000, maxQueue: 1, maxLossCells: 1 });
  const ev = (session: string, type: 'session.open' | 'request' = 'request') => ({ session, protocol: 'http' as const, type, at: T0, user: 'u', data: {} });
  rec.record(ev('old', 'session.open')); // fills the queue (1)
  for (const s of ['x0', 'x1']) rec.record(ev(s)); // dropped: x0 takes the one entry, x1's loss is unattributed
  await assert.rejects(rec.flush('old'), /could not attribute/, 'open before the loss: its events may be among the lost');
  assert.equal(rec.flushedNow('old'), false);
  rec.record(ev('new', 'session.open'));
  await rec.flush('new');
  rec.record(ev('new'));
  await rec.flush('new');
  assert.equal(rec.flushedNow('new'), true, 'opened after the loss: nothing of it can have been lost');
  await assert.rejects(rec.flush('old'), /could not attribute/, 'still refused');
  // A session whose own open was the loss no entry took is refused too.
  rec.record(ev('filler')); // fills the queue again
  rec.record(ev('lost-open', 'session.open')); // dropped, unattributed (x0 holds the only entry)
  await assert.rejects(rec.flush('lost-open'), /could not attribute/);
});

test('a session\'s loss entry leaves once its close is committed, so sessions that lost events and ended do not use up the entries', async () => {
  const rec = new StoreRecorder(instant, { clock: manualClock(T0), groupCommitMs: 1000, maxQueue: 1, maxLossCells: 2 });
  const ev = (session: string, type: 'request' | 'session.close') => ({ session, protocol: 'http' as const, type, at: T0, user: 'u', data: {} });
  for (let i = 0; i < 10; i++) {
    rec.record(ev(`filler-${i}`, 'request')); // takes the queue's one place
    rec.record(ev(`s${i}`, 'request')); // dropped: s${i} lost an event
    await assert.rejects(rec.flush(`s${i}`), /this session lost events/);
    rec.record(ev(`s${i}`, 'session.close'));
    await rec.flush(`s${i}`);
  }
  rec.record(ev('fresh', 'request'));
  await rec.flush('fresh');
});

test('a flush reports a session\'s loss within its range even when the session lost a later event meanwhile', async () => {
  const rec = new StoreRecorder(instant, { clock: manualClock(T0), groupCommitMs: 1000, maxQueue: 1 });
  const ev = (session: string) => ({ session, protocol: 'http' as const, type: 'request' as const, at: T0, user: 'u', data: {} });
  rec.record(ev('filler')); // takes the queue's one place
  rec.record(ev('s')); // dropped: s loses an event within the flush's range
  const flushed = rec.flush('s');
  rec.record(ev('s')); // dropped too, after the flush was asked (out of its range)
  await assert.rejects(flushed, /this session lost events/);
  await assert.rejects(rec.flush('s'), /this session lost events/, 'the later loss is reported by a later flush');
  rec.record(ev('s2'));
  await rec.flush('s2');
});
