import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { manualClock, manualTimers } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import { RecordingJournal } from './journal.ts';
import { SessionStore } from './session-store.ts';
import { recoverJournals, StoreRecorder } from './store-recorder.ts';

const T0 = Date.parse('2025-06-01T00:00:00.000Z');

/** Lets `n` event-loop turns run (no time passes on a manual clock). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => { setImmediate(r); });
}

/**
 * Waits until `cond` holds: event-loop turns first, then short polls while the embedded store's
 * thread works; fails after 10 s (a bound, never a wait the test relies on).
 */
async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  for (let i = 0; !cond(); i++) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await (i < 100 ? turns(1) : new Promise((r) => { setTimeout(r, 2); }));
  }
}

/** Renames a journal (files and watermark) as if a process that has exited had written it. */
async function orphan(db: SqlDriver, dir: string, journal: RecordingJournal): Promise<void> {
  const dead = spawnSync('true').pid; // a pid that has just exited
  const id = journal.id.replace(/^\d+p/, `${dead}p`);
  for (const f of readdirSync(dir)) {
    if (f.includes(journal.id)) renameSync(join(dir, f), join(dir, f.replace(journal.id, id)));
  }
  await db.query('UPDATE recording_journal SET id = $1 WHERE id = $2', [id, journal.id]);
}

