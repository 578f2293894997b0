import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuditLog } from '../audit/audit-log.ts';
import { manualClock } from '../kernel/clock.ts';
import type { SqlDriver } from '../store/sql.ts';
import { eventHash } from './event-hash.ts';
import { encodeBodyV1 } from './segment.ts';
import type { RecordEvent } from './recorder.ts';
import { SessionStore } from './session-store.ts';
import { StoreRecorder } from './store-recorder.ts';
import { rewriteEvents, storedEvents } from '../../test/harness/recording-tamper.ts';

const T0 = Date.parse('2025-05-01T09:00:00.000Z');

/** A typical HTTP exchange stream: open, request, decision, response, …, close. */
export function exchangeEvents(session: string, at: number, opts: { user?: string; effect?: string; exchanges?: number } = {}): RecordEvent[] {
  const who = { user: opts.user ?? 'alice', agent: 'bot', connection: 'openai' };
  const base = { session, protocol: 'http' as const, ...who };
  const out: RecordEvent[] = [{ ...base, type: 'session.open', at, data: { credential: 'key:abc' } }];
  for (let i = 0; i < (opts.exchanges ?? 1); i++) {
    const t = at + 1000 * (i + 1);
    out.push({ ...base, type: 'request', at: t, data: { method: 'POST', path: '/v1/chat/completions', prompt: `hello ${i}` } });
    out.push({ ...base, type: 'decision', at: t + 10, data: { effect: opts.effect ?? 'allow', reasons: ['developers-read'] } });
    out.push({ ...base, type: 'response', at: t + 500, data: { status: 200, text: `hi there ${i}\nsecond line` } });
  }
  out.push({ ...base, type: 'session.close', at: at + 1000 * ((opts.exchanges ?? 1) + 1), data: {} });
  return out;
}

/**
 * The recording conformance suite every store runs (PGlite, PostgreSQL). `open` returns a fresh
 * migrated store; the suite closes it.
 *
 * @example runRecordingConformance('embedded', () => openStore({ embedded: { path: undefined } }));
 */
