import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareInput, stableDetail } from './record.ts';

test('a stable detail prepares exactly as the same detail given fresh, and is frozen', () => {
  const input = { kind: 'policy.decision', user: 'alice', outcome: 'allow' };
  const at = Date.UTC(2026, 10, 24);
  const fresh = prepareInput({ ...input, detail: { via: 'api_key', reasons: ['read', 'b'], n: { z: 1, a: [2] } } }, at);
  const detail = stableDetail({ via: 'api_key', reasons: ['read', 'b'], n: { z: 1, a: [2] } });
  const first = prepareInput({ ...input, detail }, at);
  const second = prepareInput({ ...input, detail }, at);
  assert.deepEqual(first, fresh);
  assert.deepEqual(second, fresh);
  // Other labels with the same detail: prepared anew, as a fresh detail would be.
  const bob = prepareInput({ ...input, user: 'bob', detail }, at + 1);
  assert.deepEqual(bob, prepareInput({ ...input, user: 'bob', detail: { via: 'api_key', reasons: ['read', 'b'], n: { z: 1, a: [2] } } }, at + 1));
  assert.deepEqual(prepareInput({ ...input, detail }, at + 2), prepareInput({ ...input, detail: { ...fresh.detail } }, at + 2));
  assert.throws(() => prepareInput({ ...input, user: 'x'.repeat(5000), detail }, at), /audit user/);
  assert.equal(Object.isFrozen(detail.reasons), true);
  assert.throws(() => { detail.reasons.push('x'); }, TypeError);
  assert.throws(() => stableDetail({ bad: 1n }), TypeError); // not JSON: refused when made, not when recorded
});
