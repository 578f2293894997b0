/**
 * Retention on the embedded store on disk (issue 23: "retention really frees space, the store's
 * WAL and vacuum included"): after a purge that deletes every session, the tables' files are back
 * near their size before the recordings (VACUUM gives the empty tail of each table back to the file
 * system), and a second fill-and-purge cycle does not grow the data directory (freed space and WAL
 * segments are reused: the CHECKPOINT lets the WAL be recycled).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AuditLog } from '../audit/audit-log.ts';
import { manualClock } from '../kernel/clock.ts';
import { openStore } from '../store/index.ts';
import type { SqlDriver } from '../store/sql.ts';
import type { RecordEvent } from './recorder.ts';
import { SessionStore } from './session-store.ts';
import { StoreRecorder } from './store-recorder.ts';

const MiB = 2 ** 20;
const SESSIONS = 800;
const DAY = 86_400_000;

/** Bytes of the files under `path`, recursively. */
function du(path: string): number {
  let n = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) n += du(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

const dir = mkdtempSync(join(tmpdir(), 'gh-retention-disk-'));
const clock = manualClock(Date.parse('2025-06-01T00:00:00.000Z'));
let db: SqlDriver;

before(async () => { db = await openStore({ embedded: { path: dir } }); });
after(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Records `SESSIONS` HTTP sessions of one exchange each with a ~4 KB response (incompressible). */
async function fill(tag: string): Promise<void> {
  const audit = new AuditLog(db, clock);
  const rec = new StoreRecorder(db, { clock, audit });
  const at = clock.now();
  for (let s = 0; s < SESSIONS; s++) {
    const base = { session: `s-${tag}-${s}`, protocol: 'http' as const, user: 'alice', agent: 'bot', connection: 'openai' };
    const events: RecordEvent[] = [
      { ...base, type: 'session.open', at, data: { credential: 'key:abc' } },
      { ...base, type: 'request', at: at + 1, data: { method: 'POST', path: '/v1/chat/completions', prompt: randomBytes(256).toString('hex') } },
      { ...base, type: 'response', at: at + 2, data: { status: 200, text: randomBytes(2048).toString('hex') } },
      { ...base, type: 'session.close', at: at + 3, data: {} },
    ];
    for (const e of events) rec.record(e);
    if (s % 100 === 99) await rec.flush();
  }
  await rec.close();
  await audit.flush();
}

void test('retention deleting every session gives the tables\' space back and the data directory stops growing', async () => {
  const sessions = new SessionStore(db, { clock });
  const pgdata = join(dir, 'pgdata');
  const base = join(pgdata, 'base');
  const base0 = du(base);
  await fill('a');
  const grown = du(base) - base0;
  assert.ok(grown > 2 * MiB, `the recordings take room on disk (${(grown / MiB).toFixed(1)} MiB)`);
  clock.advance(2 * DAY);
  assert.equal(await sessions.purgeOlderThan(DAY), SESSIONS);
  const base1 = du(base);
  assert.ok(base1 - base0 < 0.25 * grown, `the tables shrink back after the purge: ${(base0 / MiB).toFixed(1)} -> +${(grown / MiB).toFixed(1)} -> ${(base1 / MiB).toFixed(1)} MiB`);
  const dir1 = du(pgdata);

  await fill('b');
  clock.advance(2 * DAY);
  assert.equal(await sessions.purgeOlderThan(DAY), SESSIONS);
  const base2 = du(base);
  assert.ok(base2 - base1 < 0.25 * grown, `a second cycle reuses the freed space: base ${(base1 / MiB).toFixed(1)} -> ${(base2 / MiB).toFixed(1)} MiB`);
  // The WAL is recycled at the purge's CHECKPOINT: at most one more 16 MiB segment than before.
  const dir2 = du(pgdata);
  assert.ok(dir2 - dir1 <= 16 * MiB + 0.25 * grown, `the data directory stops growing: ${(dir1 / MiB).toFixed(1)} -> ${(dir2 / MiB).toFixed(1)} MiB (WAL ${(du(join(pgdata, 'pg_wal')) / MiB).toFixed(0)} MiB)`);
  assert.deepEqual(await sessions.list({}), []);
});
