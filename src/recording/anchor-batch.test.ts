/**
 * Anchors of sessions closed by the same batch (one audit record per batch of closes, see
 * `anchorRecords`): every closed session is named exactly once, records stay within the audit
 * log's bounds, and a session whose chain is rewritten consistently (chain and head) no longer
 * matches its entry, while the other sessions of the same record still verify.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { AuditLog } from '../audit/audit-log.ts';
import { prepareInput } from '../audit/record.ts';
import { manualClock } from '../kernel/clock.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import { rewriteEvents } from '../../test/harness/recording-tamper.ts';
import { eventHash } from './event-hash.ts';
import { exchangeEvents } from './recording.case.ts';
import { SessionStore } from './session-store.ts';
import { anchorRecords, StoreRecorder } from './store-recorder.ts';

const T0 = Date.parse('2025-05-01T09:00:00.000Z');

describe('anchorRecords', () => {
  test('names every closed session once, in order, one record per batch within the audit bounds', () => {
    const head = fc.stringMatching(/^[0-9a-f]{64}$/);
    const closed = fc.uniqueArray(fc.record({ session: fc.string({ minLength: 1, maxLength: 200 }), headHash: head, events: fc.nat({ max: 1e9 }) }), {
      minLength: 1, maxLength: 400, selector: (c) => c.session,
    });
    fc.assert(fc.property(closed, (cs) => {
      const heads = cs.map((c) => ({ ...c, user: 'u', agent: null }));
      const records = anchorRecords(heads);
      assert.deepEqual(records.flatMap((r) => r.sessions), cs.map((c) => c.session));
      for (const r of records) {
        prepareInput(r.input, T0); // throws past the audit log's per-record bound
        const d = r.input.detail as Record<string, unknown>;
        if (cs.length === 1) {
          assert.deepEqual(d, { session: cs[0]!.session, head_hash: cs[0]!.headHash, events: cs[0]!.events });
          continue;
        }
        const names = d.sessions as string[];
        assert.deepEqual(names, r.sessions);
        assert.deepEqual(d.heads, names.map((s) => cs.find((c) => c.session === s)!.headHash));
        assert.deepEqual(d.events, names.map((s) => cs.find((c) => c.session === s)!.events));
      }
      if (cs.length > 1) assert.ok(records.length <= Math.ceil(cs.length / 40), `${records.length} records for ${cs.length} sessions`);
    }), { numRuns: 200 });
  });
});

describe('verifySession against batch anchors (property)', () => {
  let db: SqlDriver;
  let audit: AuditLog;
  let rec: StoreRecorder;
  let store: SessionStore;
  const clock = manualClock(T0);
  before(async () => {
    db = await openStore({ embedded: { path: undefined } });
    audit = new AuditLog(db, clock);
    rec = new StoreRecorder(db, { clock, audit });
    store = new SessionStore(db, { clock });
  });
  after(async () => { await rec.close(); await db.close(); });

  let run = 0;
  test('a consistently rewritten chain (changed, cut short or extended, head to match) fails against its entry; the others verify', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 2, max: 6 }), fc.nat(), fc.constantFrom('tail', 'cut', 'extend'), fc.integer({ min: 1, max: 3 }),
      async (n, pick, how, exchanges) => {
        run++;
        const ids = Array.from({ length: n }, (_, i) => `p${run}-${i}`);
        for (const id of ids) for (const e of exchangeEvents(id, T0, { exchanges })) rec.record(e);
        await rec.flush();
        const count = 2 + 3 * exchanges;
        for (const id of ids) assert.deepEqual(await store.verify(id), { ok: true, events: count });
        const victim = ids[pick % n]!;
        const events = await store.events(victim);
        const meta = (e: { seq: number; at: string; type: string }): Parameters<typeof eventHash>[1] =>
          ({ session: victim, seq: e.seq, at: e.at, type: e.type, user: 'alice', agent: 'bot' });
        let head: string;
        let total = count;
        if (how === 'tail') {
          const last = events.at(-1)!;
          head = eventHash(last.prevHash, meta(last), '{"forged":true}');
          await rewriteEvents(db, victim, (es) => es.map((e) => (e.seq === last.seq ? { ...e, text: '{"forged":true}', hash: head } : e)));
        } else if (how === 'cut') {
          total = count - 1;
          head = events.at(-2)!.hash;
          await rewriteEvents(db, victim, (es) => es.filter((e) => e.seq <= total));
        } else {
          const last = events.at(-1)!;
          const extra = { seq: count + 1, at: last.at, type: 'response', user: 'alice', agent: 'bot', text: '{"extra":true}', prevHash: last.hash };
          head = eventHash(last.hash, meta(extra), extra.text);
          total = count + 1;
          await rewriteEvents(db, victim, (es) => [...es, { ...extra, hash: head }]);
        }
        await db.query('UPDATE sessions SET head_hash = $1, event_count = $2 WHERE id = $3', [head, total, victim]);
        const r = await store.verify(victim);
        assert.equal(r.ok, false);
        assert.equal(!r.ok && r.reason, 'anchor-mismatch');
        for (const id of ids) if (id !== victim) assert.deepEqual(await store.verify(id), { ok: true, events: count });
      },
    ), { numRuns: 12 });
    assert.deepEqual((await audit.verify()).ok, true);
  });
});
