/**
 * Review finding (session 11), end to end through the recorder and recovery: after a journal
 * write that fails part-way (a full disk: write(2) takes part of the buffer, the next call fails
 * with ENOSPC), the flush waits for the store (fail closed, correct); but the next append goes to
 * the same file right after the torn bytes, so the first entry it writes is glued to the torn
 * line. That flush resolves (durable in the journal, the client is answered); the process dies
 * before the store commits; recovery skips the glued line and replays the rest: the session is
 * missing an acknowledged event, and it still verifies (the chain is built at replay).
 */
import assert from 'node:assert/strict';
import fs, { mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../kernel/clock.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import { RecordingJournal } from './journal.ts';
import { SessionStore } from './session-store.ts';
import { recoverJournals, StoreRecorder } from './store-recorder.ts';

const T0 = Date.parse('2026-12-06T21:00:00.000Z');

describe('review: journal torn by a part-way failed write', () => {
  let db: SqlDriver;
  let store: SessionStore;
  let dir: string;
  before(async () => {
    db = await openStore({ embedded: { path: undefined } });
    store = new SessionStore(db, { clock: manualClock(T0), requireAnchor: false });
    dir = mkdtempSync(join(tmpdir(), 'gh-review-torn-rec-'));
  });
  after(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an event acknowledged as durable in the journal after a torn write is recovered', async () => {
    const journal = RecordingJournal.create(dir);
    // The store commits the first two transactions, then holds (the process will die first).
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    let writes = 0;
    const held: SqlDriver = { ...db, transaction: async (fn) => { writes++; if (writes > 2) await gate; return db.transaction(fn); } };
    const rec = new StoreRecorder(held, { clock: manualClock(T0), journal, groupCommitMs: 0, onError: () => undefined });
    rec.record({ session: 'torn-1', protocol: 'postgres', type: 'request', at: T0, data: { n: 1, statement: 'SELECT 1' } });
    await rec.flush('torn-1');
    await rec.settled();

    // The disk fills: the journal write takes half the buffer, then fails.
    const real = fs.writeSync;
    let calls = 0;
    fs.writeSync = ((fd: number, buf: Buffer, off: number, len: number) => {
      calls++;
      if (calls === 1) return real(fd, buf, off, Math.max(1, Math.floor(len / 2)));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }) as typeof fs.writeSync;
    syncBuiltinESMExports();
    try {
      rec.record({ session: 'torn-1', protocol: 'postgres', type: 'request', at: T0 + 1, data: { n: 2, statement: 'DELETE FROM t' } });
      await rec.flush('torn-1'); // the journal failed: this flush waited for the store (transaction 2)
    } finally {
      fs.writeSync = real;
      syncBuiltinESMExports();
    }
    assert.equal((await store.get('torn-1'))?.events, 2);

    // Room again. The next statement's events: journaled, the flush resolves, the client is answered.
    rec.record({ session: 'torn-1', protocol: 'postgres', type: 'request', at: T0 + 2, data: { n: 3, statement: 'UPDATE t SET x = 1' } });
    rec.record({ session: 'torn-1', protocol: 'postgres', type: 'response', at: T0 + 3, data: { n: 4, tag: 'UPDATE 1' } });
    await rec.flush('torn-1');
    assert.equal((await store.get('torn-1'))?.events, 2, 'the store has not committed 3 and 4 (held)');

    // The process dies; the next start recovers its journal.
    const dead = spawnSync('true').pid;
    const id = journal.id.replace(/^\d+p/, `${dead}p`);
    for (const f of readdirSync(dir)) if (f.includes(journal.id)) renameSync(join(dir, f), join(dir, f.replace(journal.id, id)));
    await db.query('UPDATE recording_journal SET id = $1 WHERE id = $2', [id, journal.id]);
    await recoverJournals(db, dir);
    const events = await store.events('torn-1');
    const verified = await store.verify('torn-1');
    release();
    assert.deepEqual(events.map((e) => e.data.n), [1, 2, 3, 4], `every acknowledged event is in the recording after recovery (verify says ${JSON.stringify(verified)})`);
  });
});
