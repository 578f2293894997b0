import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { manualTimers } from './clock.ts';
import { GroupCommit, type AfterFailure, type GroupCommitOptions } from './group-commit.ts';

/** Lets queued microtasks and one event-loop turn run (no time passes on the manual clock). */
const turn = (): Promise<void> => new Promise((r) => { setImmediate(r); });

/** A store whose commits the test controls: each commit waits until released (or fails). */
function heldStore(): { commit: (b: readonly number[]) => Promise<void>; calls: (readonly number[])[]; release(ok?: boolean): void; held(): number } {
  const calls: (readonly number[])[] = [];
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  return {
    calls,
    commit: (b) => { calls.push([...b]); return new Promise<void>((resolve, reject) => { pending.push({ resolve, reject }); }); },
    release: (ok = true) => { const p = pending.shift(); if (ok) p?.resolve(); else p?.reject(new Error('store down')); },
    held: () => pending.length,
  };
}

function engine(o: Partial<GroupCommitOptions<number>> & Pick<GroupCommitOptions<number>, 'commit'>, clock = manualTimers(0)): GroupCommit<number> {
  return new GroupCommit<number>({ clock, intervalMs: 50, maxBatch: 3, maxQueue: 10, failed: () => 'wait', ...o });
}

test('pushes wait for the interval on the clock and share one batch; a full batch of the same drain goes on at once', async () => {
  const clock = manualTimers(0);
  const committed: number[][] = [];
  const gc = engine({ commit: (b) => { committed.push([...b]); return Promise.resolve(); }, maxBatch: 2 }, clock);
  for (const n of [1, 2, 3, 4, 5]) assert.equal(gc.push(n), true);
  await turn();
  assert.deepEqual(committed, [], 'nothing before the interval');
  clock.advance(49);
  await turn();
  assert.deepEqual(committed, []);
  clock.advance(1);
  await turn();
  // Full batches go back to back; the partial one left waits for the next interval.
  assert.deepEqual(committed, [[1, 2], [3, 4]]);
  assert.equal(gc.length, 1);
  clock.advance(50);
  await turn();
  assert.deepEqual(committed, [[1, 2], [3, 4], [5]]);
  assert.equal(clock.pending(), 0, 'no timer left when idle');
});

test('with backToBack, the drain writes everything queued, arrivals during a commit included', async () => {
  const clock = manualTimers(0);
  const store = heldStore();
  const gc = engine({ commit: store.commit, backToBack: true, intervalMs: 0 }, clock);
  gc.push(1);
  await turn();
  assert.deepEqual(store.calls, [[1]]);
  gc.push(2);
  gc.push(3);
  store.release();
  await turn();
  assert.deepEqual(store.calls, [[1], [2, 3]], 'no interval between batches');
  store.release();
});

test('flush starts at once (cancels the interval timer) and resolves only after its items are committed', async () => {
  const clock = manualTimers(0);
  const store = heldStore();
  const gc = engine({ commit: store.commit }, clock);
  gc.push(1);
  gc.push(2);
  let flushed: boolean | undefined;
  void gc.flush().then((ok) => { flushed = ok; });
  await turn();
  assert.deepEqual(store.calls, [[1, 2]], 'without waiting for the interval');
  assert.equal(clock.pending(), 0, 'the interval timer was cancelled');
  gc.push(3); // after the flush: not waited for
  await turn();
  assert.equal(flushed, undefined, 'held while its batch commits');
  store.release();
  await turn();
  assert.equal(flushed, true);
  const second = gc.flush(); // [3] goes at once
  await turn();
  store.release();
  assert.equal(await second, true);
  assert.equal(await gc.flush(), true, 'nothing pending: resolves at once');
});

test('urgent work goes at once and keeps the drain going; a kick during a commit does too', async () => {
  const clock = manualTimers(0);
  const store = heldStore();
  let waiting = 0;
  const gc = engine({ commit: store.commit, urgent: () => waiting > 0 }, clock);
  waiting = 1;
  gc.push(1);
  await turn();
  assert.deepEqual(store.calls, [[1]], 'an urgent push does not wait for the interval');
  gc.push(2);
  store.release();
  await turn();
  assert.deepEqual(store.calls, [[1], [2]], 'still urgent: the next batch goes on');
  waiting = 0;
  gc.push(3);
  store.release();
  await turn();
  assert.equal(store.calls.length, 2, 'no longer urgent: the interval applies');
  gc.kick();
  await turn();
  assert.deepEqual(store.calls, [[1], [2], [3]]);
  store.release();
});

