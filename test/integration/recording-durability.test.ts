import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SessionStore } from '../../src/recording/session-store.ts';
import { recoverJournals } from '../../src/recording/store-recorder.ts';
import { openStore, type StoreOptions } from '../../src/store/index.ts';
import { getTestPostgres, pgSkip } from '../harness/postgres-server.ts';
import { storedEvents } from '../harness/recording-tamper.ts';

// A child process records exchanges, awaits flush() for each (as the data path does before a
// response's last byte), prints "acked <n>", and keeps recording without flushing. We SIGKILL it
// the moment we read "acked": every acknowledged event must be in the store afterwards. With a
// journal (as the gateway runs on a durable store), the group commit is set to 1 s so that the
// acknowledged events are in the journal only when the child dies: recovery must bring them back.
const CHILD = `
const { openStore } = await import(process.env.STORE_MODULE);
const { StoreRecorder } = await import(process.env.RECORDER_MODULE);
const { RecordingJournal } = await import(process.env.JOURNAL_MODULE);
const db = await openStore(JSON.parse(process.env.STORE_OPTS));
const rec = new StoreRecorder(db, process.env.JOURNAL_DIR
  ? { journal: RecordingJournal.create(process.env.JOURNAL_DIR), groupCommitMs: 1000 } : {});
const exchanges = Number(process.env.EXCHANGES);
const session = process.env.SESSION;
let n = 0;
const ev = (type, data) => { n++; rec.record({ session, protocol: 'http', type, at: Date.now(), user: 'alice', data }); };
ev('session.open', {});
await Promise.all(Array.from({ length: 8 }, async (_, w) => {
  for (let i = w; i < exchanges; i += 8) {
    ev('request', { i }); ev('decision', { i, effect: 'allow' }); ev('response', { i, text: 'x'.repeat(200) });
    await rec.flush(session);
  }
}));
const acked = n;
process.stdout.write('acked ' + acked + '\\n');
for (;;) { ev('response', { after: true }); await new Promise((r) => setImmediate(r)); }
`;

function runAndKill(storeOpts: StoreOptions, session: string, exchanges: number, journalDir?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', CHILD], {
      env: {
        ...process.env, STORE_OPTS: JSON.stringify(storeOpts), SESSION: session, EXCHANGES: String(exchanges),
        STORE_MODULE: new URL('../../src/store/index.ts', import.meta.url).href,
        RECORDER_MODULE: new URL('../../src/recording/store-recorder.ts', import.meta.url).href,
        JOURNAL_MODULE: new URL('../../src/recording/journal.ts', import.meta.url).href,
        JOURNAL_DIR: journalDir ?? '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /acked (\d+)\n/.exec(out);
      if (m) { child.kill('SIGKILL'); resolve(Number(m[1])); }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

async function checkAfterKill(storeOpts: StoreOptions, session: string, acked: number, journalDir?: string): Promise<void> {
  const db = await openStore(storeOpts);
  try {
    if (journalDir !== undefined) {
      const replayed = await recoverJournals(db, journalDir);
      assert.ok(replayed > 0, 'the acknowledged events were in the journal only');
      assert.equal(await recoverJournals(db, journalDir), 0, 'a journal is replayed once');
    }
    const store = new SessionStore(db);
    const info = await store.get(session);
    assert.ok(info, 'the session survived');
    assert.ok(info.events >= acked, `acknowledged ${acked} events, found ${info.events}`);
    const stored = (await storedEvents(db, session)).filter((e) => e.seq <= acked);
    assert.equal(stored.length, acked);
    assert.deepEqual(await store.verify(session), { ok: true, events: info.events });
  } finally {
    await db.close();
  }
}

const skipPg = await pgSkip();

describe('recording survives SIGKILL right after the acknowledgement', () => {
  const dirs: string[] = [];
  after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  test('embedded store on disk (PGlite)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-rec-kill-'));
    dirs.push(dir);
    const opts: StoreOptions = { embedded: { path: dir } };
    const acked = await runAndKill(opts, 'kill-embedded', 200);
    assert.equal(acked, 601);
    await checkAfterKill(opts, 'kill-embedded', acked);
  });

  test('embedded store on disk with the journal: acknowledged events are recovered from it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-rec-kill-'));
    dirs.push(dir);
    const opts: StoreOptions = { embedded: { path: join(dir, 'store') } };
    const acked = await runAndKill(opts, 'kill-journal', 200, join(dir, 'journal'));
    assert.equal(acked, 601);
    await checkAfterKill(opts, 'kill-journal', acked, join(dir, 'journal'));
  });

  test('PostgreSQL server', { skip: skipPg }, async () => {
    const pgdb = await getTestPostgres();
    assert.ok(pgdb);
    try {
      const opts: StoreOptions = { postgres: { url: pgdb.url, poolMax: 4 } };
      const acked = await runAndKill(opts, 'kill-pg', 500);
      assert.equal(acked, 1501);
      await checkAfterKill(opts, 'kill-pg', acked);
    } finally {
      await pgdb.stop();
    }
  });
});
