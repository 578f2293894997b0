import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lazyRetrying } from './lazy.ts';

test('lazyRetrying: a failed load is not kept (the next call loads again); a loaded value is shared and never reloaded', async () => {
  let loads = 0;
  const get = lazyRetrying(() => {
    loads++;
    return loads === 1 ? Promise.reject(new Error('grammar failed to load')) : Promise.resolve({ n: loads });
  });
  const first = [get(), get()];
  for (const p of first) await assert.rejects(p, /grammar failed to load/);
  assert.equal(loads, 1, 'callers of one attempt share it');
  const a = await get();
  const b = await get();
  assert.equal(loads, 2, 'loaded again after the failure, then kept');
  assert.equal(a, b);
});