test('bounded: push refuses past maxQueue and maxWeight (the batch in flight does not count)', async () => {
  const store = heldStore();
  const gc = new GroupCommit<number>({ clock: manualTimers(0), commit: store.commit, failed: () => 'wait', intervalMs: 0, maxBatch: 2, maxQueue: 3, maxWeight: 100, weight: (n) => n });
  assert.equal(gc.push(10), true);
  assert.equal(gc.push(20), true);
  await turn(); // [10, 20] in flight
  assert.deepEqual(gc.inflight, [10, 20]);
  assert.equal(gc.push(30), true);
  assert.equal(gc.push(40), true);
  assert.equal(gc.push(31), false, 'weight 101 > 100');
  assert.equal(gc.push(1), true);
  assert.equal(gc.push(1), false, 'three queued');
  assert.equal(gc.weight, 71);
  store.release();
  await turn();
  assert.deepEqual(gc.queued, [1]);
  store.release();
});

test('failure "retry": the batch goes back to the front and is retried after a doubling back-off on the clock; flushes resolve false', async () => {
  const clock = manualTimers(0);
  const store = heldStore();
  const gc = engine({ commit: store.commit, retryMs: 1000, maxRetryMs: 3000, failed: (b) => { gc.requeue(b); return 'retry'; } }, clock);
  gc.push(1);
  gc.push(2);
  const first = gc.flush();
  await turn();
  store.release(false);
  assert.equal(await first, false);
  assert.equal(gc.retrying, true);
  gc.push(3);
  gc.kick();
  await turn();
  assert.equal(store.calls.length, 1, 'nothing starts during the retry wait');
  clock.advance(999);
  await turn();
  assert.equal(store.calls.length, 1);
  clock.advance(1);
  await turn();
  assert.deepEqual(store.calls[1], [1, 2, 3], 'the failed items first, in order');
  store.release(false);
  await turn();
  clock.advance(1999);
  await turn();
  assert.equal(store.calls.length, 2, 'the second wait is doubled');
  clock.advance(1);
  await turn();
  assert.equal(store.calls.length, 3);
  store.release(false);
  await turn();
  clock.advance(3000);
  await turn();
  assert.equal(store.calls.length, 4, 'capped at maxRetryMs');
  store.release();
  await turn();
  assert.equal(gc.length, 0);
  assert.equal(gc.retrying, false);
});

test('failure "wait": nothing is retried until a push, kick or flush; discard drops queued items', async () => {
  const clock = manualTimers(0);
  const store = heldStore();
  const dropped: number[] = [];
  const gc = engine({
    commit: store.commit, maxBatch: 1,
    failed: (b) => { gc.requeue(b.filter((n) => n % 2 === 1)); dropped.push(...gc.discard((n) => n % 2 === 0)); return 'wait'; },
  }, clock);
  for (const n of [1, 2, 3]) gc.push(n);
  gc.kick();
  await turn();
  store.release(false);
  await turn();
  assert.deepEqual(gc.queued, [1, 3], 'odd ones kept, in order');
  assert.deepEqual(dropped, [2]);
  clock.advance(10_000);
  await turn();
  assert.equal(store.calls.length, 1, 'no retry loop');
  assert.equal(clock.pending(), 0);
  const flushed = gc.flush();
  await turn();
  store.release();
  await turn();
  store.release();
  assert.equal(await flushed, true);
  assert.deepEqual(store.calls, [[1], [1], [3]]);
  assert.throws(() => { gc.requeue([1]); }, /outside a failed/);
});

test('extraWork: a drain commits an empty batch for it', async () => {
  let extra = true;
  const committed: (readonly number[])[] = [];
  const gc = engine({ commit: (b) => { committed.push(b); extra = false; return Promise.resolve(); }, extraWork: () => extra });
  assert.equal(await gc.flush(), true);
  assert.deepEqual(committed, [[]]);
});