export function runRecordingConformance(name: string, open: () => Promise<SqlDriver>): void {
  void describe(`recording conformance: ${name}`, () => {
    let db: SqlDriver;
    let audit: AuditLog;
    let rec: StoreRecorder;
    let store: SessionStore;
    const clock = manualClock(T0);
    before(async () => {
      db = await open();
      audit = new AuditLog(db, clock);
      rec = new StoreRecorder(db, { clock, audit, maxSessionBytes: 4096, chunkBytes: 1024 });
      store = new SessionStore(db, { clock });
    });
    after(async () => { await rec.close(); await db.close(); });

    const recordAll = async (events: readonly RecordEvent[]): Promise<void> => {
      for (const e of events) rec.record(e);
      await rec.flush();
    };

    void test('records a session in order, anchors its head, and verifies intact', async () => {
      await recordAll(exchangeEvents('s-basic', T0, { exchanges: 2, effect: 'deny' }));
      const s = await store.get('s-basic');
      assert.ok(s);
      assert.equal(s.events, 8);
      assert.deepEqual([s.user, s.agent, s.connection, s.protocol], ['alice', 'bot', 'openai', 'http']);
      assert.equal(s.openedAt, '2025-05-01T09:00:00.000Z');
      assert.equal(s.closedAt, '2025-05-01T09:00:03.000Z');
      assert.deepEqual(s.decisions, ['deny']);
      assert.equal(s.truncated, false);
      const events = await store.events('s-basic');
      assert.deepEqual(events.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.deepEqual(events.map((e) => e.type), ['session.open', 'request', 'decision', 'response', 'request', 'decision', 'response', 'session.close']);
      assert.deepEqual(events[3]?.data, { status: 200, text: 'hi there 0\nsecond line' });
      assert.equal(events[0]?.prevHash, '0'.repeat(64));
      assert.equal(events[1]?.prevHash, events[0]?.hash);
      assert.deepEqual((await store.events('s-basic', { afterSeq: 5, limit: 2 })).map((e) => e.seq), [6, 7]);
      const [anchor] = await audit.list({ kind: 'session.anchor', limit: 1 });
      assert.deepEqual(anchor?.detail, { session: 's-basic', head_hash: s.headHash, events: 8 });
      assert.deepEqual(await store.verify('s-basic'), { ok: true, events: 8 });
      assert.deepEqual(await audit.verify(), { ok: true, count: 1 });
    });

    void test('lists with filters: user, agent, connection, time, decision', async () => {
      await recordAll(exchangeEvents('s-bob', T0 + 3_600_000, { user: 'bob', effect: 'allow' }));
      await recordAll(exchangeEvents('s-rev', T0 + 7_200_000, { user: 'bob', effect: 'review' }));
      const ids = async (f: Parameters<SessionStore['list']>[0]): Promise<string[]> => (await store.list(f)).map((s) => s.id);
      assert.deepEqual(await ids({}), ['s-rev', 's-bob', 's-basic']);
      assert.deepEqual(await ids({ user: 'bob' }), ['s-rev', 's-bob']);
      assert.deepEqual(await ids({ decision: 'deny' }), ['s-basic']);
      assert.deepEqual(await ids({ decision: 'review' }), ['s-rev']);
      assert.deepEqual(await ids({ agent: 'bot', connection: 'openai', decision: 'allow' }), ['s-bob']);
      assert.deepEqual(await ids({ since: T0 + 3_600_000 }), ['s-rev', 's-bob']);
      assert.deepEqual(await ids({ until: T0 + 3_600_000 }), ['s-basic']);
      assert.deepEqual(await ids({ limit: 1 }), ['s-rev']);
      assert.deepEqual(await ids({ before: T0 + 7_200_000, limit: 1 }), ['s-bob']);
      assert.deepEqual(await ids({ user: 'nobody' }), []);
    });

    void test('a changed event is named by its seq (data, type or time)', async () => {
      await recordAll(exchangeEvents('s-change', T0, { exchanges: 2 }));
      const orig = (await storedEvents(db, 's-change')).find((e) => e.seq === 4)?.text;
      assert.ok(orig !== undefined);
      await rewriteEvents(db, 's-change', (es) => es.map((e) => (e.seq === 4 ? { ...e, text: '{"status":200,"text":"forged"}' } : e)));
      assert.deepEqual(await store.verify('s-change'), { ok: false, seq: 4, reason: 'changed' });
      await rewriteEvents(db, 's-change', (es) => es.map((e) => (e.seq === 4 ? { ...e, text: orig } : e)));
      assert.deepEqual(await store.verify('s-change'), { ok: true, events: 8 });
      await rewriteEvents(db, 's-change', (es) => es.map((e) => (e.seq === 2 ? { ...e, at: new Date(Date.parse(e.at) + 1000).toISOString() } : e)));
      assert.deepEqual(await store.verify('s-change'), { ok: false, seq: 2, reason: 'changed' });
    });

    void test('a deleted event is missing (in the middle or at the end)', async () => {
      await recordAll(exchangeEvents('s-del', T0, { exchanges: 2 }));
      await rewriteEvents(db, 's-del', (es) => es.filter((e) => e.seq !== 3));
      assert.deepEqual(await store.verify('s-del'), { ok: false, seq: 3, reason: 'missing' });
      await recordAll(exchangeEvents('s-del2', T0, { exchanges: 2 }));
      await rewriteEvents(db, 's-del2', (es) => es.filter((e) => e.seq !== 8));
      assert.deepEqual(await store.verify('s-del2'), { ok: false, seq: 8, reason: 'missing' });
    });

    void test('an inserted event is detected, even with a well-formed hash', async () => {
      await recordAll(exchangeEvents('s-ins', T0));
      const s = await store.get('s-ins');
      assert.ok(s);
      const at = '2025-05-01T09:00:09.000Z';
      const forgedHash = eventHash(s.headHash, { session: 's-ins', seq: 6, at, type: 'response', user: 'alice', agent: 'bot' }, '{"text":"x"}');
      await rewriteEvents(db, 's-ins', (es) => [...es, { seq: 6, at, type: 'response', user: 'alice', agent: 'bot', text: '{"text":"x"}', prevHash: s.headHash, hash: forgedHash }]);
      assert.deepEqual(await store.verify('s-ins'), { ok: false, seq: 6, reason: 'inserted' });
      // Also raising the head to cover it: the audit anchor still disagrees.
      await db.query("UPDATE sessions SET event_count = 6, head_hash = $1 WHERE id = 's-ins'", [forgedHash]);
      assert.deepEqual(await store.verify('s-ins'), { ok: false, seq: 6, reason: 'anchor-mismatch' });
      // A self-consistent event spliced between two others does not link.
      await recordAll(exchangeEvents('s-ins2', T0));
      const [e2] = await store.events('s-ins2', { afterSeq: 1, limit: 1 });
      assert.ok(e2);
      const spliced = eventHash(e2.hash, { session: 's-ins2', seq: 3, at, type: 'request', user: 'alice', agent: 'bot' }, '{}');
      await rewriteEvents(db, 's-ins2', (es) => [
        ...es.filter((e) => e.seq < 3),
        { seq: 3, at, type: 'request', user: 'alice', agent: 'bot', text: '{}', prevHash: e2.hash, hash: spliced },
        ...es.filter((e) => e.seq >= 3).map((e) => ({ ...e, seq: e.seq + 1 })),
      ]);
      await db.query("UPDATE sessions SET event_count = 6 WHERE id = 's-ins2'");
      assert.deepEqual(await store.verify('s-ins2'), { ok: false, seq: 3, reason: 'inserted' });
    });

    void test('a rewritten tail with a consistent chain and head fails against the audit anchor', async () => {
      await recordAll(exchangeEvents('s-head', T0));
      const events = await store.events('s-head');
      const last = events[events.length - 1];
      assert.ok(last);
      const forged = eventHash(last.prevHash, { session: 's-head', seq: last.seq, at: last.at, type: last.type, user: 'alice', agent: 'bot' }, '{"forged":true}');
      await rewriteEvents(db, 's-head', (es) => es.map((e) => (e.seq === last.seq ? { ...e, text: '{"forged":true}', hash: forged } : e)));
      await db.query("UPDATE sessions SET head_hash = $1 WHERE id = 's-head'", [forged]);
      assert.deepEqual(await store.verify('s-head'), { ok: false, seq: 5, reason: 'anchor-mismatch' });
      await recordAll(exchangeEvents('s-head2', T0));
      await db.query("UPDATE sessions SET head_hash = 'f00d' WHERE id = 's-head2'");
      assert.deepEqual(await store.verify('s-head2'), { ok: false, seq: 5, reason: 'anchor-mismatch' });
    });

    void test('sessions closed by one batch share one anchor record; each is checked against its entry', async () => {
      const ids = ['s-ab-1', 's-ab-2', 's-ab-3'];
      for (const id of ids) for (const e of exchangeEvents(id, T0)) rec.record(e);
      await rec.flush();
      const records = (await audit.list({ kind: 'session.anchor', limit: 1000 })).filter((a) => Array.isArray(a.detail?.sessions) && (a.detail.sessions as unknown[]).includes('s-ab-1'));
      assert.equal(records.length, 1, 'one record anchors the batch');
      const heads = await Promise.all(ids.map(async (id) => (await store.get(id))?.headHash));
      assert.deepEqual(records[0]?.detail, { sessions: ids, heads, events: [5, 5, 5] });
      for (const id of ids) assert.deepEqual(await store.verify(id), { ok: true, events: 5 });
      // One session's tail rewritten with a consistent chain and head: its entry disagrees.
      const last = (await store.events('s-ab-2')).at(-1);
      assert.ok(last);
      const forged = eventHash(last.prevHash, { session: 's-ab-2', seq: last.seq, at: last.at, type: last.type, user: 'alice', agent: 'bot' }, '{"forged":true}');
      await rewriteEvents(db, 's-ab-2', (es) => es.map((e) => (e.seq === last.seq ? { ...e, text: '{"forged":true}', hash: forged } : e)));
      await db.query("UPDATE sessions SET head_hash = $1 WHERE id = 's-ab-2'", [forged]);
      assert.deepEqual(await store.verify('s-ab-2'), { ok: false, seq: 5, reason: 'anchor-mismatch' });
      assert.deepEqual(await store.verify('s-ab-1'), { ok: true, events: 5 });
      assert.deepEqual(await store.verify('s-ab-3'), { ok: true, events: 5 });
      // Editing the record instead (the forged head put in, or the session taken out): the audit
      // chain detects the change, and a session taken out of every anchor is unanchored.
      const seq = records[0].seq;
      await db.query(`UPDATE audit_log SET detail = jsonb_set(detail, '{heads,1}', to_jsonb($1::text)) WHERE seq = $2`, [forged, seq]);
      assert.deepEqual(await store.verify('s-ab-2'), { ok: true, events: 5 });
      assert.equal((await audit.verify()).ok, false);
      await db.query(`UPDATE audit_log SET detail = jsonb_set(detail, '{sessions,2}', '"elsewhere"') WHERE seq = $1`, [seq]);
      assert.deepEqual(await store.verify('s-ab-3'), { ok: false, seq: 5, reason: 'anchor-mismatch' });
      // Arrays that no longer line up (a count removed): the entry is a mismatch, not a pass.
      await db.query(`UPDATE audit_log SET detail = jsonb_set(detail, '{events}', '[5]') WHERE seq = $1`, [seq]);
      assert.deepEqual(await store.verify('s-ab-1'), { ok: true, events: 5 });
      assert.deepEqual(await store.verify('s-ab-2'), { ok: false, seq: 5, reason: 'anchor-mismatch' });
      // Put back as appended, so the tests after this one find an intact audit chain.
      await db.query('UPDATE audit_log SET detail = $1::jsonb WHERE seq = $2', [JSON.stringify(records[0].detail), seq]);
      assert.equal((await audit.verify()).ok, true);
    });

    void test('at max_session_bytes: one truncated event, later events dropped and counted, close kept', async () => {
      const base = { session: 's-cap', protocol: 'postgres' as const, user: 'carol' };
      const events: RecordEvent[] = [{ ...base, type: 'session.open', at: T0, data: {} }];
      for (let i = 0; i < 10; i++) events.push({ ...base, type: 'response', at: T0 + i + 1, data: { rows: 'r'.repeat(1000), i } });
      events.push({ ...base, type: 'session.close', at: T0 + 100, data: {} });
      await recordAll(events);
      const s = await store.get('s-cap');
      assert.ok(s);
      const stored = await store.events('s-cap');
      const types = stored.map((e) => e.type);
      assert.deepEqual(types.filter((t) => t === 'truncated'), ['truncated']);
      const marker = stored.find((e) => e.type === 'truncated');
      assert.deepEqual(marker?.data, { limit: 4096, reason: 'max_session_bytes' });
      assert.equal(types[types.length - 1], 'session.close');
      const kept = types.filter((t) => t === 'response').length;
      assert.ok(kept >= 3 && kept < 10, `kept ${kept}`);
      assert.equal(s.truncated, true);
      assert.equal(s.dropped, 10 - kept);
      assert.ok(s.bytes <= 4096);
      assert.deepEqual(await store.verify('s-cap'), { ok: true, events: stored.length });
    });

    void test('large payloads are chunked and reassembled; NUL and lone surrogates round-trip', async () => {
      const big = Array.from({ length: 3000 }, (_, i) => `row ${i} é ✓`).join('\n');
      const odd = { nul: 'a\u0000b', lone: 'x\ud800y', bs: 'back\\u0041slash' };
      const r = new StoreRecorder(db, { clock, audit, maxSessionBytes: 1 << 20, chunkBytes: 1024 });
      r.record({ session: 's-big', protocol: 'postgres', type: 'response', at: T0, data: { big } });
      r.record({ session: 's-big', protocol: 'postgres', type: 'response', at: T0 + 1, data: odd });
      r.record({ session: 's-big', protocol: 'postgres', type: 'session.close', at: T0 + 2, data: {} });
      await r.flush();
      // Stored in segments of about chunkBytes: the large event alone in its own.
      const segs = await db.query<{ first_seq: number | string; last_seq: number | string }>("SELECT first_seq, last_seq FROM session_segments WHERE session_id = 's-big' ORDER BY first_seq");
      assert.deepEqual(segs.map((r) => [Number(r.first_seq), Number(r.last_seq)]), [[1, 1], [2, 3]]);
      const events = await store.events('s-big');
      assert.deepEqual(events[0]?.data, { big });
      assert.deepEqual(events[1]?.data, odd);
      assert.deepEqual(await store.verify('s-big'), { ok: true, events: 3 });
      // A body that no longer decodes (cut short) reads as changed events.
      await db.query("UPDATE recording_bodies SET body = substring(body from 1 for length(body) - 8) WHERE id IN (SELECT body_id FROM session_segments WHERE session_id = 's-big' AND first_seq = 2)");
      assert.deepEqual(await store.verify('s-big'), { ok: false, seq: 2, reason: 'changed' });
      await rewriteEvents(db, 's-big', (es) => es.map((e) => (e.seq === 1 ? { ...e, text: e.text.replace('row 7', 'row 8') } : e)));
      assert.deepEqual(await store.verify('s-big'), { ok: false, seq: 1, reason: 'changed' });
      await rewriteEvents(db, 's-big', (es) => es.map((e) => (e.seq === 1 ? { ...e, text: e.text.slice(0, 1024) + e.text.slice(2048) } : e)));
      assert.deepEqual(await store.verify('s-big'), { ok: false, seq: 1, reason: 'changed' });
    });

    void test('a session stored in the earlier body format (raw DEFLATE) still reads and verifies; a flipped bit in a zstd body is changed', async () => {
      for (const e of exchangeEvents('s-fmt', T0, { exchanges: 2 })) rec.record(e);
      await rec.flush();
      const events = await store.events('s-fmt');
      await rewriteEvents(db, 's-fmt', (es) => es, encodeBodyV1);
      const [fmt] = await db.query<{ f: number }>("SELECT get_byte(body, 0) AS f FROM recording_bodies WHERE id = (SELECT body_id FROM session_segments WHERE session_id = 's-fmt' AND first_seq = 1)");
      assert.equal(fmt?.f, 1);
      assert.deepEqual(await store.events('s-fmt'), events);
      assert.deepEqual(await store.verify('s-fmt'), { ok: true, events: events.length });
      await rewriteEvents(db, 's-fmt', (es) => es);
      assert.deepEqual(await store.verify('s-fmt'), { ok: true, events: events.length });
      // One bit in the middle of the (format 2) body, which holds every event, flipped: the frame no longer checks.
      await db.query(`UPDATE recording_bodies SET body = set_byte(body, length(body) / 2, get_byte(body, length(body) / 2) # 16)
        WHERE id = (SELECT body_id FROM session_segments WHERE session_id = 's-fmt' AND first_seq = 3)`);
      assert.deepEqual(await store.verify('s-fmt'), { ok: false, seq: 1, reason: 'changed' });
    });

    void test('many record() calls in one tick share one transaction', async () => {
      let transactions = 0;
      const counting: SqlDriver = { ...db, transaction: (fn) => { transactions++; return db.transaction(fn); } };
      const r = new StoreRecorder(counting, { clock, audit, maxBatch: 1000 });
      for (let s = 0; s < 10; s++) for (const e of exchangeEvents(`s-gc-${s}`, T0)) r.record(e);
      await r.flush();
      assert.equal(transactions, 1);
      for (let s = 0; s < 10; s++) assert.deepEqual(await store.verify(`s-gc-${s}`), { ok: true, events: 5 });
    });

    void test('flush waits for the commit of everything recorded before it', async () => {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => { release = r; });
      let held = false;
      const slow: SqlDriver = { ...db, transaction: async (fn) => { held = true; await gate; return db.transaction(fn); } };
      const r = new StoreRecorder(slow, { clock, audit });
      for (const e of exchangeEvents('s-flush', T0)) r.record(e);
      let flushed = false;
      const flushing = r.flush('s-flush').then(() => { flushed = true; });
      // The batch reaches the store (the flush does not wait for the interval) and is held there.
      for (let i = 0; i < 1000 && !held; i++) await new Promise((res) => { setImmediate(res); });
      assert.equal(held, true);
      for (let i = 0; i < 20; i++) await new Promise((res) => { setImmediate(res); });
      assert.equal(flushed, false);
      assert.equal(await store.get('s-flush'), undefined);
      release();
      await flushing;
      assert.equal((await store.get('s-flush'))?.events, 5);
      assert.deepEqual(await store.verify('s-flush'), { ok: true, events: 5 });
    });

    void test('retention purges sessions idle longer than the age, with their events', async () => {
      clock.set(T0 + 30 * 86_400_000);
      await recordAll(exchangeEvents('s-fresh', clock.now()));
      const before = (await store.list({ limit: 1000 })).length;
      // Something of each kind to purge: segments and bodies of the old sessions (no cascading key).
      const [e0] = await db.query<{ n: number | string }>("SELECT count(*) AS n FROM session_segments WHERE session_id <> 's-fresh'");
      const [c0] = await db.query<{ n: number | string }>("SELECT count(*) AS n FROM recording_bodies WHERE id NOT IN (SELECT body_id FROM session_segments WHERE session_id = 's-fresh')");
      assert.ok(Number(e0?.n) > 0 && Number(c0?.n) > 0, 'the old sessions have segments and bodies');
      const purged = await store.purgeOlderThan(7 * 86_400_000);
      assert.equal(purged, before - 1);
      assert.deepEqual((await store.list({})).map((s) => s.id), ['s-fresh']);
      const [n] = await db.query<{ n: number | string }>("SELECT count(*) AS n FROM session_segments WHERE session_id <> 's-fresh'");
      assert.equal(Number(n?.n), 0);
      const [c] = await db.query<{ n: number | string }>("SELECT count(*) AS n FROM recording_bodies WHERE id NOT IN (SELECT body_id FROM session_segments WHERE session_id = 's-fresh')");
      assert.equal(Number(c?.n), 0, 'no body is left that no segment points into');
      assert.deepEqual(await store.verify('s-fresh'), { ok: true, events: 5 });
    });

    void test('staleOpen lists exchange-grouped sessions left open (http, mcp), never a connection-bound one', async () => {
      const at = clock.now();
      for (const protocol of ['http', 'mcp', 'postgres', 'ssh'] as const) {
        rec.record({ session: `stale-${protocol}`, protocol, type: 'session.open', at, user: 'dave', data: {} });
        rec.record({ session: `stale-${protocol}`, protocol, type: 'request', at: at + 1, user: 'dave', data: {} });
      }
      rec.record({ session: 'stale-closed', protocol: 'http', type: 'session.open', at, user: 'dave', data: {} });
      rec.record({ session: 'stale-closed', protocol: 'http', type: 'session.close', at: at + 1, user: 'dave', data: {} });
      await rec.flush();
      assert.deepEqual(await store.staleOpen(60_000), [], 'nothing is stale yet');
      clock.set(at + 3_600_000);
      const stale = (await store.staleOpen(60_000)).map((r) => [r.id, r.protocol, r.user]).sort();
      assert.deepEqual(stale, [['stale-http', 'http', 'dave'], ['stale-mcp', 'mcp', 'dave']]);
    });
  });
}
