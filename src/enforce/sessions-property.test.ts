import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EXCHANGE_RESERVE_BYTES, HttpSessions, type EndedSession, type SessionIdentity } from './sessions.ts';

/**
 * The guarantees of the session table, over arbitrary interleavings of (principal, header)
 * requests — labels, ids seen by anyone, and the echo of the last id a principal got back (as
 * MCP clients do) — releases of any size, idle sweeps, rotations, a full table, and restarts (a
 * new table, as after a restart or on another replica):
 *
 * - a stored id is always one the table generated (never a client value), used by one principal
 *   only, never continued once ended or forgotten;
 * - an echoed rotated id of the same principal never opens a labelled session: it lands in the
 *   current successor of the rotated session (when that one is live);
 * - a full table never evicts a session of a principal that holds fewer sessions than the opener
 *   holds once it has opened;
 * - every ended session is reported exactly once (at once through `onEnded`, or by the sweep or
 *   shutdown that ended it), never while an exchange of it runs (unless forced at shutdown);
 * - no session's byte estimate passes the budget (half of max_session_bytes; one exchange's
 *   reserve when the budget is smaller than that).
 */

const PRINCIPALS = ['alice', 'bob', 'mallory'] as const;
const LABELS = ['chat', 'x', 'bad id!', '4111111111111111', 'l1', 'l2', 'l3', 'l4'] as const;
const CONNECTIONS = [undefined, 'c1', 'c2'] as const;
const RELEASED = [0, 1_000, 300_000, EXCHANGE_RESERVE_BYTES] as const;

type Header = { readonly label: string } | { readonly seen: number } | { readonly echo: true } | { readonly own: number } | undefined;
type Op =
  | { readonly kind: 'request'; readonly who: number; readonly header: Header; readonly conn: number; readonly mcp: boolean; readonly hold: boolean; readonly bytes: number }
  | { readonly kind: 'release'; readonly bytes: number; readonly last: boolean }
  | { readonly kind: 'tick'; readonly ms: number }
  | { readonly kind: 'sweep' }
  | { readonly kind: 'restart' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({
    kind: fc.constant('request' as const), who: fc.nat(PRINCIPALS.length - 1),
    header: fc.oneof(
      fc.constant(undefined), fc.record({ label: fc.constantFrom(...LABELS) }), fc.record({ seen: fc.nat() }),
      fc.constant({ echo: true as const }), fc.constant({ echo: true as const }), fc.record({ own: fc.nat() }), fc.record({ own: fc.nat() }),
    ),
    conn: fc.nat(CONNECTIONS.length - 1), mcp: fc.boolean(), hold: fc.boolean(), bytes: fc.constantFrom(...RELEASED),
  }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), bytes: fc.constantFrom(...RELEASED), last: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 120_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
);

