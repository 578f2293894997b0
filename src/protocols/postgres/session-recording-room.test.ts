import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SessionRecording, RecordingError } from './session-recording.ts';
import type { PostgresDeps } from './deps.ts';
import type { Connection } from '../../connections/registry.ts';
import type { Principal } from '../../identity/principal.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import type { RecordEvent, Recorder } from '../../recording/recorder.ts';
import { canonicalData } from '../../recording/event-hash.ts';
import { BE, type FieldDescription } from './backend-messages.ts';
import { MessageWriter } from './writer.ts';
import type { Frame } from './frame-reader.ts';

/**
 * A recorder that counts toward a limit as StoreRecorder does (UTF-8 bytes of each event's
 * canonical JSON data, `session.close` not counted): the first event past it is dropped, and
 * every one after.
 */
class LimitRecorder implements Recorder {
  readonly events: RecordEvent[] = [];
  readonly dropped: RecordEvent[] = [];
  used = 0;
  #full = false;
  readonly limit: number;
  constructor(limit: number) { this.limit = limit; }
  record(e: RecordEvent): void {
    if (e.type === 'session.close') { this.events.push(e); return; }
    const bytes = Buffer.byteLength(canonicalData(e.data), 'utf8');
    if (this.#full || this.used + bytes > this.limit) { this.#full = true; this.dropped.push(e); return; }
    this.used += bytes;
    this.events.push(e);
  }
  full(): boolean { return this.#full; }
  room(): number { return this.#full ? 0 : this.limit - this.used; }
}

const principal: Principal = { kind: 'user', id: 'dev', groups: [], agent: { id: 'bot', groups: [] }, via: 'api_key' };
const conn = { name: 'app' } as unknown as Connection;
/** A masker that lengthens what it masks (a run of 4+ digits becomes a longer label). */
const masker = { mask: (t: string) => ({ text: t.replace(/\d{4,}/g, '<CREDIT_CARD_NUMBER>') }) } as unknown as TextMasker;

function deps(recorder: Recorder): PostgresDeps {
  return { recorder, clock: { now: () => 1_000 }, log: { error: () => undefined } } as unknown as PostgresDeps;
}

const frame = (type: number, body: Buffer): Frame => ({ type, body, raw: Buffer.concat([Buffer.from([type]), Buffer.alloc(4), body]) });
const commandComplete = (tag: string): Frame => frame(BE.commandComplete, new MessageWriter().cstring(tag.replaceAll('\0', '')).frame(BE.commandComplete).subarray(5));
const errorBody = (code: string): Buffer => Buffer.concat([Buffer.from(`C${code.replaceAll('\0', '')}\0Mboom\0`), Buffer.from([0])]);
function dataRow(values: (string | null)[]): Buffer {
  const w = new MessageWriter().int16(values.length);
  for (const v of values) {
    if (v === null) w.int32(-1);
    else { const b = Buffer.from(v); w.int32(b.length).bytes(b); }
  }
  return w.frame(BE.dataRow);
}
const field = (name: string): FieldDescription => ({ name, tableOid: 0, attnum: 0, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 });

/** Texts that are costly as JSON: escapes, controls, lone surrogates, astral characters, digits the masker expands. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0001', '\ud800', '😀', 'é', '1', 'a'), maxLength: 400 }),
  fc.constantFrom('', '4111111111111111', '"'.repeat(5000), '\u0000'.repeat(4500)),
);
const result = fc.record({
  // From the wire (UTF-8): a lone surrogate arrives as U+FFFD; controls are the costliest (6 bytes each).
  error: fc.option(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: fc.constantFrom('"', '\u0001', 'é'), maxLength: 40 }), fc.constant('\u0001'.repeat(40))), { nil: undefined }),
  tag: fc.oneof(fc.string({ maxLength: 120 }), fc.string({ unit: fc.constantFrom('"', '\u0001', '\ud800', '😀'), maxLength: 120 }), fc.constant('\u001f'.repeat(100))),
  columns: fc.array(nasty, { maxLength: 6 }),
  rows: fc.array(fc.array(fc.option(nasty, { nil: null }), { maxLength: 6 }), { maxLength: 25 }),
});
const statement = fc.record({ text: nasty, name: fc.string({ maxLength: 30 }), portal: fc.string({ maxLength: 30 }), params: fc.array(fc.option(nasty, { nil: null }), { maxLength: 5 }), result, extra: fc.array(result, { maxLength: 4 }) });
type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;
const batch = fc.record({ extended: fc.boolean(), statements: fc.array(statement, { minLength: 1, maxLength: 5 }) });

test('property: no statement is forwarded whose record may not fit max_session_bytes; nothing recorded is dropped', () => {
  fc.assert(fc.property(fc.array(batch, { minLength: 1, maxLength: 30 }), fc.integer({ min: 2_000, max: 60_000 }), (batches, limit) => {
    const rec = new LimitRecorder(limit);
    const link = { sent: 0, done: 0 };
    const r = new SessionRecording(deps(rec), 's1', principal, conn, masker, link);
    r.event('session.open', { pid: 1 });
    /** The statements forwarded: their recorded text must be in the recording. */
    const forwarded: string[] = [];
    const answer = (res: Of<typeof result>): void => {
      if (res.error !== undefined) { r.failed(errorBody(res.error)); return; }
      r.columns(res.columns.map(field));
      for (const row of res.rows) r.row(dataRow(row), undefined);
      r.completed(commandComplete(res.tag));
    };
    let refused = false;
    try {
      for (const b of batches) {
        // Never full: nothing recorded was dropped.
        assert.doesNotThrow(() => { r.admit(); });
        if (b.extended) {
          for (const s of b.statements) {
            const text = r.text(s.text);
            r.request('parse', text, s.name);
            r.verdict({ ok: true, actions: ['sql.write'] } as never);
            r.bind(s.name, s.params.map((p) => (p === null ? null : r.text(p))), s.portal);
            r.started();
            r.executing(s.portal);
            forwarded.push(text);
          }
          r.sync();
          link.sent++;
          for (const s of b.statements) answer(s.result);
        } else {
          const s = b.statements[0]!;
          const text = r.text(s.text);
          r.request('query', text);
          r.verdict({ ok: true, actions: ['sql.write'] } as never);
          r.started();
          r.executing(undefined, 1 + s.extra.length);
          link.sent++;
          forwarded.push(text);
          answer(s.result);
          for (const x of s.extra) answer(x);
        }
        link.done++;
        r.ready();
        // Withheld only when an event was larger than reserved for it (a bound was wrong).
        assert.doesNotThrow(() => r.readyForQuery(Buffer.alloc(0), () => undefined));
      }
    } catch (err) {
      if (!(err instanceof RecordingError)) throw err;
      refused = true;
      r.event('error', { side: 'client', error: err.message });
    }
    r.event('session.close', {});
    // The session says why it ended (the slack kept for its last error).
    if (refused) assert.equal(rec.events.at(-2)?.type, 'error');
    assert.deepEqual(rec.dropped.map((e) => e.type), [], 'an event was dropped');
    const recorded = rec.events.filter((e) => e.type === 'statement').map((e) => e.data.statement);
    for (const text of forwarded) assert.ok(recorded.includes(text), 'a forwarded statement is not recorded');
    assert.ok(rec.used <= limit);
  }), { numRuns: 300 });
});

