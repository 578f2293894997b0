import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { after as afterMs, manualClock, manualTimers } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import { AuditLog } from './audit-log.ts';

describe('AuditLog', () => {
  let db: SqlDriver;
  before(async () => { db = await openStore({ embedded: { path: undefined } }); });
  after(() => db.close());

  test('refuses records no row can hold, before they reach a batch', async () => {
    const log = new AuditLog(db, manualClock(0));
    const internal = (e: unknown): boolean => isGatehouseError(e, 'internal');
    await assert.rejects(log.append({ kind: '', outcome: 'ok' }), internal);
    await assert.rejects(log.append({ kind: 'k', outcome: 'ok', detail: { s: 'a\u0000b' } }), internal);
    await assert.rejects(log.append({ kind: 'k', outcome: 'ok', detail: { s: 'x'.repeat(20_000) } }), internal);
    await assert.rejects(log.append({ kind: 'k', outcome: 'ok', user: 'u'.repeat(5000) }), internal);
    // Valid appends in the same tick are unaffected by an invalid one.
    const [a, bad, b] = await Promise.allSettled([
      log.append({ kind: 'k', outcome: 'ok' }), log.append({ kind: 'k', outcome: '' }), log.append({ kind: 'k', outcome: 'ok' }),
    ]);
    assert.equal(a.status, 'fulfilled');
    assert.equal(bad.status, 'rejected');
    assert.equal(b.status, 'fulfilled');
    assert.deepEqual(await log.verify(), { ok: true, count: 2 });
  });

  test('detail is stored as JSON data: toJSON applied, undefined dropped', async () => {
    const log = new AuditLog(db, manualClock(Date.UTC(2025, 0, 2)));
    const r = await log.append({ kind: 'k', outcome: 'ok', detail: { when: new Date(0), gone: undefined, n: 1.5 } });
    assert.deepEqual(r.detail, { when: '1970-01-01T00:00:00.000Z', n: 1.5 });
    assert.deepEqual((await log.list({ limit: 1 }))[0], r);
  });

  test('a failing store rejects the whole batch with store_unavailable; the next batch succeeds', async () => {
    let fail = true;
    const flaky: SqlDriver = { ...db, transaction: (fn) => (fail ? Promise.reject(new Error('connection lost')) : db.transaction(fn)) };
    const log = new AuditLog(flaky, manualClock(0));
    const before = (await log.list({ limit: 1 }))[0]?.seq ?? 0;
    const settled = await Promise.allSettled([1, 2, 3].map(() => log.append({ kind: 'k', outcome: 'ok' })));
    for (const s of settled) assert.ok(s.status === 'rejected' && isGatehouseError(s.reason, 'store_unavailable'));
    fail = false;
    assert.equal((await log.append({ kind: 'k', outcome: 'ok' })).seq, before + 1);
    assert.deepEqual(await log.verify(), { ok: true, count: before + 1 });
  });

  test('a full queue refuses appends (fail closed) and flush waits for the rest', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const slow: SqlDriver = { ...db, transaction: async (fn) => { await gate; return db.transaction(fn); } };
    const log = new AuditLog(slow, manualClock(0), { maxQueue: 2, maxBatch: 1 });
    const first = log.append({ kind: 'k', outcome: 'ok' });
    await Promise.resolve(); // let the drain take `first` out of the queue
    const queued = [log.append({ kind: 'k', outcome: 'ok' }), log.append({ kind: 'k', outcome: 'ok' })];
    await assert.rejects(log.append({ kind: 'k', outcome: 'ok' }), (e) => isGatehouseError(e, 'store_unavailable'));
    let flushed = false;
    const flushing = log.flush().then(() => { flushed = true; });
    release();
    const done = await Promise.all([first, ...queued]);
    await flushing;
    assert.equal(flushed, true);
    assert.deepEqual(done.map((r) => r.seq - done[0].seq), [0, 1, 2]);
  });

  test('an append the engine refuses (its queue at the bound) rejects at once and leaves no caller waiting', async () => {
    // Manual timers: the enqueued records wait for the 50 ms interval, which never passes by itself.
    const timers = manualTimers(0);
    let writes = 0;
    const counting: SqlDriver = {
      ...db,
      transaction: (fn) => { writes++; return db.transaction(fn); },
      query: (text, params) => { if (text.includes('INSERT INTO audit_log')) writes++; return db.query(text, params); },
    };
    const log = new AuditLog(counting, timers, { maxQueue: 2 });
    log.enqueue({ kind: 'bounded', outcome: 'ok' });
    log.enqueue({ kind: 'bounded', outcome: 'ok' });
    let outcome: unknown = 'pending';
    log.append({ kind: 'refused', outcome: 'ok' }).then(() => { outcome = 'resolved'; }, (err: unknown) => { outcome = err; });
    await new Promise((r) => { setImmediate(r); });
    assert.ok(isGatehouseError(outcome, 'store_unavailable'), `refused at once, got ${String(outcome)}`);
    assert.equal(writes, 0, 'no awaited append is left: the queued records still wait for the interval');
    timers.advance(50);
    await log.flush();
    assert.equal(writes, 1);
    assert.equal((await log.list({ kind: 'bounded' })).length, 2);
    assert.equal((await log.list({ kind: 'refused' })).length, 0);
  });

  test('enqueue: no waiting; a failed batch clears healthy(); records dropped after 3 failures leave a trace', async () => {
    let fail = true;
    const flaky: SqlDriver = { ...db, transaction: (fn) => (fail ? Promise.reject(new Error('connection lost')) : db.transaction(fn)) };
    const log = new AuditLog(flaky, manualClock(0));
    assert.equal(log.healthy(), true);
    assert.throws(() => { log.enqueue({ kind: '', outcome: 'ok' }); }, (e) => isGatehouseError(e, 'internal'));
    log.enqueue({ kind: 'lost', outcome: 'ok' });
    for (let i = 0; i < 3; i++) {
      await log.flush();
      assert.equal(log.healthy(), false);
    }
    fail = false;
    log.enqueue({ kind: 'kept', outcome: 'ok' });
    await log.flush();
    assert.equal(log.healthy(), true);
    const [kept, gap] = await log.list({ limit: 2 });
    assert.equal(kept?.kind, 'kept');
    assert.equal(gap?.kind, 'audit.records_lost');
    assert.deepEqual(gap.detail, { count: 1 });
    assert.equal((await log.list({ kind: 'lost' })).length, 0);
    assert.equal((await log.verify()).ok, true);
  });

  test('a run that is lost counts all of its decisions in audit.records_lost', async () => {
    let fail = true;
    const flaky: SqlDriver = { ...db, transaction: (fn) => (fail ? Promise.reject(new Error('connection lost')) : db.transaction(fn)) };
    const log = new AuditLog(flaky, manualClock(0));
    for (let i = 0; i < 3; i++) log.enqueue({ kind: 'lost-run', outcome: 'allow' });
    for (let i = 0; i < 3; i++) await log.flush();
    fail = false;
    log.enqueue({ kind: 'kept', outcome: 'ok' });
    await log.flush();
    const [kept, gap] = await log.list({ limit: 2 });
    assert.equal(kept?.kind, 'kept');
    assert.equal(gap?.kind, 'audit.records_lost');
    assert.deepEqual(gap.detail, { count: 3 });
  });

  test('group commit holds under a steady stream: records arriving during a commit wait for the interval', async () => {
    // A store whose writes take 15 ms (the locking transaction of the first batch, the one-statement
    // append after it): a drain that went straight on with whatever arrived meanwhile would commit
    // ~10 records at a time, back to back. Time is the manual clock's: the clock moves only while
    // no real store work is outstanding, so each write takes exactly 15 ms of it (nothing sleeps).
    const timers = manualTimers(0);
    let commits = 0;
    let busy: Promise<unknown> | undefined;
    const slowly = async <T>(p: Promise<T>): Promise<T> => {
      commits++;
      busy = p;
      const r = await p.finally(() => { busy = undefined; });
      await new Promise((res) => { afterMs(timers, 15, () => { res(undefined); }); });
      return r;
    };
    const slow: SqlDriver = {
      ...db,
      transaction: (fn) => slowly(db.transaction(fn)),
      query: (text, params) => (text.includes('INSERT INTO audit_log') ? slowly(db.query(text, params)) : db.query(text, params)),
    };
    /** Lets the real store finish what it was given, then moves the clock. */
    const tick = async (ms: number): Promise<void> => {
      for (let b = busy; b !== undefined; b = busy) await b.catch(() => undefined);
      await new Promise((r) => { setImmediate(r); });
      timers.advance(ms);
    };
    const log = new AuditLog(slow, timers, { groupCommitMs: 40 });
    for (let i = 0; i < 160; i++) {
      log.enqueue({ kind: 'steady', outcome: 'ok', detail: { i } });
      await tick(1);
    }
    let flushed = false;
    const flushing = log.flush().then(() => { flushed = true; });
    for (let i = 0; i < 1000 && !flushed; i++) await tick(5);
    await flushing;
    assert.equal((await log.list({ kind: 'steady', limit: 1000 })).length, 160);
    assert.ok(commits <= 7, `expected a commit per group-commit interval, got ${commits}`);
    assert.equal((await log.verify()).ok, true);
  });
});
