import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { TextMasker, defaultDetectors } from '../../../masking/text-masker.ts';
import { SseParser } from '../sse/parser.ts';
import { SseMasker } from './sse-mask.ts';

const masker = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: randomBytes(32) });

/** Runs `wire` through the parser and masker, `perPush` events at a time; returns the wire out. */
function run(wire: string, perPush = 1): string {
  const p = new SseParser();
  const m = new SseMasker(masker);
  const events = [...p.push(Buffer.from(wire)), ...p.end()];
  let out = '';
  for (let i = 0; i < events.length; i += perPush) out += m.push(events.slice(i, i + perPush));
  return out + m.end();
}

function datas(wire: string): string[] {
  return [...wire.matchAll(/^data: (.*)$/gm)].map((m) => m[1]!);
}

test('SSE masker: text data decoded as text/plain, id dropped, event names masked, JSON-like garbage refused', () => {
  assert.equal(run('id: 7\nevent: tick\ndata: mailto:bob%40example.com\n\n'), 'event: tick\ndata: mailto:[EMAIL]\n\n');
  assert.equal(run('event: bob\\u0040example.com\ndata: {"a":1}\n\n'), 'event: [EMAIL]\ndata: {"a":1}\n\n');
  assert.equal(run('data: [DONE]\n\n'), 'data: [DONE]\n\n');
  for (const bad of ['{"score": NaN, "e": "bob\\u0040example.com"}', " ['bob@example.com']", '[1,']) {
    assert.throws(() => run(`data: ${bad}\n\n`), (e: { code?: string }) => e.code === 'masking_failed', bad);
  }
});

test('SSE masker: values without findings pass byte for byte, one event out per event in', () => {
  const wire = 'data: {"status":"running","n":[1,"a"]}\n\nevent: x\ndata: {"status":"running"}\n\ndata: hello\ndata: world\n\ndata: {}\n\n';
  assert.equal(run(wire), wire);
});

test('property: the values of a path, joined, are masked as the joined text (any split across events)', () => {
  const secrets = ['4111 1111 1111 1111', 'bob@example.com', '4111111111111111', 'olivia.bennett@example.com'];
  fc.assert(fc.property(
    fc.constantFrom(...secrets), fc.string({ maxLength: 12 }).map((s) => s.replace(/[^a-z ]/g, '')), fc.array(fc.nat(40), { maxLength: 5 }), fc.boolean(), fc.nat(3),
    (secret, pad, cuts, json, perPush) => {
      const whole = `${pad} ${secret} ${pad}`;
      const at = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
      const parts: string[] = []; let prev = 0;
      for (const c of [...at, whole.length]) { parts.push(whole.slice(prev, c)); prev = c; }
      const wire = parts.map((p) => `data: ${json ? JSON.stringify({ id: 'x', t: p }) : p}\n\n`).join('');
      const out = run(wire, perPush + 1);
      const vals = datas(out);
      assert.equal(vals.length, parts.length);
      const joined = vals.map((d) => json ? (JSON.parse(d) as { t: string }).t : d).join('');
      assert.equal(joined, masker.mask(whole).text);
      if (json) for (const d of vals) assert.equal((JSON.parse(d) as { id: string }).id, 'x');
    },
  ), { numRuns: 300 });
});