describe('recording journal', () => {
  let db: SqlDriver;
  let store: SessionStore;
  const dirs: string[] = [];
  const clock = manualClock(T0);
  const tmp = (): string => { const d = mkdtempSync(join(tmpdir(), 'gh-journal-')); dirs.push(d); return d; };
  before(async () => {
    db = await openStore({ embedded: { path: undefined } });
    store = new SessionStore(db, { clock, requireAnchor: false });
  });
  after(async () => {
    await db.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('flush is durable from the journal while the store has not committed; recovery replays exactly the rest', async () => {
    const dir = tmp();
    const journal = RecordingJournal.create(dir);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    let writes = 0;
    const slow: SqlDriver = { ...db, transaction: async (fn) => { writes++; if (writes > 1) await gate; return db.transaction(fn); } };
    const rec = new StoreRecorder(slow, { clock, journal, groupCommitMs: 0 });
    rec.record({ session: 'j-1', protocol: 'http', type: 'request', at: T0, data: { n: 1 } });
    await rec.flush('j-1');
    // The first batch commits (its watermark says ticket 1 is stored).
    await rec.settled();
    for (let n = 2; n <= 5; n++) rec.record({ session: 'j-1', protocol: 'http', type: 'request', at: T0 + n, data: { n } });
    await rec.flush('j-1'); // resolves although the second transaction is held: the journal has it
    assert.equal((await store.get('j-1'))?.events, 1);
    // The process "dies" here: its journal is orphaned, the held transaction never commits.
    await orphan(db, dir, journal);
    assert.equal(await recoverJournals(db, dir), 4);
    const events = await store.events('j-1');
    assert.deepEqual(events.map((e) => e.data.n), [1, 2, 3, 4, 5]);
    assert.deepEqual(await store.verify('j-1'), { ok: true, events: 5 });
    assert.deepEqual(readdirSync(dir), [], 'a recovered journal is deleted');
    release();
  });

  test('a torn last line (a write that never returned) is ignored; complete lines are replayed', async () => {
    const dir = tmp();
    const journal = RecordingJournal.create(dir);
    const rec = new StoreRecorder({ ...db, transaction: () => new Promise(() => undefined) }, { clock, journal });
    rec.record({ session: 'j-torn', protocol: 'postgres', type: 'request', at: T0, data: { statement: 'SELECT 1' } });
    await rec.flush('j-torn');
    const [file] = readdirSync(dir);
    assert.ok(file);
    appendFileSync(join(dir, file), '{"n":2,"e":{"session":"j-torn","proto');
    await orphan(db, dir, journal);
    assert.equal(await recoverJournals(db, dir), 1);
    assert.equal((await store.get('j-torn'))?.events, 1);
  });

  test('the journal of a live process is never taken', async () => {
    const dir = tmp();
    const journal = RecordingJournal.create(dir);
    const rec = new StoreRecorder({ ...db, transaction: () => new Promise(() => undefined) }, { clock, journal });
    rec.record({ session: 'j-live', protocol: 'http', type: 'request', at: T0, data: {} });
    await rec.flush('j-live');
    assert.equal(await recoverJournals(db, dir), 0);
    assert.equal(readdirSync(dir).length, 1);
    assert.equal(await store.get('j-live'), undefined);
  });


  test('a journal with this process\'s pid that this process did not open is an earlier run\'s (a container\'s PID 1 restarted) and is recovered', async () => {
    const dir = tmp();
    const journal = RecordingJournal.create(dir);
    const rec = new StoreRecorder({ ...db, transaction: () => new Promise(() => undefined) }, { clock, journal });
    rec.record({ session: 'j-pid1', protocol: 'http', type: 'request', at: T0, data: { n: 1 } });
    await rec.flush('j-pid1');
    assert.deepEqual(RecordingJournal.orphans(dir), [], 'open in this process: not an orphan');
    // The container restarts: the new gateway is PID 1 again, like the one that wrote the journal.
    const earlier = `${process.pid}p${'0'.repeat(18)}`;
    for (const f of readdirSync(dir)) renameSync(join(dir, f), join(dir, f.replace(journal.id, earlier)));
    const live = RecordingJournal.create(dir); // this run's own journal, beside it
    try {
      assert.deepEqual(RecordingJournal.orphans(dir).map((o) => o.id), [earlier]);
      assert.equal(await recoverJournals(db, dir, { exceptId: live.id }), 1);
      assert.deepEqual((await store.events('j-pid1')).map((e) => e.data.n), [1]);
    } finally {
      live.close(true);
    }
  });
  test('a failed store write is retried from memory, not lost; close keeps the journal when the store still fails', async () => {
    const dir = tmp();
    const journal = RecordingJournal.create(dir);
    let fail = true;
    const errors: string[] = [];
    const flaky: SqlDriver = { ...db, transaction: (fn) => (fail ? Promise.reject(new Error('connection lost')) : db.transaction(fn)) };
    const rec = new StoreRecorder(flaky, { clock, journal, groupCommitMs: 0, onError: (_e, what) => errors.push(what) });
    rec.record({ session: 'j-flaky', protocol: 'http', type: 'request', at: T0, data: { n: 1 } });
    await rec.flush('j-flaky'); // durable in the journal: no error for the client
    await until(() => errors.includes('write'), 'the write failed');
    assert.ok(errors.includes('write'));
    assert.equal(rec.stats().dropped, 0);
    await rec.close(); // still failing: the journal stays for the next start
    assert.equal(readdirSync(dir).length, 1);
    fail = false;
    await orphan(db, dir, journal);
    assert.equal(await recoverJournals(db, dir), 1);
    assert.deepEqual((await store.events('j-flaky')).map((e) => e.data.n), [1]);
  });

  test('settled() makes journaled events readable: the store has them when it resolves', async () => {
    const rec = new StoreRecorder(db, { clock, journal: RecordingJournal.create(tmp()), groupCommitMs: 1000 });
    rec.record({ session: 'j-read', protocol: 'http', type: 'request', at: T0, data: {} });
    await rec.flush('j-read');
    assert.equal(await store.get('j-read'), undefined, 'acknowledged from the journal, not yet in the store');
    await rec.settled();
    assert.equal((await store.get('j-read'))?.events, 1);
    await rec.close();
  });

  test('flushedNow: true once journaled (the journal holds the event), false without a journal until committed', async () => {
    const dir = tmp();
    const journaled = new StoreRecorder({ ...db, transaction: () => new Promise(() => undefined) }, { clock, journal: RecordingJournal.create(dir) });
    journaled.record({ session: 'j-now', protocol: 'postgres', type: 'request', at: T0, data: { statement: 'SELECT 1' } });
    assert.equal(journaled.flushedNow('j-now'), true);
    const [file] = readdirSync(dir);
    assert.ok(file);
    assert.match(readFileSync(join(dir, file), 'utf8'), /SELECT 1/);
    const plain = new StoreRecorder(db, { clock, groupCommitMs: 1000 });
    plain.record({ session: 'j-now-2', protocol: 'postgres', type: 'request', at: T0, data: {} });
    assert.equal(plain.flushedNow('j-now-2'), false);
    await plain.flush('j-now-2');
    assert.equal(plain.flushedNow('j-now-2'), true);
    await plain.close();
  });

  test('a session.close waits for its commit and anchor only in its own session\'s flush', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    let anchorDone: () => void = () => undefined;
    const anchorGate = new Promise<void>((r) => { anchorDone = r; });
    const anchors: string[] = [];
    const held: SqlDriver = { ...db, transaction: async (fn) => { await gate; return db.transaction(fn); } };
    const audit = { append: async (r: { resource?: string }) => { anchors.push(r.resource ?? ''); await anchorGate; return undefined as never; } };
    const rec = new StoreRecorder(held, { clock, journal: RecordingJournal.create(tmp()), groupCommitMs: 0, audit });
    rec.record({ session: 'c-a', protocol: 'http', type: 'session.open', at: T0, data: {} });
    rec.record({ session: 'c-a', protocol: 'http', type: 'session.close', at: T0 + 1, data: { reason: 'evicted' } });
    rec.record({ session: 'c-b', protocol: 'http', type: 'request', at: T0 + 2, data: {} });
    // Another session's flush is durable from the journal: it waits neither for the commit nor the anchor.
    // A bound, cleared when `p` settles (a pending timer would hold the test process open).
    const within = async (p: Promise<void>, what: string): Promise<void> => {
      let t: NodeJS.Timeout | undefined;
      try {
        await Promise.race([p, new Promise<void>((_, reject) => { t = setTimeout(() => { reject(new Error(`${what} waited`)); }, 2000); })]);
      } finally {
        clearTimeout(t);
      }
    };
    await within(rec.flush('c-b'), 'another session\'s flush');
    assert.equal(rec.flushedNow('c-b'), true);
    assert.equal(rec.flushedNow('c-a'), false);
    let closedFlushed = false;
    const flushingA = rec.flush('c-a').then(() => { closedFlushed = true; });
    let allFlushed = false;
    const flushingAll = rec.flush().then(() => { allFlushed = true; });
    await turns(20);
    assert.equal(closedFlushed, false, 'the closed session waits for its commit');
    release();
    await until(() => anchors.length > 0, 'the session is anchored');
    assert.deepEqual(anchors, ['c-a']);
    await turns(20);
    assert.equal(closedFlushed, false, 'and for its anchor');
    assert.equal(allFlushed, false, 'a flush of every session waits for every anchor');
    await within(rec.flush('c-b'), 'a flush during another session\'s anchor');
    anchorDone();
    await flushingA;
    await flushingAll;
    assert.equal(rec.flushedNow('c-a'), true);
    await rec.close();
  });

  test('a failing store with a backlog past half the queue: flush fails closed instead of waiting', async () => {
    const timers = manualTimers(T0);
    const rec = new StoreRecorder({ ...db, transaction: () => Promise.reject(new Error('down')) }, { clock: timers, journal: RecordingJournal.create(tmp()), groupCommitMs: 0, maxQueue: 4 });
    rec.record({ session: 'j-down', protocol: 'http', type: 'request', at: T0, data: {} });
    await rec.flush('j-down'); // journaled
    await until(() => timers.pending() === 1, 'the write failed and its retry is scheduled');
    for (let i = 0; i < 3; i++) rec.record({ session: 'j-down', protocol: 'http', type: 'request', at: T0, data: { i } });
    await assert.rejects(rec.flush('j-down'), (e: unknown) => isGatehouseError(e, 'store_unavailable'));
    await rec.close();
  });

  test('admission back-pressure: no wait with room; past half the queue a new exchange waits for the store, then starts', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    let writes = 0;
    const slow: SqlDriver = { ...db, transaction: async (fn) => { writes++; await gate; return db.transaction(fn); } };
    const rec = new StoreRecorder(slow, { clock, journal: RecordingJournal.create(tmp()), groupCommitMs: 0, maxQueue: 8, maxBatch: 2 });
    assert.equal(rec.admit(), undefined, 'an empty queue admits at once');
    for (let i = 0; i < 7; i++) rec.record({ session: 'adm', protocol: 'http', type: 'request', at: T0, data: { i } });
    await until(() => writes === 1, 'the first batch (2 events) is held in the store; 5 wait');
    const wait = rec.admit();
    assert.ok(wait !== undefined, 'past half the bound, admission waits');
    let admitted = false;
    void wait.then(() => { admitted = true; });
    await turns(20);
    assert.equal(admitted, false, 'held while the store is behind');
    assert.equal(rec.stats().delayed, 1);
    release();
    await wait;
    assert.ok(writes >= 2);
    assert.equal(rec.admit(), undefined, 'room again');
    assert.equal(rec.stats().refused, 0);
    await rec.close();
  });

  test('admission back-pressure: a failing store with a backlog past half the queue refuses new exchanges at once (counted)', async () => {
    const timers = manualTimers(T0);
    const rec = new StoreRecorder({ ...db, transaction: () => Promise.reject(new Error('down')) }, { clock: timers, journal: RecordingJournal.create(tmp()), groupCommitMs: 0, maxQueue: 4 });
    rec.record({ session: 'adm-down', protocol: 'http', type: 'request', at: T0, data: {} });
    await until(() => timers.pending() === 1, 'the write failed and its retry is scheduled');
    assert.equal(rec.admit(), undefined, 'one event behind: not yet pressure');
    for (let i = 0; i < 3; i++) rec.record({ session: 'adm-down', protocol: 'http', type: 'request', at: T0, data: { i } });
    const refused = rec.admit();
    assert.ok(refused !== undefined);
    await assert.rejects(refused, (e: unknown) => isGatehouseError(e, 'store_unavailable'));
    assert.equal(rec.stats().refused, 1);
    await rec.close();
  });

  test('admission back-pressure: a waiting exchange whose client goes away leaves the wait at once (its waiter removed, not a refusal)', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    let held = 0;
    const slow: SqlDriver = { ...db, transaction: async (fn) => { held++; await gate; return db.transaction(fn); } };
    const rec = new StoreRecorder(slow, { clock, journal: RecordingJournal.create(tmp()), groupCommitMs: 0, maxQueue: 8, maxBatch: 2 });
    for (let i = 0; i < 7; i++) rec.record({ session: 'adm-gone', protocol: 'http', type: 'request', at: T0, data: { i } });
    await until(() => held === 1, 'the first batch is held in the store');
    const before = rec.waiting;
    const ac = new AbortController();
    const wait = rec.admit(ac.signal);
    assert.ok(wait !== undefined);
    assert.equal(rec.waiting, before + 1);
    ac.abort();
    await assert.rejects(wait, (e: unknown) => isGatehouseError(e, 'bad_request') && e.extra.client_aborted === true);
    assert.equal(rec.waiting, before, 'the waiter is gone');
    assert.equal(rec.stats().refused, 0, 'a client going away is not a refusal');
    const gone = new AbortController();
    gone.abort();
    await assert.rejects(rec.admit(gone.signal)!, (e: unknown) => isGatehouseError(e, 'bad_request'));
    assert.equal(rec.waiting, before, 'an already aborted exchange never waits');
    release();
    await rec.close();
  });

  test('admission back-pressure: a store that hangs (no error) refuses a waiting exchange at the admission deadline (counted, reported)', async () => {
    const timers = manualTimers(T0);
    const reports: string[] = [];
    let called = 0;
    const hung: SqlDriver = { ...db, transaction: () => { called++; return new Promise<never>(() => undefined); } };
    const rec = new StoreRecorder(hung, {
      clock: timers, journal: RecordingJournal.create(tmp()), groupCommitMs: 0, maxQueue: 4, maxBatch: 1, admitTimeoutMs: 5_000,
      onError: (e, what) => { if (what === 'refused') reports.push(String(e)); },
    });
    for (let i = 0; i < 4; i++) rec.record({ session: 'adm-hung', protocol: 'http', type: 'request', at: T0, data: { i } });
    await until(() => called === 1, 'the first batch is held in the store');
    const wait = rec.admit();
    assert.ok(wait !== undefined);
    let outcome: unknown;
    wait.then(() => { outcome = 'admitted'; }, (e: unknown) => { outcome = e; });
    timers.advance(4_999);
    await new Promise((r) => setImmediate(r));
    assert.equal(outcome, undefined, 'still waiting before the deadline');
    timers.advance(1);
    await new Promise((r) => setImmediate(r));
    assert.ok(isGatehouseError(outcome, 'store_unavailable'), String(outcome));
    assert.match((outcome as Error).message, /did not catch up within 5000 ms/);
    assert.equal(rec.stats().refused, 1);
    assert.equal(reports.length, 1);
    assert.equal(rec.waiting, 0, 'the waiter is gone');
  });

  test('admission back-pressure: an exchange waiting for the store fails closed when the store\'s write fails', async () => {
    let fail: (e: Error) => void = () => undefined;
    const failing = new Promise<never>((_, reject) => { fail = reject; });
    let called = 0;
    const rec = new StoreRecorder({ ...db, transaction: () => { called++; return failing; } }, { clock, journal: RecordingJournal.create(tmp()), groupCommitMs: 0, maxQueue: 4, maxBatch: 1 });
    for (let i = 0; i < 4; i++) rec.record({ session: 'adm-fail', protocol: 'http', type: 'request', at: T0, data: { i } });
    // The first batch waits on the store (before the store fails: the failure then has its handler).
    await until(() => called === 1, 'the first batch is held in the store');
    const wait = rec.admit();
    assert.ok(wait !== undefined);
    fail(new Error('down'));
    await assert.rejects(wait, (e: unknown) => isGatehouseError(e, 'store_unavailable'));
    await rec.close();
  });

  test('a failing store: a closed session\'s flush fails closed (it needs its anchor); the other sessions go on from the journal', async () => {
    const timers = manualTimers(T0);
    const rec = new StoreRecorder({ ...db, transaction: () => Promise.reject(new Error('down')) }, { clock: timers, journal: RecordingJournal.create(tmp()), groupCommitMs: 0 });
    rec.record({ session: 'd-a', protocol: 'http', type: 'session.close', at: T0, data: { reason: 'evicted' } });
    await until(() => timers.pending() === 1, 'the write failed and its retry is scheduled');
    rec.record({ session: 'd-b', protocol: 'http', type: 'response', at: T0 + 1, data: {} });
    await rec.flush('d-b');
    assert.equal(rec.flushedNow('d-b'), true);
    await assert.rejects(rec.flush('d-a'), (e: unknown) => isGatehouseError(e, 'store_unavailable'));
    await rec.close();
  });

  test('a failing store: a flush that started waiting while a retry was in flight fails when that retry fails (never hangs)', async () => {
    let calls = 0;
    let failRetry: ((e: Error) => void) | undefined;
    let recorder: StoreRecorder | undefined;
    // The retry timer runs on a manual clock: advanced past it instead of waiting a real second.
    const timers = manualTimers(T0);
    const retryStarted = new Promise<void>((started) => {
      const transaction = (): Promise<never> => {
        calls++;
        if (calls !== 2) return Promise.reject(new Error('down'));
        started();
        return new Promise<never>((_, reject) => { failRetry = reject; });
      };
      const rec = new StoreRecorder({ ...db, transaction }, { clock: timers, journal: RecordingJournal.create(tmp()), groupCommitMs: 0 });
      rec.record({ session: 'r-a', protocol: 'http', type: 'session.close', at: T0, data: { reason: 'evicted' } });
      recorder = rec;
    });
    for (let i = 0; i < 1_000 && timers.pending() === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(calls, 1, 'the first write failed');
    assert.equal(timers.pending(), 1, 'its retry is scheduled');
    timers.advance(999);
    assert.equal(calls, 1, 'not retried before a second has passed');
    timers.advance(1);
    await retryStarted; // the retry is now in flight
    const waiting = recorder!.flush('r-a');
    failRetry!(new Error('still down'));
    const outcome = await Promise.race([
      waiting.then(() => 'resolved', (e: unknown) => (isGatehouseError(e, 'store_unavailable') ? 'store_unavailable' : `other: ${String(e)}`)),
      new Promise((r) => setTimeout(() => { r('still waiting after 5 s'); }, 5_000).unref()),
    ]);
    assert.equal(outcome, 'store_unavailable');
    await recorder!.close();
  });

  test('a clean close deletes the journal once the store has everything', async () => {
    const dir = tmp();
    const rec = new StoreRecorder(db, { clock, journal: RecordingJournal.create(dir) });
    rec.record({ session: 'j-clean', protocol: 'http', type: 'request', at: T0, data: {} });
    await rec.flush('j-clean');
    await rec.close();
    assert.deepEqual(readdirSync(dir), []);
    assert.equal((await store.get('j-clean'))?.events, 1);
  });
});
