import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../kernel/clock.ts';
import { createLogger } from '../../kernel/log.ts';
import { defaultDetectors, TextMasker } from '../../masking/text-masker.ts';
import { MemoryRecorder } from '../../recording/recorder.ts';
import { EXCHANGE_OVERHEAD_BYTES, EXCHANGE_RESERVE_BYTES, exchangeBytes, HttpSessions } from '../../enforce/sessions.ts';
import type { Principal } from '../../identity/principal.ts';
import { McpSession, RECORD_TEXT_LIMIT, recordedChars } from './record.ts';
import { recordRoom } from '../../recording/record-room.ts';

const alice: Principal = { kind: 'user', id: 'alice', groups: [], via: 'api_key', agent: { id: 'claude', groups: [] } };
const scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: Buffer.alloc(32, 1) });

/** A session table that remembers what each release reported. */
class SpyTable extends HttpSessions {
  readonly released: { id: string; bytes: number | undefined }[] = [];
  override release(id: string, bytes?: number): void {
    this.released.push({ id, bytes });
    super.release(id, bytes);
  }
}

function deps(table: HttpSessions, recorder = new MemoryRecorder()) {
  return { recorder, clock: systemClock, log: createLogger({ level: 'silent' }), scanner, httpSessions: table };
}

/** Bytes of the event data as stored (UTF-8 JSON). */
function storedBytes(recorder: MemoryRecorder, session: string): number {
  return recorder.events.filter((e) => e.session === session).reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e.data)), 0);
}

test('an MCP exchange releases its session with an upper bound of what it recorded, not the whole reserve', () => {
  const table = new SpyTable();
  const recorder = new MemoryRecorder();
  const svc = deps(table, recorder);
  const s = McpSession.resolve(svc, alice, 'run-1');
  const args = 'é'.repeat(3000) + '"\u0001'.repeat(500); // multi-byte and escaped characters
  s.record('request', { tool: 'query', arguments: s.excerpt(args) }, 'pg');
  s.record('decision', { action: 'mcp.call', effect: 'allow', reasons: ['p1'] }, 'pg');
  s.record('response', { tool: 'query', status: 'ok', text: s.excerpt('x'.repeat(RECORD_TEXT_LIMIT * 4)) }, 'pg');
  const chars = s.recordedChars;
  s.release();
  s.release(); // once
  assert.equal(table.released.length, 1);
  const reported = table.released[0]?.bytes ?? EXCHANGE_RESERVE_BYTES;
  assert.equal(reported, exchangeBytes(chars));
  assert.ok(reported < EXCHANGE_RESERVE_BYTES / 4, `a bounded MCP exchange reports far less than the reserve (${reported})`);
  // An upper bound: the event data as stored (session.open included) is within 6 bytes per counted character.
  assert.ok(chars > 3000 + 500 * 7, 'escaped and multi-byte characters counted');
  assert.ok(storedBytes(recorder, s.id) <= 6 * chars, 'the counted characters bound the stored bytes (×6)');
  assert.ok(reported >= EXCHANGE_OVERHEAD_BYTES + storedBytes(recorder, s.id));
  const texts = recorder.events.filter((e) => e.type === 'response').map((e) => String(e.data.text));
  assert.ok(texts.every((t) => t.length <= RECORD_TEXT_LIMIT), 'excerpts are bounded');
});

test('recordedChars counts the JSON text of the data, and a marker for what cannot be serialized', () => {
  assert.equal(recordedChars({ a: 'xy' }), JSON.stringify({ a: 'xy' }).length);
  assert.equal(recordedChars({ q: '"\n' }), JSON.stringify({ q: '"\n' }).length);
  assert.ok(recordedChars({ n: 10n }) > 0);
});

test('a labelled MCP run of many small tool calls stays in one session (rotated on what it recorded, not per 2 MiB reserve)', () => {
  const table = new HttpSessions(100, Date.now, { maxSessionBytes: 50 * 1024 * 1024 });
  const svc = deps(table);
  let header: string = 'agent-run';
  const ids = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const s = McpSession.resolve(svc, alice, header);
    s.record('request', { tool: 'whoami', arguments: s.excerpt('{}') });
    s.record('response', { tool: 'whoami', status: 'ok', text: s.excerpt(`alice; call ${i}`) });
    s.release();
    ids.add(s.id);
    header = s.id; // MCP clients echo Mcp-Session-Id
  }
  assert.equal(ids.size, 1, `200 small calls in ${ids.size} sessions`);
});

