/**
 * Review finding (session 11): a journal write that fails part-way (ENOSPC/EIO/EFBIG after some
 * bytes reached the file) leaves a torn line in the middle of the segment; the next append goes
 * to the same file right after it, so the next entry's line is glued to the torn one and cannot be
 * read back. That next append returned normally: its flush was acknowledged as durable in the
 * journal, yet recovery after a crash does not find it.
 */
import assert from 'node:assert/strict';
import fs, { mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { canonicalData } from './event-hash.ts';
import { RecordingJournal, type JournalEntry } from './journal.ts';

function entry(ticket: number, data: Record<string, unknown>): JournalEntry {
  const text = canonicalData(data);
  return {
    ticket,
    event: { session: 's1', protocol: 'postgres', type: 'request', at: '2026-12-06T21:00:00.000Z', user: 'alice', agent: null, connection: 'crm', text, bytes: Buffer.byteLength(text), effect: undefined },
  };
}

test('an append after a write that failed part-way is still recovered (no glued line)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-review-torn-'));
  const real = fs.writeSync;
  try {
    const j = RecordingJournal.create(dir);
    j.append([entry(1, { message: 'query', statement: 'SELECT 1' })]);
    // The next write reaches the file only in part, then fails (a full disk).
    let calls = 0;
    fs.writeSync = ((fd: number, buf: Buffer, off: number, len: number) => {
      calls++;
      if (calls === 1) return real(fd, buf, off, Math.floor(len / 2));
      const err = new Error('ENOSPC: no space left on device') as NodeJS.ErrnoException;
      err.code = 'ENOSPC';
      throw err;
    }) as typeof fs.writeSync;
    syncBuiltinESMExports();
    assert.throws(() => { j.append([entry(2, { message: 'query', statement: 'DELETE FROM t' })]); }, /ENOSPC/);
    fs.writeSync = real;
    syncBuiltinESMExports();
    // The disk has room again: the recorder journals what is not journaled yet (ticket 2 was
    // committed by the store meanwhile, since the failed flush waited for it) and this append
    // returns: the flush of ticket 3 is acknowledged as durable in the journal.
    j.append([entry(3, { message: 'query', statement: 'UPDATE t SET x = 1' })]);
    j.close(false);
    // The process dies; the next start reads the journal.
    const dead = spawnSync('true').pid;
    for (const f of readdirSync(dir)) renameSync(join(dir, f), join(dir, f.replace(j.id, j.id.replace(/^\d+p/, `${dead}p`))));
    const [orphan] = RecordingJournal.orphans(dir);
    assert.ok(orphan);
    const tickets = orphan.entries.map((e) => e.ticket);
    assert.ok(tickets.includes(3), `acknowledged ticket 3 must be recoverable; recovered: ${JSON.stringify(tickets)}`);
  } finally {
    fs.writeSync = real;
    syncBuiltinESMExports();
    rmSync(dir, { recursive: true, force: true });
  }
});