test('close: one last attempt, refuses pushes, cancels the retry, leaves no timer', async () => {
  const clock = manualTimers(0);
  let fail = true;
  const calls: number[][] = [];
  const gc = engine({ commit: (b) => { calls.push([...b]); return fail ? Promise.reject(new Error('down')) : Promise.resolve(); }, failed: (b) => { gc.requeue(b); return 'retry'; } }, clock);
  gc.push(1);
  gc.kick();
  await turn();
  assert.equal(gc.retrying, true);
  assert.equal(await gc.close(), false, 'still failing: something is left');
  assert.equal(calls.length, 2, 'the last attempt');
  assert.equal(gc.retrying, false);
  assert.equal(clock.pending(), 0);
  assert.equal(gc.push(2), false, 'closed');
  fail = false;
  const again = engine({ commit: (b) => { calls.push([...b]); return Promise.resolve(); } }, clock);
  again.push(7);
  assert.equal(await again.close(), true);
  assert.deepEqual(calls.at(-1), [7]);
  assert.equal(clock.pending(), 0);
});

test('a consumer callback that throws is reported, and the engine goes on', async () => {
  const errors: unknown[] = [];
  const gc = engine({ commit: () => Promise.reject(new Error('down')), failed: () => { throw new Error('bug'); }, onError: (e) => errors.push(e) });
  gc.push(1);
  assert.equal(await gc.flush(), false);
  assert.equal(errors.length, 1);
});

/**
 * Property: whatever the interleaving of pushes, time, kicks, flushes and failing commits (failed
 * batches requeued and retried), every accepted item is committed exactly once and in push order,
 * no batch is larger than maxBatch, the queue never holds more than maxQueue plus one requeued
 * batch, and a flush that resolves true has all items pushed before it committed.
 */
test('property: exactly once, in order, bounded; flush true means committed', async () => {
  type Op = { k: 'push'; n: number } | { k: 'advance'; ms: number } | { k: 'kick' } | { k: 'flush' } | { k: 'turn' } | { k: 'failNext' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('push' as const), n: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1500 }) }),
    fc.constant({ k: 'kick' as const }), fc.constant({ k: 'flush' as const }), fc.constant({ k: 'turn' as const }), fc.constant({ k: 'failNext' as const }),
  );
  await fc.assert(fc.asyncProperty(
    fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 100 }),
    fc.constantFrom<AfterFailure>('retry', 'continue', 'wait'), fc.boolean(),
    async (ops, maxBatch, maxQueue, intervalMs, after, backToBack) => {
      const clock = manualTimers(0);
      const committed: number[] = [];
      let failures = 0;
      let maxSeen = 0;
      const gc = new GroupCommit<number>({
        clock, intervalMs, maxBatch, maxQueue, backToBack, retryMs: 100, maxRetryMs: 400,
        commit: async (b) => {
          assert.ok(b.length >= 1 && b.length <= maxBatch, `batch of ${b.length}`);
          await Promise.resolve();
          if (failures > 0) { failures--; throw new Error('down'); }
          committed.push(...b);
        },
        failed: (b) => { gc.requeue(b); return after; },
      });
      const accepted: number[] = [];
      const flushes: Promise<void>[] = [];
      let next = 0;
      for (const o of ops) {
        switch (o.k) {
          case 'push':
            for (let i = 0; i < o.n; i++) { const id = next++; if (gc.push(id)) accepted.push(id); }
            break;
          case 'advance': clock.advance(o.ms); break;
          case 'kick': gc.kick(); break;
          case 'turn': await turn(); break;
          case 'failNext': failures++; break;
          case 'flush': {
            const before = [...accepted];
            flushes.push(gc.flush().then((ok) => { if (ok) assert.deepEqual(committed.slice(0, before.length), before); }));
            break;
          }
        }
        maxSeen = Math.max(maxSeen, gc.length);
      }
      // The store recovers: everything goes.
      failures = 0;
      for (let i = 0; i < 50 && (gc.length > 0 || gc.inflight.length > 0); i++) { gc.kick(); clock.advance(1000); await turn(); }
      await Promise.all(flushes);
      assert.deepEqual(committed, accepted, 'each accepted item once, in push order');
      assert.ok(maxSeen <= maxQueue + maxBatch, `queue reached ${maxSeen}`);
      assert.equal(await gc.close(), true);
      assert.equal(clock.pending(), 0);
    },
  ), { numRuns: 200 });
});
