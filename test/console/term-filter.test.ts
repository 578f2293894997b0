import { test } from 'node:test';
import assert from 'node:assert/strict';
// The replay page's own module (plain JavaScript served as is to the browser, no declarations),
// loaded here without one.
const MODULE: string = '../../web/console/term-filter.js';
const { stringFilter } = (await import(MODULE)) as { stringFilter: () => (s: string) => string };

const ESC = '\x1b';
const BEL = '\x07';
const ST = `${ESC}\\`;

/** Feeds `frames` through one filter, as the page does with a session's output frames. */
function run(frames: string[]): string {
  const f = stringFilter();
  return frames.map((x) => f(x)).join('');
}

test('the replay filter drops OSC, DCS, SOS, PM and APC strings and keeps text and drawing sequences', () => {
  const input = [
    'a', `${ESC}]0;pwned-title${BEL}`, 'b', `${ESC}]52;c;cHduZWQ=${ST}`, 'c',
    `${ESC}]8;;https://evil.example/x${ST}click-me${ESC}]8;;${ST}`,
    `${ESC}Pq#0;pwned-dcs${ST}`, 'd', `${ESC}Xpwned-sos${ST}`, `${ESC}^pwned-pm${ST}`, `${ESC}_pwned-apc${ST}`, 'e',
    // C1 forms: OSC, DCS, SOS, PM, APC ended by ST (0x9c) or BEL.
    '\x9d0;pwned-c1\x9c', '\x90pwned-c1\x9c', '\x98pwned\x07', '\x9epwned\x9c', '\x9fpwned\x9c', 'f',
    `${ESC}[1;31mred${ESC}[0m`, `${ESC}7${ESC}8`,
  ].join('');
  const out = run([input]);
  assert.equal(out, `abcclick-medef${ESC}[1;31mred${ESC}[0m${ESC}7${ESC}8`);
  for (const s of ['pwned', 'cHduZWQ', 'evil.example']) assert.ok(!out.includes(s), s);
});

test('the replay filter drops a string split across frames, at every split point', () => {
  const seq = `x${ESC}]52;c;cHduZWQtY2xpcA==${ESC}\\y${ESC}]0;title${BEL}z${ESC}[2Jw`;
  for (let i = 0; i <= seq.length; i++) {
    for (let j = i; j <= seq.length; j += 3) {
      assert.equal(run([seq.slice(0, i), seq.slice(i, j), seq.slice(j)]), `xyz${ESC}[2Jw`, `split at ${i}, ${j}`);
    }
  }
  // One character per frame.
  assert.equal(run(Array.from(seq)), `xyz${ESC}[2Jw`);
});

test('an unterminated string drops everything after it, and ESC + another byte ends a string', () => {
  assert.equal(run(['ok', `${ESC}]0;never ends`, ' still title', ' more']), 'ok');
  // ESC not followed by "\" ends the string and starts a new sequence (here a CSI), which is kept.
  assert.equal(run([`${ESC}]0;t${ESC}[1mbold`]), `${ESC}[1mbold`);
});
