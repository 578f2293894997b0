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