test('a statement whose record cannot fit is refused before it is forwarded, and the session can still say why', () => {
  const rec = new LimitRecorder(12 * 1024);
  const link = { sent: 0, done: 0 };
  const r = new SessionRecording(deps(rec), 's1', principal, conn, undefined, link);
  r.event('session.open', {});
  // 12 KiB less the 8 KiB kept for the session's last error: the request part (3.5 KB) fits,
  // not its result's part as well.
  r.request('query', 'x'.repeat(3500));
  r.verdict({ ok: true, actions: ['sql.read'] } as never);
  assert.throws(() => { r.executing(); }, (e: unknown) => e instanceof RecordingError && /max_session_bytes/.test(e.message));
  r.event('error', { side: 'client', error: 'the session reached recording.max_session_bytes' });
  r.event('session.close', {});
  assert.deepEqual(rec.events.map((e) => e.type), ['session.open', 'error', 'session.close']);
  assert.deepEqual(rec.dropped, []);
});

test('property: at the tightest limit that admits a statement, its record (worst-case result) still fits — the reservation is an upper bound', () => {
  /** One statement through a fresh session at `limit`: refused, recorded whole, or over its reservation. */
  const once = (limit: number, s: Of<typeof statement>, extended: boolean): { outcome: 'refused' | 'ok' | 'over'; dropped: number } => {
    const rec = new LimitRecorder(limit);
    const link = { sent: 0, done: 0 };
    const r = new SessionRecording(deps(rec), 's1', principal, conn, masker, link);
    r.event('session.open', {});
    try {
      if (extended) {
        r.request('parse', r.text(s.text), s.name);
        r.verdict({ ok: true, actions: ['sql.write'] } as never);
        r.bind(s.name, s.params.map((p) => (p === null ? null : r.text(p))), s.portal);
        r.executing(s.portal);
        r.sync();
      } else {
        r.request('query', r.text(s.text));
        r.verdict({ ok: true, actions: ['sql.write'] } as never);
        r.executing(undefined, 1 + s.extra.length);
      }
    } catch (err) {
      if (err instanceof RecordingError) return { outcome: 'refused', dropped: rec.dropped.length };
      throw err;
    }
    link.sent++;
    for (const res of extended ? [s.result] : [s.result, ...s.extra]) {
      if (res.error !== undefined) { r.failed(errorBody(res.error)); continue; }
      r.columns(res.columns.map(field));
      for (const row of res.rows) r.row(dataRow(row), undefined);
      r.completed(commandComplete(res.tag));
    }
    link.done++;
    r.ready();
    let over = false;
    try { void r.readyForQuery(Buffer.alloc(0), () => undefined); } catch { over = true; }
    r.event('session.close', {});
    return { outcome: over ? 'over' : 'ok', dropped: rec.dropped.length };
  };
  fc.assert(fc.property(statement, fc.boolean(), (s, extended) => {
    let lo = 1;
    let hi = 1 << 22;
    assert.notEqual(once(hi, s, extended).outcome, 'refused');
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (once(mid, s, extended).outcome === 'refused') lo = mid + 1; else hi = mid;
    }
    assert.deepEqual(once(lo, s, extended), { outcome: 'ok', dropped: 0 });
  }), { numRuns: 200 });
});

