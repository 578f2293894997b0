import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { after, every, manualClock, manualTimers, sleep } from './clock.ts';

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

test('sleep resolves after its time on the clock, or at once when its signal aborts', async () => {
  const c = manualTimers(0);
  let slept = false;
  const s = sleep(c, 1_000).then(() => { slept = true; });
  c.advance(999);
  await Promise.resolve();
  assert.equal(slept, false);
  c.advance(1);
  await s;
  assert.equal(slept, true);
  const ac = new AbortController();
  const aborted = sleep(c, 60_000, ac.signal);
  ac.abort();
  await aborted;
  assert.equal(c.pending(), 0, 'an aborted sleep cancels its timer');
  await sleep(c, 60_000, ac.signal); // already aborted: at once
  assert.equal(c.pending(), 0);
});

test('keepAlive: a real timer holds the process open until it fires; by default it does not', () => {
  const script = `import { after } from ${JSON.stringify(new URL('./clock.ts', import.meta.url).href)};
    after({}, 200, () => { process.stdout.write('kept'); }, { keepAlive: true });
    after({}, 200, () => { process.stdout.write('unref-fired'); });`;
  const out = execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.match(out, /kept/);
  const unrefOnly = `import { after } from ${JSON.stringify(new URL('./clock.ts', import.meta.url).href)};
    after({}, 200, () => { process.stdout.write('unref-fired'); });`;
  assert.equal(execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', unrefOnly], { encoding: 'utf8' }), '');
});
