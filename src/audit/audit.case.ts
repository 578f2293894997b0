import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import { manualClock, manualTimers } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import type { SqlDriver } from '../store/sql.ts';
import { AuditLog, type AuditInput, type AuditRecord } from './audit-log.ts';
import { canonicalJson, recordHash } from './chain.ts';
import { stableDetail } from './record.ts';
import { verifyChain } from './verify.ts';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');

/** Audit-log part of the store conformance suite (called by `runStoreConformance`). */
export function runAuditConformance(
  getDb: () => SqlDriver,
  opts: { readonly openPeer?: (first: SqlDriver) => Promise<SqlDriver> } = {},
): void {
  void describe('audit log', () => {
    let db: SqlDriver;
    const clock = manualClock(T0);
    let audit: AuditLog;
    before(async () => {
      db = getDb();
      audit = new AuditLog(db, clock);
      for (let i = 1; i <= 10; i++) {
        clock.advance(1000);
        await audit.append({
          kind: i % 2 ? 'policy.decision' : 'auth.failure', user: i % 3 ? 'alice' : 'bob', agent: 'bot',
          action: 'sql.read', resource: 'crm', outcome: i % 2 ? 'allow' : 'deny', detail: { i, reason: 'r', nested: { z: 1, a: [1, 'x'] } },
        });
      }
    });

    const verifyBoth = async (): Promise<unknown> => {
      const small = await verifyChain(db, 3); // pages of 3: exercises paging
      assert.deepEqual(small, await audit.verify());
      return small;
    };

    void test('append returns the stored record; list is newest first with filters and paging', async () => {
      const r = await audit.append({ kind: 'admin.mutation', user: 'carol', outcome: 'ok', detail: { id: 'k1' } });
      assert.equal(r.seq, 11);
      assert.equal(r.at, '2025-01-01T00:00:10.000Z');
      assert.equal(r.agent, undefined);
      const [latest] = await audit.list({ limit: 1 });
      assert.deepEqual(latest, r);
      assert.deepEqual((await audit.list({})).map((x) => x.seq), [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
      assert.deepEqual((await audit.list({ limit: 3, beforeSeq: 9 })).map((x) => x.seq), [8, 7, 6]);
      assert.deepEqual((await audit.list({ kind: 'auth.failure' })).map((x) => x.seq), [10, 8, 6, 4, 2]);
      assert.deepEqual((await audit.list({ user: 'bob', kind: 'policy.decision' })).map((x) => x.seq), [9, 3]);
      const first = (await audit.list({ beforeSeq: 2 }))[0];
      assert.deepEqual(first?.detail, { i: 1, reason: 'r', nested: { z: 1, a: [1, 'x'] } });
      assert.equal(first?.prevHash, '0'.repeat(64));
      assert.deepEqual(await verifyBoth(), { ok: true, count: 11 });
    });

    void test('a changed record is named by its seq', async () => {
      await db.query("UPDATE audit_log SET outcome = 'allow' WHERE seq = 4");
      assert.deepEqual(await verifyBoth(), { ok: false, seq: 4, reason: 'hash mismatch (record changed)' });
      await db.query("UPDATE audit_log SET outcome = 'deny' WHERE seq = 4");
      await db.query(`UPDATE audit_log SET detail = '{"i":7,"reason":"other","nested":{"z":1,"a":[1,"x"]}}' WHERE seq = 7`);
      assert.deepEqual(await verifyBoth(), { ok: false, seq: 7, reason: 'hash mismatch (record changed)' });
      await db.query(`UPDATE audit_log SET detail = '{"i":7,"reason":"r","nested":{"a":[1,"x"],"z":1}}' WHERE seq = 7`);
      assert.deepEqual(await verifyBoth(), { ok: true, count: 11 });
    });

    void test('a deleted record is a gap; a deleted tail is detected against the head', async () => {
      const [row5] = await db.query('SELECT * FROM audit_log WHERE seq = 5');
      await db.query('DELETE FROM audit_log WHERE seq = 5');
      assert.deepEqual(await verifyBoth(), { ok: false, seq: 5, reason: 'record missing (gap in the chain)' });
      await reinsert(db, row5);
      const [row11] = await db.query('SELECT * FROM audit_log WHERE seq = 11');
      await db.query('DELETE FROM audit_log WHERE seq = 11');
      assert.deepEqual(await verifyBoth(), { ok: false, seq: 11, reason: 'record missing (chain ends before its head)' });
      await reinsert(db, row11);
      assert.deepEqual(await verifyBoth(), { ok: true, count: 11 });
    });

    void test('an inserted record is detected, even with a well-formed hash', async () => {
      const [last] = await audit.list({ limit: 1 });
      assert.ok(last);
      const forged = { seq: 12, at: '2025-01-01T00:05:00.000Z', kind: 'admin.mutation', user: 'mallory', agent: null, action: null, resource: null, outcome: 'ok', detail: {}, count: 1, lastAt: null };
      await insertForged(db, forged, last.hash, recordHash(last.hash, forged));
      assert.deepEqual(await verifyBoth(), { ok: false, seq: 12, reason: 'record beyond the chain head (inserted)' });
      await db.query('DELETE FROM audit_log WHERE seq = 12');
      await insertForged(db, { ...forged, seq: 0 }, '0'.repeat(64), recordHash('0'.repeat(64), { ...forged, seq: 0 }));
      assert.deepEqual(await verifyBoth(), { ok: false, seq: 0, reason: 'record outside the chain (inserted)' });
      await db.query('DELETE FROM audit_log WHERE seq = 0');
      await db.query("UPDATE audit_head SET hash = 'f00d' WHERE id = 1");
      assert.deepEqual(await verifyBoth(), { ok: false, seq: 11, reason: 'last record does not match the chain head' });
      await db.query('UPDATE audit_head SET hash = $1 WHERE id = 1', [last.hash]);
      assert.deepEqual(await verifyBoth(), { ok: true, count: 11 });
    });

    void test('a failed batch rejects every append in it and stores nothing of it', async () => {
      const [last] = await audit.list({ limit: 1 });
      assert.ok(last);
      const blocker = { seq: last.seq + 1, at: '2025-01-01T01:00:00.000Z', kind: 'x', user: null, agent: null, action: null, resource: null, outcome: 'x', detail: {} };
      await insertForged(db, blocker, last.hash, 'blocker');
      const results = await Promise.allSettled([1, 2, 3].map((i) => audit.append({ kind: 'k', outcome: 'ok', detail: { i } })));
      assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
      for (const r of results) assert.ok(r.status === 'rejected' && isGatehouseError(r.reason, 'store_unavailable'));
      await db.query('DELETE FROM audit_log WHERE seq = $1', [blocker.seq]);
      const ok = await audit.append({ kind: 'k', outcome: 'ok' });
      assert.equal(ok.seq, last.seq + 1);
      assert.deepEqual(await verifyBoth(), { ok: true, count: last.seq + 1 });
    });
  });

  void describe('audit log under concurrency', () => {
    let db: SqlDriver;
    before(() => { db = getDb(); });

    void test('concurrent appends from several instances (and replicas) form one contiguous valid chain', async () => {
      const peer = opts.openPeer ? await opts.openPeer(db) : db;
      try {
        const start = (await new AuditLog(db, manualClock(T0)).list({ limit: 1 }))[0]?.seq ?? 0;
        const logs = [new AuditLog(db, manualClock(T0)), new AuditLog(db, manualClock(T0), { maxBatch: 7 }), new AuditLog(peer, manualClock(T0), { maxBatch: 13 })];
        const waves = await Promise.all([0, 1, 2, 3].map(async (w) => {
          const out = [];
          for (let i = 0; i < 5; i++) {
            out.push(...await Promise.all(logs.map((log, n) => log.append({ kind: 'load', user: `u${n}`, outcome: 'ok', detail: { w, i } }))));
          }
          return out;
        }));
        const total = 4 * 5 * logs.length;
        const seqs = waves.flat().map((r) => r.seq).sort((a, b) => a - b);
        assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => start + i + 1));
        assert.deepEqual(await logs[2]!.verify(), { ok: true, count: start + total });
        for (const log of logs) await log.flush();
      } finally {
        if (peer !== db) await peer.close();
      }
    });

    void test('a log whose known head was moved by another writer appends after the new head (no fork, no gap)', async () => {
      const a = new AuditLog(db, manualClock(T0));
      const b = new AuditLog(db, manualClock(T0));
      const r1 = await a.append({ kind: 'turns', outcome: 'ok', detail: { n: 1 } });
      const r2 = await b.append({ kind: 'turns', outcome: 'ok', detail: { n: 2 } });
      const r3 = await a.append({ kind: 'turns', outcome: 'ok', detail: { n: 3 } }); // a's head is stale
      assert.deepEqual([r2.seq, r3.seq], [r1.seq + 1, r1.seq + 2]);
      assert.equal(r3.prevHash, r2.hash);
      assert.equal((await a.verify()).ok, true);
    });

    void test('appends made in one tick share a batch (group commit, bounded by maxBatch); later batches are one statement', async () => {
      let transactions = 0;
      let statements = 0;
      const counting: SqlDriver = {
        ...db,
        transaction: (fn) => { transactions++; return db.transaction(fn); },
        query: (text, params) => { if (text.includes('INSERT INTO audit_log')) statements++; return db.query(text, params); },
      };
      const log = new AuditLog(counting, manualClock(T0), { maxBatch: 20 });
      const before = (await log.list({ limit: 1 }))[0]?.seq ?? 0;
      const records = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append({ kind: 'burst', outcome: 'ok', detail: { i } })));
      // The first batch learns the head under its lock; the next two append conditionally on it.
      assert.deepEqual({ transactions, statements }, { transactions: 1, statements: 2 });
      assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => before + i + 1));
      await log.flush();
      assert.equal((await log.verify()).ok, true);
    });
  });
  void describe('audit log runs of identical decisions', () => {
    let db: SqlDriver;
    before(() => { db = getDb(); });

    /** Every record after `after`, oldest first. */
    const since = async (log: AuditLog, after: number): Promise<AuditRecord[]> => {
      const out: AuditRecord[] = [];
      for (let before: number | undefined; ;) {
        const page = await log.list({ limit: 1000, ...(before === undefined ? {} : { beforeSeq: before }) });
        const mine = page.filter((r) => r.seq > after);
        out.push(...mine);
        if (mine.length < page.length || page.length < 1000) break;
        before = page[page.length - 1]!.seq;
      }
      return out.reverse();
    };
    /** A decision's content: everything but its time, as the log holds it. */
    const content = (e: AuditInput | AuditRecord): string => canonicalJson([
      e.kind, e.user ?? null, e.agent ?? null, e.action ?? null, e.resource ?? null, e.outcome, JSON.parse(JSON.stringify(e.detail ?? {})),
    ]);

    void test('expanding the records (count × content) gives back exactly the decisions, in order; only allowed ones merge', async () => {
      // Details as the data path makes them (one frozen object reused) and the same again fresh.
      const shared = [stableDetail({ reasons: ['read-only'], via: 'api-key' }), stableDetail({ reasons: [], via: 'token' })];
      const detail = fc.oneof(
        fc.constantFrom(...shared), fc.constant({ reasons: ['read-only'], via: 'api-key' }), fc.constant({ via: 'api-key', reasons: ['read-only'] }),
        fc.constant({ reasons: ['read-only'], via: 'api-key', n: 1 }), fc.constant(undefined),
      );
      const decision = fc.record({
        kind: fc.constantFrom('policy.decision', 'policy.decision', 'limit.exceeded'),
        user: fc.constantFrom('alice', 'bob', undefined), agent: fc.constantFrom('bot', undefined),
        action: fc.constantFrom('sql.read', 'sql.write'), resource: fc.constantFrom('Connection::crm', undefined),
        outcome: fc.constantFrom('allow', 'allow', 'allow', 'deny', 'review'), detail,
      }, { requiredKeys: ['kind', 'outcome'] });
      // A few decisions per run, each the first one with one field changed (or as it is): runs and
      // near-runs (differing in a single field) are frequent.
      const pool = fc.tuple(decision, fc.array(fc.tuple(fc.constantFrom('kind', 'user', 'agent', 'action', 'resource', 'outcome', 'detail', 'same'), decision), { maxLength: 4 }))
        .map(([first, changes]) => [first, ...changes.map(([field, other]) => (field === 'same' ? first : { ...first, [field]: other[field] }))]);
      const op = fc.oneof(
        { weight: 12, arbitrary: fc.record({ op: fc.constant('enqueue' as const), i: fc.nat(4), dt: fc.constantFrom(0, 0, 1, 7) }) },
        { weight: 1, arbitrary: fc.record({ op: fc.constant('append' as const), i: fc.nat(4), dt: fc.constant(0) }) },
        { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('flush' as const, 'turn' as const), i: fc.constant(0), dt: fc.constant(0) }) },
      );
      await fc.assert(fc.asyncProperty(pool, fc.array(op, { maxLength: 60 }), async (decisions, ops) => {
        const clock = manualTimers(T0);
        const log = new AuditLog(db, clock);
        await log.flush();
        const start = (await log.list({ limit: 1 }))[0]?.seq ?? 0;
        const made: { e: AuditInput; at: string }[] = [];
        const appends: Promise<unknown>[] = [];
        for (const o of ops) {
          clock.advance(o.dt);
          const d = o.op === 'enqueue' || o.op === 'append' ? decisions[o.i % decisions.length] : undefined;
          const e = d ? Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) as unknown as AuditInput : undefined;
          if (o.op === 'enqueue' && e) log.enqueue(e);
          else if (o.op === 'append' && e) appends.push(log.append(e));
          else if (o.op === 'flush') await log.flush();
          else if (o.op === 'turn') await new Promise((r) => { setImmediate(r); }); // a batch may now be in flight
          if (e) made.push({ e, at: new Date(clock.now()).toISOString() });
        }
        await Promise.all(appends);
        await log.flush();
        const records = await since(log, start);
        const expanded: { c: string; at: string }[] = [];
        for (const r of records) {
          assert.ok(Number.isSafeInteger(r.count) && r.count >= 1);
          if (r.count > 1) {
            assert.equal(r.outcome, 'allow', 'only allowed decisions are merged');
            assert.ok(r.lastAt !== undefined);
          } else {
            assert.equal(r.lastAt, undefined);
          }
          for (let i = 0; i < r.count; i++) expanded.push({ c: content(r), at: i === 0 ? r.at : i === r.count - 1 ? r.lastAt! : '' });
        }
        const expected = made.map((m, i) => ({ c: content(m.e), at: expanded[i]?.at === '' ? '' : m.at }));
        assert.deepEqual(expanded, expected);
        assert.equal((await log.verify()).ok, true);
      }), { numRuns: 40 });
    });

    void test('a run is one row with count and first and last time; changing any of them fails verification', async () => {
      const clock = manualTimers(T0);
      const log = new AuditLog(db, clock);
      const detail = stableDetail({ reasons: ['p1'], via: 'api-key' });
      const e = { kind: 'policy.decision', user: 'runner', action: 'sql.read', resource: 'Connection::crm', outcome: 'allow', detail };
      for (let i = 0; i < 5; i++) { log.enqueue(e); clock.advance(3); }
      log.enqueue({ ...e, outcome: 'deny' });
      log.enqueue({ ...e, outcome: 'deny' });
      log.enqueue(e);
      await log.flush();
      const rows = (await log.list({ user: 'runner', limit: 10 })).reverse();
      assert.deepEqual(rows.map((r) => [r.outcome, r.count, r.at, r.lastAt]), [
        ['allow', 5, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.012Z'],
        ['deny', 1, '2025-01-01T00:00:00.015Z', undefined],
        ['deny', 1, '2025-01-01T00:00:00.015Z', undefined],
        ['allow', 1, '2025-01-01T00:00:00.015Z', undefined],
      ]);
      const run = rows[0]!.seq;
      assert.equal((await log.verify()).ok, true);
      const broken = { ok: false, seq: run, reason: 'hash mismatch (record changed)' };
      const tamper = async (set: string, undo: string): Promise<void> => {
        await db.query(`UPDATE audit_log SET ${set} WHERE seq = $1`, [run]);
        assert.deepEqual(await log.verify(), broken, set);
        await db.query(`UPDATE audit_log SET ${undo} WHERE seq = $1`, [run]);
        assert.equal((await log.verify()).ok, true, undo);
      };
      await tamper('count = 4', 'count = 5');
      await tamper('count = 1', 'count = 5');
      await tamper('count = 1, last_at = NULL', "count = 5, last_at = '2025-01-01T00:00:00.012Z'");
      await tamper("last_at = '2025-01-01T00:00:00.013Z'", "last_at = '2025-01-01T00:00:00.012Z'");
      await tamper("at = '2025-01-01T00:00:00.001Z'", "at = '2025-01-01T00:00:00.000Z'");
      // A single event given a last time (or a count) is changed too.
      const single = rows[3]!.seq;
      await db.query("UPDATE audit_log SET last_at = at WHERE seq = $1", [single]);
      assert.deepEqual(await log.verify(), { ok: false, seq: single, reason: 'hash mismatch (record changed)' });
      await db.query('UPDATE audit_log SET last_at = NULL, count = 2 WHERE seq = $1', [single]);
      assert.deepEqual(await log.verify(), { ok: false, seq: single, reason: 'hash mismatch (record changed)' });
      await db.query('UPDATE audit_log SET count = 1 WHERE seq = $1', [single]);
      assert.equal((await log.verify()).ok, true);
    });

    void test('a run grows only while its record waits: an awaited append, another decision or a batch in flight ends it', async () => {
      const clock = manualTimers(T0);
      // A store whose next write waits until released: the batch stays in flight meanwhile.
      let entered: () => void = () => undefined;
      let release: () => void = () => undefined;
      let gate: Promise<void> | undefined;
      const hold = async (): Promise<void> => { const g = gate; if (g) { entered(); await g; } };
      const held: SqlDriver = {
        ...db,
        transaction: async (fn) => { await hold(); return db.transaction(fn); },
        query: async (text, params) => { if (text.includes('INSERT INTO audit_log')) await hold(); return db.query(text, params); },
      };
      const log = new AuditLog(held, clock);
      const e = { kind: 'policy.decision', user: 'ender', outcome: 'allow', detail: { reasons: ['x'] } };
      log.enqueue(e); log.enqueue(e);
      await log.append({ kind: 'admin.mutation', user: 'ender', outcome: 'ok' }); // writes the queue, run included
      log.enqueue(e); log.enqueue(e); log.enqueue(e);
      log.enqueue({ ...e, user: 'other' });
      log.enqueue(e);
      const inFlight = new Promise<void>((r) => { entered = r; });
      gate = new Promise<void>((r) => { release = r; });
      const flushing = log.flush();
      await inFlight; // the queue is being written: what comes next is a new record
      log.enqueue(e); log.enqueue(e);
      gate = undefined;
      release();
      await flushing;
      await log.flush();
      const rows = (await log.list({ user: 'ender', limit: 10 })).reverse();
      assert.deepEqual(rows.map((r) => [r.kind, r.count]), [['policy.decision', 2], ['admin.mutation', 1], ['policy.decision', 3], ['policy.decision', 1], ['policy.decision', 2]]);
    });
  });
}

async function reinsert(db: SqlDriver, row: Record<string, unknown> | undefined): Promise<void> {
  assert.ok(row);
  const cols = Object.keys(row);
  const values = cols.map((c) => (c === 'detail' ? JSON.stringify(row[c]) : row[c]));
  await db.query(`INSERT INTO audit_log (${cols.join(', ')}) VALUES (${cols.map((c, i) => `$${i + 1}${c === 'detail' ? '::jsonb' : ''}`).join(', ')})`, values);
}

async function insertForged(db: SqlDriver, f: { seq: number; at: string; kind: string; user: string | null; outcome: string; detail: object }, prev: string, hash: string): Promise<void> {
  await db.query(
    'INSERT INTO audit_log (seq, at, kind, user_id, outcome, detail, prev_hash, hash) VALUES ($1, $2::timestamptz, $3, $4, $5, $6::jsonb, $7, $8)',
    [f.seq, f.at, f.kind, f.user, f.outcome, JSON.stringify(f.detail), prev, hash],
  );
}