test('property: pipelined batches, portals executed several times (PortalSuspended) or bound in an earlier batch, Binds of known statements, the running-statement sweep at any point — nothing recorded is dropped, no event passes its reservation', () => {
  const portal = fc.constantFrom('', 'p1', 'p"\u0001'.repeat(20), 'q');
  // Small requests, so that many statements run before the limit and results meet it.
  const small = fc.string({ unit: fc.constantFrom('"', '\u0001', 'é', 'a'), maxLength: 40 });
  const statement = fc.record({ text: small, name: fc.constantFrom('', 's1'), params: fc.array(fc.option(small, { nil: null }), { maxLength: 2 }), result, extra: fc.array(result, { maxLength: 3 }) });
  const item = fc.oneof(
    fc.record({ kind: fc.constant('pbe' as const), s: statement, portal, executes: fc.array(result, { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant('be' as const), s: statement, portal, executes: fc.array(result, { minLength: 0, maxLength: 2 }) }),
    fc.record({ kind: fc.constant('e' as const), s: statement, portal, executes: fc.array(result, { minLength: 1, maxLength: 2 }) }),
  );
  const batchOf = fc.oneof(
    fc.record({ extended: fc.constant(false as const), s: statement }),
    fc.record({ extended: fc.constant(true as const), items: fc.array(item, { minLength: 1, maxLength: 4 }) }),
  );
  fc.assert(fc.property(fc.array(batchOf, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 9_000, max: 30_000 }), fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
    (batches, depth, limit, sweeps) => {
      const rec = new LimitRecorder(limit);
      const link = { sent: 0, done: 0 };
      const timers: (() => void)[] = [];
      let tick = 0;
      const d = { recorder: rec, clock: { now: () => 1_000, timer: (fn: () => void) => { timers.push(fn); return () => { const i = timers.indexOf(fn); if (i >= 0) timers.splice(i, 1); }; } }, log: { error: () => undefined } } as unknown as PostgresDeps;
      const r = new SessionRecording(d, 's1', principal, conn, masker, link);
      const maybeSweep = (): void => { if (sweeps[tick++ % sweeps.length] === true) timers.shift()?.(); };
      r.event('session.open', {});
      const answer = (res: Of<typeof result>, suspended: boolean): void => {
        if (res.error !== undefined) { r.failed(errorBody(res.error)); return; }
        r.columns(res.columns.map(field));
        for (const row of res.rows) r.row(dataRow(row), undefined);
        r.completed(suspended ? frame(BE.portalSuspended, Buffer.alloc(0)) : commandComplete(res.tag));
      };
      /** Per batch sent and not answered: its results in order (and whether each is a PortalSuspended). */
      const inflight: { res: Of<typeof result>; suspended: boolean }[][] = [];
      const answerOne = (): void => {
        const results = inflight.shift()!;
        for (const x of results) { answer(x.res, x.suspended); maybeSweep(); if (x.res.error !== undefined) break; }
        link.done++;
        r.ready();
        assert.doesNotThrow(() => r.readyForQuery(Buffer.alloc(0), () => undefined), 'an event passed its reservation');
        maybeSweep();
      };
      try {
        for (const b of batches) {
          r.admit();
          const results: { res: Of<typeof result>; suspended: boolean }[] = [];
          if (!b.extended) {
            r.request('query', r.text(b.s.text));
            r.verdict({ ok: true, actions: ['sql.write'] } as never);
            maybeSweep();
            r.started();
            r.executing(undefined, 1 + b.s.extra.length);
            for (const x of [b.s.result, ...b.s.extra]) results.push({ res: x, suspended: false });
          } else {
            for (const it of b.items) {
              if (it.kind === 'pbe') {
                r.request('parse', r.text(it.s.text), it.s.name);
                r.verdict({ ok: true, actions: ['sql.write'] } as never);
              }
              if (it.kind !== 'e') r.bind(it.s.name, it.s.params.map((p) => (p === null ? null : r.text(p))), it.portal);
              maybeSweep();
              it.executes.forEach((x, i) => {
                r.started();
                r.executing(it.portal);
                results.push({ res: x, suspended: i < it.executes.length - 1 });
              });
            }
            r.sync();
          }
          link.sent++;
          inflight.push(results);
          maybeSweep();
          while (inflight.length >= depth) answerOne();
        }
        while (inflight.length > 0) answerOne();
      } catch (err) {
        if (!(err instanceof RecordingError)) throw err;
        r.event('error', { side: 'client', error: err.message });
      }
      r.event('session.close', {});
      assert.deepEqual(rec.dropped.map((e) => e.type), [], 'an event was dropped');
      assert.ok(rec.used <= limit);
    }), { numRuns: 400 });
});
