import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HttpSessions, type EndedSession } from './sessions.ts';

/**
 * The guarantee of the session table, over arbitrary interleavings of (principal, header)
 * requests, idle sweeps, evictions and restarts (a new table, as after a restart or on another
 * replica): a stored id is always one the table generated, it belongs to one principal forever,
 * and once ended (closed by a sweep, eviction or shutdown) or forgotten (restart) it is never
 * continued again.
 */

const PRINCIPALS = ['alice', 'bob', 'mallory'] as const;
const LABELS = ['chat', 'x', 'bad id!', '4111111111111111'] as const;

type Op =
  | { readonly kind: 'request'; readonly who: number; readonly header: { readonly label: string } | { readonly seen: number } | undefined; readonly hold: boolean }
  | { readonly kind: 'release' }
  | { readonly kind: 'tick'; readonly ms: number }
  | { readonly kind: 'sweep' }
  | { readonly kind: 'restart' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({
    kind: fc.constant('request' as const), who: fc.nat(PRINCIPALS.length - 1),
    header: fc.oneof(fc.constant(undefined), fc.record({ label: fc.constantFrom(...LABELS) }), fc.record({ seen: fc.nat() })),
    hold: fc.boolean(),
  }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 2_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
);

test('property: a stored id is generated, used by one principal only, never continued once ended or forgotten, and closed after its exchanges', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 120 }), (max, ops) => {
    let now = 0;
    let n = 0;
    const newId = (): string => `gen-${++n}`;
    const generated = new Set<string>();
    const gen = (): string => { const id = newId(); generated.add(id); return id; };
    // A small size limit (10 exchange reserves) so that default sessions also rotate by size.
    const opts = { maxSessionBytes: 10 * 2 * 1024 * 1024 };
    let table = new HttpSessions(max, () => now, opts);
    let held: string[] = []; // sessions of running exchanges (one entry per exchange)
    let live = new Set<string>(); // ids opened by the current table and not ended
    const ownerOf = new Map<string, string>(); // every id ever returned → its principal
    const dead = new Set<string>(); // ended or forgotten
    const seen: string[] = []; // ids returned so far (clients may send any of them)
    let evicted = new Set<string>(); // let go by a full table, reported by the next sweep
    const ended = (list: readonly EndedSession[], reasons: readonly EndedSession['reason'][], forced = false): void => {
      for (const e of list) {
        if (!forced) assert.ok(!held.includes(e.id), `closed while an exchange of it runs (${e.id})`);
        assert.ok(live.has(e.id) || (evicted.has(e.id) && e.reason === 'evicted'), `only a live session ends, once (${e.id})`);
        assert.ok(reasons.includes(e.reason));
        live.delete(e.id);
        evicted.delete(e.id);
        dead.add(e.id);
      }
    };
    for (const o of ops) {
      if (o.kind === 'tick') now += o.ms;
      else if (o.kind === 'sweep') ended(table.sweep(100_000), ['idle', 'evicted', 'rotated']);
      else if (o.kind === 'release') {
        const id = held.shift();
        if (id !== undefined) table.release(id, 1_000);
      }
      else if (o.kind === 'restart') {
        for (const id of live) dead.add(id); // forgotten (a crash) or closed (a clean shutdown)
        live = new Set();
        evicted = new Set();
        held = [];
        table = new HttpSessions(max, () => now, opts);
      } else {
        const who = PRINCIPALS[o.who] ?? 'alice';
        const header = o.header === undefined ? undefined : 'label' in o.header ? o.header.label : seen[o.header.seen % Math.max(1, seen.length)];
        const s = table.resolve(header, who, gen, { protocol: 'http', user: who });
        if (o.hold) held.push(s.id); else table.release(s.id, 1_000);
        assert.ok(generated.has(s.id), 'the stored id is one the table generated');
        if (s.fresh) {
          assert.ok(!ownerOf.has(s.id), 'a fresh session has a never-used id');
          live.add(s.id);
          ownerOf.set(s.id, who);
          seen.push(s.id);
          if (s.label !== undefined) assert.equal(s.label, header);
        } else {
          assert.ok(live.has(s.id), 'only a live session is continued');
          assert.ok(!dead.has(s.id), 'an ended or forgotten session is never continued');
        }
        assert.equal(ownerOf.get(s.id), who, 'a stored id is used by one principal only');
        assert.ok(table.size <= max, 'bounded');
        // Evictions are reported by the next sweep; from now on the evicted id is not live.
        for (const id of [...live].filter((x) => table.peek(x, ownerOf.get(x) ?? '') === undefined)) {
          live.delete(id);
          evicted.add(id);
          dead.add(id);
        }
      }
    }
    // Everything left ends at shutdown, each once, never twice.
    ended(table.endAll(), ['shutdown', 'evicted', 'rotated'], true);
    assert.equal(live.size, 0, 'every live session ends at shutdown');
  }), { numRuns: 500 });
});
