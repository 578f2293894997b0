import assert from 'node:assert/strict';
import { test } from 'node:test';
import { after, every, manualClock, manualTimers } from './clock.ts';

test('manual timers run only when time is advanced past them, in due order, at their time', () => {
  const c = manualTimers(1_000);
  const ran: string[] = [];
  after(c, 500, () => { ran.push(`b@${c.now()}`); });
  after(c, 100, () => { ran.push(`a@${c.now()}`); });
  const cancel = after(c, 200, () => { ran.push('cancelled'); });
  cancel();
  cancel(); // twice is harmless
  assert.equal(c.pending(), 2);
  c.advance(99);
  assert.deepEqual(ran, []);
  c.advance(401);
  assert.deepEqual(ran, ['a@1100', 'b@1500']);
  assert.equal(c.now(), 1_500);
  assert.equal(c.pending(), 0);
});

test('a timer set by a running timer runs in the same advance when it falls due', () => {
  const c = manualTimers(0);
  const ran: number[] = [];
  after(c, 10, () => { ran.push(c.now()); after(c, 10, () => { ran.push(c.now()); }); });
  c.advance(25);
  assert.deepEqual(ran, [10, 20]);
});

test('every repeats on the clock until stopped', () => {
  const c = manualTimers(0);
  let n = 0;
  const stop = every(c, 1_000, () => { n++; });
  c.advance(3_500);
  assert.equal(n, 3);
  stop();
  c.advance(10_000);
  assert.equal(n, 3);
  assert.equal(c.pending(), 0);
});

test('a clock without timers uses the process\'s real timers (cancel works)', async () => {
  const c = manualClock(0);
  let fired = false;
  let cancelledFired = false;
  const cancel = after(c, 1, () => { cancelledFired = true; });
  cancel();
  await new Promise<void>((resolve) => { after(c, 1, () => { fired = true; resolve(); }); });
  assert.equal(fired, true);
  assert.equal(cancelledFired, false);
});
