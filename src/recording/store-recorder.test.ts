import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, before, describe, test } from 'node:test';
import { AuditLog } from '../audit/audit-log.ts';
import { manualClock } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import { exchangeEvents } from './recording.case.ts';
import { SessionStore } from './session-store.ts';
import { anchorDueSessions, StoreRecorder } from './store-recorder.ts';
import { writeBatch } from './session-writer.ts';

const T0 = Date.parse('2025-06-01T00:00:00.000Z');
const unavailable = (e: unknown): boolean => isGatehouseError(e, 'store_unavailable');

describe('StoreRecorder', () => {
  let db: SqlDriver;
  let store: SessionStore;
  const clock = manualClock(T0);
  before(async () => {
    db = await openStore({ embedded: { path: undefined } });
    store = new SessionStore(db, { clock, requireAnchor: false });
  });
  after(() => db.close());

  test("a live session's head updates are heap-only: no index entry and no lasting dead row per batch (migration 010)", async () => {
    const rec = new StoreRecorder(db, { clock, groupCommitMs: 0 });
    const stats = async (): Promise<{ upd: number; hot: number }> => {
      await db.query('SELECT pg_stat_force_next_flush()'); // the counters are flushed at most once a second otherwise
      const [r] = await db.query<{ upd: number | string; hot: number | string }>(
        "SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'sessions'");
      return { upd: Number(r!.upd), hot: Number(r!.hot) };
    };
    const s0 = await stats();
    for (let b = 0; b < 30; b++) {
      for (let s = 0; s < 20; s++) rec.record({ session: `hot-${s}`, protocol: 'postgres', type: 'request', at: T0 + b, data: { statement: 'SELECT 1' } });
      await rec.flush();
    }
    const s1 = await stats();
    const updates = s1.upd - s0.upd;
    assert.ok(updates >= 29 * 20, `every later batch updates each head (${updates})`);
    // A page full of versions from the batch being written cannot be pruned yet; nearly all are HOT.
    assert.ok(s1.hot - s0.hot >= updates * 0.9, `${s1.hot - s0.hot} of ${updates} updates were HOT`);
    await rec.close();
  });

  test('refused exchanges are counted and reported (at most once a second, without session or payload)', async () => {
    const failing: SqlDriver = { ...db, transaction: () => Promise.reject(new Error('store down')) };
    const reports: string[] = [];
    const own = manualClock(T0);
    const rec = new StoreRecorder(failing, { clock: own, onError: (e, what) => { if (what === 'refused') reports.push(String(e)); } });
    for (const session of ['r-1', 'r-2', 'r-3']) {
      rec.record({ session, protocol: 'http', type: 'request', at: T0, data: { prompt: 'secret prompt' } });
      await assert.rejects(rec.flush(session), unavailable);
    }
    assert.equal(rec.stats().refused, 3);
    assert.equal(reports.length, 1, 'one report within the second');
    own.advance(1000);
    rec.record({ session: 'r-4', protocol: 'http', type: 'request', at: T0, data: { prompt: 'secret prompt' } });
    await assert.rejects(rec.flush('r-4'), unavailable);
    assert.equal(reports.length, 2);
    assert.match(reports[1]!, /store_unavailable|lost events/);
    assert.match(reports[1]!, /3 exchange\(s\) refused since the last report/);
    for (const r of reports) assert.doesNotMatch(r, /secret|r-\d/);
  });

  test('a full queue drops events (fail closed): counted, marked truncated in the chain, flush rejects once', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const slow: SqlDriver = { ...db, transaction: async (fn) => { await gate; return db.transaction(fn); } };
    const rec = new StoreRecorder(slow, { clock, maxQueue: 3, maxBatch: 1 });
    const events = exchangeEvents('q-full', T0, { exchanges: 2 }); // 8 events
    for (const e of events) rec.record(e);
    const other = rec.flush('q-other'); // an unaffected session's flush resolves
    const flushing = rec.flush('q-full');
    release();
    await assert.rejects(flushing, unavailable);
    await other;
    await rec.flush('q-full'); // reported once
    const s = await store.get('q-full');
    assert.ok(s);
    assert.equal(s.truncated, true);
    const stored = await store.events('q-full');
    const marker = stored.find((e) => e.type === 'truncated');
    assert.equal(marker?.data.reason, 'queue_full');
    const dropped = Number(marker?.data.dropped);
    assert.equal(stored.length - 1 + dropped, events.length);
    assert.equal(rec.stats().dropped, dropped);
    assert.deepEqual(await store.verify('q-full'), { ok: true, events: stored.length });
  });

  test('a failed write loses its batch: flush rejects; the next batch records a truncated marker', async () => {
    let fail = true;
    const errors: string[] = [];
    const flaky: SqlDriver = { ...db, transaction: (fn) => (fail ? Promise.reject(new Error('connection lost')) : db.transaction(fn)) };
    const rec = new StoreRecorder(flaky, { clock, onError: (_e, what) => errors.push(what) });
    rec.record({ session: 'f-1', protocol: 'postgres', type: 'request', at: T0, data: { statement: 'SELECT 1' } });
    await assert.rejects(rec.flush(), unavailable);
    await assert.rejects(rec.flush('f-1'), unavailable); // each loss is reported once per session, and once globally
    await rec.flush();
    assert.deepEqual(errors, ['write', 'refused']); // the failed write, and the exchange it refused
    fail = false;
    rec.record({ session: 'f-1', protocol: 'postgres', type: 'response', at: T0 + 1, data: { rows: 1 } });
    await rec.flush('f-1');
    const stored = await store.events('f-1');
    assert.deepEqual(stored.map((e) => [e.type, e.data]), [
      ['truncated', { dropped: 1, reason: 'store_error' }], ['response', { rows: 1 }],
    ]);
    assert.equal((await store.get('f-1'))?.truncated, true);
  });

  test('never throws into the data path: bad ids, unserializable data, after close', async () => {
    const rec = new StoreRecorder(db, { clock });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    rec.record({ session: '', protocol: 'http', type: 'request', at: T0, data: {} });
    rec.record({ session: 'x'.repeat(500), protocol: 'http', type: 'request', at: T0, data: {} });
    rec.record({ session: 'u-1', protocol: 'http', type: 'request', at: Number.NaN, data: cyclic });
    rec.record({ session: 'u-1', protocol: 'http', type: 'response', at: T0, data: { big: 10n } });
    await rec.flush();
    const stored = await store.events('u-1');
    assert.deepEqual(stored.map((e) => e.data), [{ $unrecordable: 'TypeError' }, { $unrecordable: 'TypeError' }]);
    assert.equal(stored[0]?.at, new Date(T0).toISOString());
    assert.equal(rec.stats().dropped, 2);
    await rec.close();
    rec.record({ session: 'u-1', protocol: 'http', type: 'response', at: T0, data: {} });
    await assert.rejects(rec.flush('u-1'), unavailable);
  });

  test('an anchor that cannot be written is reported, and verify flags the closed session', async () => {
    const errors: string[] = [];
    const audit = { append: () => Promise.reject(new Error('audit down')) };
    const rec = new StoreRecorder(db, { clock, audit, onError: (_e, what) => errors.push(what) });
    for (const e of exchangeEvents('a-1', T0)) rec.record(e);
    await rec.flush();
    assert.deepEqual(errors, ['anchor']);
    const strict = new SessionStore(db, { clock });
    assert.deepEqual(await strict.verify('a-1'), { ok: false, seq: 5, reason: 'anchor-mismatch' });
    const real = new StoreRecorder(db, { clock, audit: new AuditLog(db, clock) });
    for (const e of exchangeEvents('a-2', T0)) real.record(e);
    await real.flush();
    assert.deepEqual(await strict.verify('a-2'), { ok: true, events: 5 });
    await assert.rejects(strict.verify('nope'), (e) => isGatehouseError(e, 'not_found'));
  });

  test('a close committed without its anchor (a kill in between, a failed append) is anchored by the sweep, from the head at the close, once', async () => {
    const db = await openStore({ embedded: { path: undefined } }); // its own: nothing else left unanchored
    const due = async (session: string): Promise<number> =>
      Number((await db.query<{ n: number | string }>('SELECT count(*) AS n FROM recording_anchor_due WHERE session = $1', [session]))[0]!.n);
    const anchorsNaming = async (session: string): Promise<number> =>
      (await db.query<{ detail: { session?: string; sessions?: string[] } }>("SELECT detail FROM audit_log WHERE kind = 'session.anchor'"))
        .filter((r) => r.detail.session === session || r.detail.sessions?.includes(session) === true).length;
    // The "killed" process: its anchor append never completes (as if the process died first).
    const lost = new StoreRecorder(db, { clock, audit: { append: () => new Promise<never>(() => undefined) } });
    for (const e of exchangeEvents('due-1', T0, { exchanges: 2 })) lost.record(e);
    for (const e of exchangeEvents('due-2', T0)) lost.record(e);
    await lost.settled();
    const strict = new SessionStore(db, { clock });
    assert.deepEqual(await strict.verify('due-1'), { ok: false, seq: 8, reason: 'anchor-mismatch' }, 'unanchored: reported as tampered');
    assert.equal(await due('due-1'), 1);
    const audit = new AuditLog(db, clock);
    assert.deepEqual(await anchorDueSessions(db, audit, { minAgeMs: 3_600_000 }), { anchored: 0, refused: [] }, 'a close younger than minAgeMs is left to its own recorder');
    assert.deepEqual(await anchorDueSessions(db, audit), { anchored: 2, refused: [] });
    await audit.flush();
    assert.deepEqual(await strict.verify('due-1'), { ok: true, events: 8 });
    assert.deepEqual(await strict.verify('due-2'), { ok: true, events: 5 });
    assert.deepEqual([await due('due-1'), await due('due-2')], [0, 0]);
    assert.deepEqual(await anchorDueSessions(db, audit), { anchored: 0, refused: [] }, 'nothing left: a second sweep anchors nothing');
    assert.deepEqual([await anchorsNaming('due-1'), await anchorsNaming('due-2')], [1, 1]);
    const late = await db.query<{ detail: { late?: boolean } }>("SELECT detail FROM audit_log WHERE kind = 'session.anchor' ORDER BY seq DESC LIMIT 1");
    assert.equal(late[0]?.detail.late, true, 'an anchor written by the sweep says so');

    // A close already anchored (its row left by a stop before the delete): only deleted.
    const rec = new StoreRecorder(db, { clock, audit });
    for (const e of exchangeEvents('due-3', T0)) rec.record(e);
    await rec.flush();
    assert.equal(await due('due-3'), 1, 'deleted with the next batch');
    assert.deepEqual(await anchorDueSessions(db, audit), { anchored: 0, refused: [] });
    assert.deepEqual([await due('due-3'), await anchorsNaming('due-3')], [0, 1]);

    // A live recorder clears the rows of the closes it anchored: with its next batch, and at close.
    for (const e of exchangeEvents('due-4', T0)) rec.record(e);
    await rec.flush();
    rec.record({ session: 'due-5', protocol: 'http', type: 'session.open', at: T0, data: {} });
    await rec.flush();
    assert.equal(await due('due-4'), 0, 'cleared by the next batch');
    for (const e of exchangeEvents('due-6', T0)) rec.record(e);
    await rec.flush();
    await rec.close();
    assert.equal(await due('due-6'), 0, 'cleared at close');
    assert.deepEqual(await strict.verify('due-6'), { ok: true, events: 5 });
    await db.close();
  });

  test('the sweep anchors only what the close itself would have: not events appended after an anchor, not a head the chain does not have', async () => {
    const db = await openStore({ embedded: { path: undefined } });
    const audit = new AuditLog(db, clock);
    const strict = new SessionStore(db, { clock });
    const rec = new StoreRecorder(db, { clock, audit });
    for (const e of exchangeEvents('victim', T0)) rec.record(e);
    await rec.flush();
    await rec.close();
    await audit.flush();
    assert.deepEqual(await strict.verify('victim'), { ok: true, events: 5 });
    // Someone with write access to the store appends an event after the anchored close (the
    // chain's hashing is public) and asks the sweep to anchor the new head.
    await db.transaction((tx) => writeBatch(tx, [{
      session: 'victim', protocol: 'http', type: 'response', at: new Date(T0 + 9000).toISOString(), user: 'alice', agent: 'bot', connection: 'openai',
      text: '{"forged":true}', bytes: 15, effect: undefined,
    }], { maxSessionBytes: 1e9, chunkChars: 1 << 18 }));
    const [v] = await db.query<{ event_count: number | string; head_hash: string }>("SELECT event_count, head_hash FROM sessions WHERE id = 'victim'");
    await db.query('INSERT INTO recording_anchor_due (session, events, head_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', ['victim', Number(v!.event_count), v!.head_hash]);
    assert.deepEqual(await anchorDueSessions(db, audit), { anchored: 0, refused: [] });
    await audit.flush();
    assert.deepEqual(await strict.verify('victim'), { ok: false, seq: 6, reason: 'anchor-mismatch' }, 'the appended event is still detected');

    // A closed session never anchored whose due row names a head its chain does not have: refused.
    const lost = new StoreRecorder(db, { clock, audit: { append: () => Promise.reject(new Error('audit down')) } });
    for (const e of exchangeEvents('wrong-head', T0)) lost.record(e);
    await lost.flush().catch(() => undefined);
    await db.query("UPDATE recording_anchor_due SET head_hash = $1 WHERE session = 'wrong-head'", ['f'.repeat(64)]);
    // And one whose row names a session that is not in the store at all.
    await db.query('INSERT INTO recording_anchor_due (session, events, head_hash) VALUES ($1, 3, $2)', ['made-up', 'e'.repeat(64)]);
    assert.deepEqual(await anchorDueSessions(db, audit), { anchored: 0, refused: ['made-up', 'wrong-head'] });
    assert.deepEqual(await strict.verify('wrong-head'), { ok: false, seq: 5, reason: 'anchor-mismatch' });
    assert.equal(Number((await db.query<{ n: number | string }>('SELECT count(*) AS n FROM recording_anchor_due'))[0]!.n), 0, 'refused rows are deleted (reported once)');

    // Two sweeps at once over the same close: whatever each appends, the session verifies.
    const twice = new StoreRecorder(db, { clock, audit: { append: () => Promise.reject(new Error('audit down')) } });
    for (const e of exchangeEvents('swept-twice', T0)) twice.record(e);
    await twice.flush().catch(() => undefined);
    const [a, b] = await Promise.all([anchorDueSessions(db, audit), anchorDueSessions(db, audit)]);
    assert.ok(a.anchored + b.anchored >= 1 && a.refused.length + b.refused.length === 0, JSON.stringify([a, b]));
    await audit.flush();
    assert.deepEqual(await strict.verify('swept-twice'), { ok: true, events: 5 });
    await db.close();
  });

  test('max_session_bytes: once full, flush(session) rejects every time and the session is refused; other sessions and its close are recorded', async () => {
    const rec = new StoreRecorder(db, { clock, groupCommitMs: 0, maxSessionBytes: 4096 });
    const base = { session: 'full-1', protocol: 'postgres' as const, user: 'carol' };
    rec.record({ ...base, type: 'session.open', at: T0, data: {} });
    let i = 0;
    while (!rec.full('full-1')) {
      await rec.flush('full-1');
      assert.equal(rec.flushedNow('full-1'), true);
      rec.record({ ...base, type: 'statement', at: T0 + ++i, data: { statement: 'x'.repeat(1000), i } });
      assert.ok(i < 10, 'full within 10 events of 1 KB');
    }
    const full = (e: unknown): boolean => unavailable(e) && (e as { extra: { reason?: string } }).extra.reason === 'max_session_bytes'
      && /max_session_bytes.*start a new session/.test((e as Error).message);
    await assert.rejects(rec.flush('full-1'), full);
    assert.equal(rec.flushedNow('full-1'), false);
    rec.record({ ...base, type: 'statement', at: T0 + 50, data: { statement: 'dropped' } });
    await assert.rejects(rec.flush('full-1'), full, 'still rejects (not reported once)');
    // Another session is not affected.
    for (const e of exchangeEvents('full-other', T0)) rec.record(e);
    await rec.flush('full-other');
    rec.record({ ...base, type: 'session.close', at: T0 + 100, data: {} });
    assert.equal(rec.full('full-1'), false, 'forgotten at its close');
    await rec.flush('full-1');
    await rec.close();
    const events = await store.events('full-1');
    const types = events.map((e) => e.type);
    assert.deepEqual(types.filter((t) => t === 'truncated'), ['truncated']);
    assert.equal(types[types.length - 1], 'session.close');
    assert.equal(types.filter((t) => t === 'statement').length, i - 1, 'every statement whose flush resolved is recorded');
    assert.equal(events.some((e) => JSON.stringify(e.data).includes('dropped')), false);
    assert.deepEqual(await store.verify('full-1'), { ok: true, events: events.length });
  });

  test('property: room(session) is exactly what the writer still takes — an event of room() bytes is stored, one byte more is dropped', async () => {
    let n = 0;
    await fc.assert(fc.asyncProperty(fc.array(fc.string({ unit: 'binary', maxLength: 300 }), { maxLength: 6 }), fc.boolean(), async (texts, over) => {
      const rec = new StoreRecorder(db, { clock, groupCommitMs: 0, maxSessionBytes: 4096 });
      const id = `room-p-${++n}`;
      const base = { session: id, protocol: 'postgres' as const, user: 'erin' };
      assert.equal(rec.room(id), 0, 'a session not tracked (nothing recorded yet) has no known room');
      rec.record({ ...base, type: 'session.open', at: T0, data: {} });
      let used = 2;
      assert.equal(rec.room(id), 4096 - used);
      for (const [k, t] of texts.entries()) {
        rec.record({ ...base, type: 'statement', at: T0 + k, data: { t } });
        used += Buffer.byteLength(JSON.stringify({ t }), 'utf8');
        assert.equal(rec.room(id), 4096 - used);
      }
      // An event of exactly the room left (`{"f":"…"}` is 8 bytes around its text), or one byte more.
      const left = rec.room(id);
      const fill = 'z'.repeat(left - 8 + (over ? 1 : 0));
      rec.record({ ...base, type: 'statement', at: T0 + 99, data: { f: fill } });
      assert.equal(rec.room(id), 0);
      assert.equal(rec.full(id), over);
      rec.record({ ...base, type: 'session.close', at: T0 + 100, data: {} });
      assert.equal(rec.room(id), 0, 'closed: not tracked');
      await rec.close();
      const events = await store.events(id);
      assert.equal(events.some((e) => e.type === 'truncated'), over);
    }), { numRuns: 20 });
  });

  test('property: full(session) turns true exactly when the writer starts dropping the session (no event after a resolved flush is lost)', async () => {
    let n = 0;
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 12 }), async (sizes) => {
      const rec = new StoreRecorder(db, { clock, groupCommitMs: 0, maxSessionBytes: 2048 });
      const id = `full-p-${++n}`;
      const base = { session: id, protocol: 'http' as const, user: 'dan' };
      rec.record({ ...base, type: 'session.open', at: T0, data: {} });
      let acknowledged = 0;
      for (const [k, len] of sizes.entries()) {
        rec.record({ ...base, type: 'response', at: T0 + k, data: { t: 'y'.repeat(len) } });
        const ok = await rec.flush(id).then(() => true, () => false);
        assert.equal(ok, !rec.full(id));
        if (ok) acknowledged++;
      }
      await rec.close();
      const s = await store.get(id);
      assert.ok(s);
      assert.equal((await store.events(id)).filter((e) => e.type === 'response').length, acknowledged);
      assert.equal(s.truncated, acknowledged < sizes.length);
    }), { numRuns: 25 });
  });
});