test('property: generated ids of one owner, echoed rotated ids reach the successor, fair eviction, every end reported once, sessions within the byte budget', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 12 }), fc.constantFrom(1024, 3 * EXCHANGE_RESERVE_BYTES, 6 * EXCHANGE_RESERVE_BYTES, 20 * EXCHANGE_RESERVE_BYTES),
    fc.array(op, { minLength: 40, maxLength: 200 }),
    (max, maxSessionBytes, ops) => {
      const budget = Math.max(maxSessionBytes / 2, EXCHANGE_RESERVE_BYTES);
      const idleMs = 300_000;
      let now = 0;
      let n = 0;
      const generated = new Set<string>();
      const gen = (): string => { const id = `gen-${++n}`; generated.add(id); return id; };
      const ownerOf = new Map<string, string>(); // every id ever returned → its principal
      const seen: string[] = []; // ids returned so far (clients may send any of them)
      const reported = new Set<string>(); // ended and reported (any table)
      const dead = new Set<string>(); // ended or forgotten: never continued
      const labelOf = new Map<string, string | undefined>(); // id → the client label of its session (kept by successors)
      const lastOf = new Map<string, string>(); // principal → the last id it got back (what an echoing client sends)
      // Per table:
      const lastUse = new Map<string, number>(); // id → when an exchange of it last started or ended
      let inbox: EndedSession[] = []; // reported through onEnded, not yet checked
      let live = new Map<string, string>(); // id → owner, in the table
      let retiring = new Set<string>(); // out of the table, close not reported yet (exchanges running)
      let held: string[] = []; // sessions of running exchanges (one entry per exchange)
      let estimate = new Map<string, number[]>(); // id → each exchange's estimate (reserve while running)
      let running = new Map<string, number[]>(); // id → indexes in estimate of running exchanges
      let successor = new Map<string, string>(); // rotated id → the session that replaced it
      let rotatedOwner = new Map<string, string>(); // rotated id → owner
      const newTable = (): HttpSessions => new HttpSessions(max, () => now, { maxSessionBytes, onEnded: (e) => { inbox.push(e); } });
      let table = newTable();

      const mine = (who: string, i: number): string | undefined => {
        const ids = seen.filter((id) => ownerOf.get(id) === who);
        return ids[i % Math.max(1, ids.length)];
      };
      const countOf = (owner: string): number => [...live.values()].filter((o) => o === owner).length;
      /** Checks reported ends: each once, of a session that was known, never while an exchange of it runs (unless forced). */
      const ends = (list: readonly EndedSession[], forced: boolean): void => {
        for (const e of list) {
          assert.ok(!reported.has(e.id), `reported once (${e.id})`);
          assert.ok(live.has(e.id) || retiring.has(e.id), `only a session of this table ends (${e.id})`);
          // A sweep may close a session whose exchange was never released, once unused for four idle times.
          const stuck = (lastUse.get(e.id) ?? 0) <= now - 4 * idleMs;
          if (!forced && !stuck) assert.ok(!held.includes(e.id), `closed while an exchange of it runs (${e.id})`);
          assert.equal(e.identity.user, ownerOf.get(e.id), 'closed with its owner\'s identity');
          reported.add(e.id);
          dead.add(e.id);
          live.delete(e.id);
          retiring.delete(e.id);
        }
      };
      /** Sessions the table let go of (not live for their owner any more): returned. */
      const removed = (): string[] => {
        const out: string[] = [];
        for (const [id, owner] of live) {
          if (table.peek(id, owner) === id) continue;
          live.delete(id);
          dead.add(id);
          out.push(id);
        }
        return out;
      };
      const release = (i: number, bytes: number): void => {
        const id = held[i];
        if (id === undefined) return;
        held.splice(i, 1);
        table.release(id, bytes);
        lastUse.set(id, now);
        const r = running.get(id);
        const k = r?.shift();
        const est = estimate.get(id);
        if (k !== undefined && est !== undefined) est[k] = Math.min(bytes, EXCHANGE_RESERVE_BYTES);
      };

      for (const o of ops) {
        if (o.kind === 'tick') now += o.ms;
        else if (o.kind === 'sweep') {
          ends(inbox.splice(0), false);
          const out = table.sweep(idleMs);
          for (const e of out) assert.equal(e.reason === 'idle', live.has(e.id), 'with onEnded, a sweep reports what it ended: idle, or a stuck retiring one');
          ends(out, false);
        } else if (o.kind === 'release') {
          release(o.last ? held.length - 1 : 0, o.bytes);
          ends(inbox.splice(0), false);
          assert.deepEqual(removed(), [], 'a release ends no live session');
        } else if (o.kind === 'restart') {
          ends(inbox.splice(0), false);
          for (const id of live) dead.add(id[0]); // forgotten (a crash): the orphan sweep closes them
          inbox = []; live = new Map(); retiring = new Set(); held = []; estimate = new Map(); running = new Map();
          successor = new Map(); rotatedOwner = new Map();
          table = newTable();
        } else {
          const who = PRINCIPALS[o.who] ?? 'alice';
          const header = o.header === undefined ? undefined
            : 'label' in o.header ? o.header.label
              : 'echo' in o.header ? lastOf.get(who)
                : 'own' in o.header ? mine(who, o.header.own) // an id it got back earlier (a client holding on to it)
                  : seen[o.header.seen % Math.max(1, seen.length)];
          const conn = CONNECTIONS[o.conn];
          const identity: SessionIdentity = { protocol: o.mcp ? 'mcp' : 'http', user: who, ...(conn === undefined ? {} : { connection: conn }) };
          const before = new Map(PRINCIPALS.map((p) => [p, countOf(p)] as const));
          // An echoed rotated id of this owner: where it must land (its current successor, if live).
          let target: string | undefined;
          const echoedRotation = header !== undefined && rotatedOwner.get(header) === who && !(live.get(header) === who);
          if (echoedRotation) {
            target = header;
            while (target !== undefined && successor.has(target)) target = successor.get(target);
            if (target !== undefined && !live.has(target)) target = undefined;
          }

          const s = table.resolve(header, who, gen, identity);

          assert.ok(generated.has(s.id), 'the stored id is one the table generated');
          assert.ok(!(LABELS as readonly string[]).includes(s.id), 'never a client value');
          if (s.fresh) {
            assert.ok(!ownerOf.has(s.id), 'a fresh session has a never-used id');
            ownerOf.set(s.id, who);
            live.set(s.id, who);
            seen.push(s.id);
            estimate.set(s.id, []);
            running.set(s.id, []);
            if (s.label !== undefined) assert.notEqual(s.label, s.id);
            if (s.previous !== undefined) {
              assert.equal(ownerOf.get(s.previous), who, 'a successor is its owner\'s');
              assert.ok(!successor.has(s.previous), 'one successor per rotated session');
              successor.set(s.previous, s.id);
              rotatedOwner.set(s.previous, who);
            } else if (s.label !== undefined && !echoedRotation) {
              assert.equal(s.label, header, 'a new labelled session is labelled with the header sent');
            }
            labelOf.set(s.id, s.label ?? (s.previous === undefined ? undefined : labelOf.get(s.previous)));
          } else {
            assert.ok(live.has(s.id), 'only a live session is continued');
            assert.ok(!dead.has(s.id), 'an ended or forgotten session is never continued');
            assert.equal(s.previous, undefined);
          }
          assert.equal(ownerOf.get(s.id), who, 'a stored id is used by one principal only');
          if (echoedRotation) {
            assert.ok(s.label !== header, 'an echoed rotated id never labels a new session');
            if (s.fresh && s.previous === undefined) assert.equal(s.label, labelOf.get(header ?? ''), 'its label\'s session anew (a default one: the default session)');
            if (target !== undefined) assert.ok(s.id === target || s.previous === target, 'it lands in the current successor');
          }
          lastOf.set(who, s.id);
          lastUse.set(s.id, now);

          // The byte budget: every exchange counts its reserve while it runs, its release after.
          const est = estimate.get(s.id) ?? [];
          running.get(s.id)?.push(est.length);
          est.push(EXCHANGE_RESERVE_BYTES);
          assert.ok(est.reduce((a, b) => a + b, 0) <= budget, `session ${s.id} within the byte budget`);

          // What this request ended: a rotated predecessor, or one session evicted from a full table.
          const gone = removed();
          assert.ok(table.size <= max, 'bounded');
          const evicted = gone.filter((id) => id !== s.previous);
          assert.ok(evicted.length <= (s.fresh && s.previous === undefined ? 1 : 0), 'only an opening evicts, one session');
          for (const id of evicted) {
            const victim = ownerOf.get(id) ?? '';
            assert.ok(victim === who || (before.get(victim as typeof PRINCIPALS[number]) ?? 0) >= countOf(who),
              `${who} (holding ${countOf(who)}) evicted a session of ${victim}, who held ${before.get(victim as typeof PRINCIPALS[number])}`);
          }
          for (const id of gone) retiring.add(id);
          const now_ = inbox.splice(0);
          assert.ok(now_.every((e) => gone.includes(e.id) || retiring.has(e.id)), 'reported as it ends');
          for (const e of now_) assert.equal(e.reason, e.id === s.previous ? 'rotated' : 'evicted');
          ends(now_, false);
          // Those not reported yet still run exchanges.
          for (const id of gone) if (retiring.has(id)) assert.ok(held.includes(id), `let go with no exchange running, but not closed (${id})`);

          held.push(s.id);
          if (!o.hold) release(held.length - 1, o.bytes);
          ends(inbox.splice(0), false);
        }
      }
      // Everything left ends at shutdown, each once, never twice.
      ends(inbox.splice(0), false);
      ends(table.endAll(), true);
      assert.equal(live.size + retiring.size, 0, 'every session of the table ends at shutdown');
    },
  ), { numRuns: 400 });
});
