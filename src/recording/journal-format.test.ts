import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalData } from './event-hash.ts';
import { RecordingJournal, type JournalEntry } from './journal.ts';
import type { PreparedEvent } from './session-writer.ts';

const label = fc.option(fc.string({ unit: 'binary', maxLength: 12 }), { nil: null });
const event: fc.Arbitrary<PreparedEvent> = fc.record({
  session: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
  protocol: fc.constantFrom('postgres', 'http', 'mcp', 'ssh'),
  type: fc.constantFrom('session.open', 'request', 'decision', 'response', 'session.close'),
  at: fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()),
  user: label, agent: label, connection: label,
  // Data holding tabs, newlines, quotes, backslashes and any code point: its canonical text escapes them.
  data: fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer(), fc.boolean(), fc.constant(null))),
  effect: fc.constantFrom(undefined, 'allow' as const, 'deny' as const, 'review' as const),
}).map(({ data, ...e }) => {
  const text = canonicalData(data);
  return { ...e, text, bytes: Buffer.byteLength(text, 'utf8') };
});

/** Writes `entries` with a journal, as a process that has exited would have left them; returns the file's bytes. */
function leave(dir: string, entries: readonly JournalEntry[]): { file: string; bytes: Buffer } {
  const j = RecordingJournal.create(dir);
  j.append(entries);
  j.close(false);
  const dead = spawnSync('true').pid;
  const name = readdirSync(dir).find((f) => f.includes(j.id))!;
  const file = join(dir, name.replace(j.id, j.id.replace(/^\d+p/, `${dead}p`)));
  renameSync(join(dir, name), file);
  return { file, bytes: readFileSync(file) };
}

test('journal lines read back exactly as written, whatever the data holds', () => {
  fc.assert(fc.property(fc.array(event, { minLength: 1, maxLength: 8 }), (events) => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-jfmt-'));
    try {
      const entries = events.map((e, i) => ({ ticket: i + 1, event: e }));
      leave(dir, entries);
      const [orphan] = RecordingJournal.orphans(dir);
      assert.ok(orphan);
      assert.deepEqual(orphan.entries, entries);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }), { numRuns: 60 });
});

test('a journal cut anywhere (a torn last write) yields exactly the lines whose newline was written', () => {
  fc.assert(fc.property(fc.array(event, { minLength: 1, maxLength: 5 }), fc.double({ min: 0, max: 1, noNaN: true }), (events, where) => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-jfmt-'));
    try {
      const entries = events.map((e, i) => ({ ticket: i + 1, event: e }));
      const { file, bytes } = leave(dir, entries);
      const cut = Math.floor(where * bytes.length);
      writeFileSync(file, bytes.subarray(0, cut));
      const complete = bytes.subarray(0, cut).toString('latin1').split('\n').length - 1;
      const got = RecordingJournal.orphans(dir)[0]?.entries ?? [];
      assert.deepEqual(got, entries.slice(0, complete));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }), { numRuns: 100 });
});

test('a journal in the earlier one-object-per-line format is still recovered', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-jfmt-'));
  try {
    const e: PreparedEvent = { session: 's1', protocol: 'postgres', type: 'request', at: '2025-06-01T00:00:00.000Z', user: 'alice', agent: null, connection: 'app', text: '{"statement":"SELECT 1"}', bytes: 24, effect: undefined };
    const dead = spawnSync('true').pid;
    writeFileSync(join(dir, `journal-${dead}p0a0b-000000.jsonl`), `${JSON.stringify({ n: 7, e })}\n`);
    // The old format left `effect` out when undefined (JSON.stringify drops it).
    const got = (RecordingJournal.orphans(dir)[0]?.entries ?? []).map((x) => ({ ticket: x.ticket, event: { ...x.event, effect: x.event.effect } }));
    assert.deepEqual(got, [{ ticket: 7, event: e }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
