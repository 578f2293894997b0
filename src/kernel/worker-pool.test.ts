import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualTimers } from './clock.ts';
import { WorkerPool, WorkerPoolError } from './worker-pool.ts';

type Op = { op: 'echo' | 'throw' | 'spin' | 'crash'; value?: number };
const script = new URL('./worker-pool.fixture.ts', import.meta.url);

async function rejectsWith(p: Promise<unknown>, reason: WorkerPoolError['reason']): Promise<WorkerPoolError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof WorkerPoolError, `expected a WorkerPoolError, got ${String(err)}`);
  assert.equal(err.reason, reason);
  return err;
}

test('tasks run on workers; results come back; the pool is bounded in size', async () => {
  const pool = new WorkerPool<Op, { value: number }>({ script, size: 2, queue: 100, timeoutMs: 20_000 });
  try {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.run({ op: 'echo', value: i })));
    assert.deepEqual(results.map((r) => r.value), Array.from({ length: 10 }, (_, i) => i * 2));
    assert.ok(pool.stats.workers <= 2);
    assert.equal(pool.stats.completed, 10);
  } finally {
    await pool.close();
  }
});

test('a crashed worker fails its task closed, and the pool replaces it', async () => {
  const pool = new WorkerPool<Op, { value: number }>({ script, size: 1, queue: 10, timeoutMs: 20_000 });
  try {
    await rejectsWith(pool.run({ op: 'crash' }), 'crashed');
    assert.deepEqual(await pool.run({ op: 'echo', value: 4 }), { value: 8 });
  } finally {
    await pool.close();
  }
});

test('a task past its deadline is rejected, its worker terminated and replaced; queued tasks still run', async () => {
  const clock = manualTimers(0);
  const pool = new WorkerPool<Op, { value: number }>({ script, size: 1, queue: 10, timeoutMs: 1_500, clock });
  try {
    const spin = pool.run({ op: 'spin' });
    const next = pool.run({ op: 'echo', value: 1 });
    clock.advance(1_500); // the spinning task's deadline (the worker never answers it)
    await rejectsWith(spin, 'timeout');
    assert.deepEqual(await next, { value: 2 });
  } finally {
    await pool.close();
  }
});

test('a full queue refuses at once (busy); a task error keeps its code; close rejects what waits', async () => {
  const pool = new WorkerPool<Op, { value: number }>({ script, size: 1, queue: 1, timeoutMs: 20_000 });
  const failed = await rejectsWith(pool.run({ op: 'throw' }), 'failed');
  assert.equal(failed.code, 'bad_request');
  const spin = rejectsWith(pool.run({ op: 'spin' }), 'closed');
  const waiting = rejectsWith(pool.run({ op: 'echo' }), 'closed');
  await rejectsWith(pool.run({ op: 'echo' }), 'busy');
  await pool.close();
  await spin;
  await waiting;
  await rejectsWith(pool.run({ op: 'echo' }), 'closed');
});

test('with idleMs, an idle worker ends and a later task starts a new one; a busy worker is never ended', async () => {
  const clock = manualTimers(0);
  const pool = new WorkerPool<Op, { value: number }>({ script, size: 2, queue: 10, timeoutMs: 20_000, idleMs: 150, clock });
  try {
    assert.equal((await pool.run({ op: 'echo', value: 1 })).value, 2);
    assert.equal(pool.stats.workers, 1);
    // Tasks closer together than idleMs keep the worker.
    for (let i = 0; i < 3; i++) {
      clock.advance(50);
      assert.equal((await pool.run({ op: 'echo', value: i })).value, i * 2);
      assert.equal(pool.stats.workers, 1);
    }
    clock.advance(149);
    assert.equal(pool.stats.workers, 1, 'not idle for idleMs yet');
    clock.advance(1);
    assert.equal(pool.stats.workers, 0, 'the idle worker ended');
    assert.equal((await pool.run({ op: 'echo', value: 21 })).value, 42, 'a new worker serves the next task');
    assert.equal(pool.stats.workers, 1);
  } finally {
    await pool.close();
  }
});