test('an MCP run of large tool calls is rotated on its byte estimate, and the echoed old id reaches the successor', () => {
  const recorder = new MemoryRecorder();
  const table = new HttpSessions(100, Date.now, { maxSessionBytes: 8 * 1024 * 1024 });
  const svc = deps(table, recorder);
  let header: string | undefined;
  const seen: string[] = [];
  for (let i = 0; i < 60; i++) {
    const s = McpSession.resolve(svc, alice, header);
    s.record('request', { tool: 'query', arguments: s.excerpt('y'.repeat(RECORD_TEXT_LIMIT)) });
    s.record('response', { tool: 'query', status: 'ok', text: s.excerpt('z'.repeat(RECORD_TEXT_LIMIT)) });
    s.release();
    if (seen.at(-1) !== s.id) seen.push(s.id);
    header = seen[0]; // a client that keeps sending the first id it got
  }
  assert.ok(seen.length > 1, 'rotated');
  for (const id of seen) assert.ok(storedBytes(recorder, id) <= 4 * 1024 * 1024, `session ${id} stays under half of max_session_bytes`);
  const opens = recorder.events.filter((e) => e.type === 'session.open');
  assert.equal(opens.length, seen.length, 'every session opened once; the old id never labels a new session');
  assert.deepEqual(opens.slice(1).map((e) => e.data.previous), seen.slice(0, -1), 'each successor names the session it replaces');
});

test('a tool call still running when its response closes keeps the exchange held: a session rotated meanwhile closes after the call\'s last event', () => {
  const ended: string[] = [];
  const table = new HttpSessions(undefined, undefined, { onEnded: (e) => { ended.push(e.id); } });
  const recorder = new MemoryRecorder();
  const svc = deps(table, recorder);
  const s = McpSession.resolve(svc, alice, 'run-2');
  s.begin(); // the tool call starts
  table.filled(s.id); // the session is full: rotated at its next exchange
  const next = McpSession.resolve(svc, alice, 'run-2');
  assert.notEqual(next.id, s.id, 'the next exchange goes to a successor');
  s.release(); // the client went away: the response closed while the call runs
  assert.deepEqual(ended, [], 'not closed while its call still runs');
  s.record('response', { tool: 'query', status: 'ok', text: 'late' }, 'pg'); // the call's last event
  s.end();
  assert.deepEqual(ended, [s.id], 'closed once the call has finished');
  s.end();
  s.release();
  assert.deepEqual(ended, [s.id], 'once');
  next.release();
});

test('while an in-process /proxy exchange of the session holds a reservation, an MCP event takes only unreserved room: else the call counts as full and its flush rejects', async () => {
  // A recorder with 100 000 bytes a session, as the store recorder counts them.
  class RoomRecorder extends MemoryRecorder {
    used = 0;
    override record(e: Parameters<MemoryRecorder['record']>[0]): void { this.used += Buffer.byteLength(JSON.stringify(e.data)); super.record(e); }
    room(): number { return 100_000 - this.used; }
    full(): boolean { return this.used > 100_000; }
    async flush(): Promise<void> { /* durable at once */ }
  }
  const recorder = new RoomRecorder();
  const svc = deps(new HttpSessions(), recorder);
  const s = McpSession.resolve(svc, alice, 'reserved-run');
  s.record('request', { tool: 'query', arguments: 'small' }, 'pg');
  assert.equal(s.full(), false);
  await s.flush();
  // An in-process exchange of this session reserves most of the room for its event.
  const room = recordRoom(recorder);
  assert.equal(room.reserve(s.id, 80_000, 1_000_000), 'ok');
  const before = recorder.events.length;
  s.record('response', { tool: 'query', status: 'ok', text: 'y'.repeat(5_000) }, 'pg'); // fits what is not reserved
  assert.equal(recorder.events.length, before + 1);
  assert.equal(s.full(), false);
  s.record('response', { tool: 'query', status: 'ok', text: 'z'.repeat(8_000) }, 'pg'); // would take reserved room
  assert.equal(recorder.events.length, before + 1, 'not recorded');
  assert.equal(s.full(), true, 'the call is refused before it runs');
  await assert.rejects(s.flush(), /max_session_bytes/, 'and a result is withheld');
  // Released: another exchange of the session records again.
  room.release(s.id, 80_000);
  const next = McpSession.resolve(svc, alice, s.id);
  next.record('request', { tool: 'query', arguments: 'z'.repeat(8_000) }, 'pg');
  assert.equal(recorder.events.at(-1)?.data.arguments, 'z'.repeat(8_000));
});
