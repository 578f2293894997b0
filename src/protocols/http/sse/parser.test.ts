import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SseParser, type SseEvent } from './parser.ts';
import { formatSse } from './serializer.ts';

function parseAll(bytes: Buffer, cuts: number[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  let pos = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    out.push(...p.push(bytes.subarray(pos, c)));
    pos = c;
  }
  out.push(...p.push(bytes.subarray(pos)), ...p.end());
  return out;
}

test('parses events with event names, multi-line data, comments and CRLF', () => {
  const wire = Buffer.from(': comment\r\nevent: message_start\r\ndata: {"a":\r\ndata: 1}\r\n\r\ndata: [DONE]\n\n');
  assert.deepEqual(parseAll(wire, []), [{ event: 'message_start', data: '{"a":\n1}' }, { data: '[DONE]' }]);
});

test('an incomplete trailing event is not emitted', () => {
  assert.deepEqual(parseAll(Buffer.from('data: x\n\ndata: half'), []), [{ data: 'x' }]);
});

test('bounded: a huge event throws', () => {
  const p = new SseParser({ maxEvent: 100 });
  assert.throws(() => p.push(Buffer.from('data: ' + 'x'.repeat(200))), /size limit/);
});

test('property: any split of serialized events (even inside UTF-8 and CRLF) parses back', () => {
  const evArb = fc.record({
    event: fc.option(fc.constantFrom('message_start', 'content_block_delta', 'ping'), { nil: undefined }),
    data: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  });
  fc.assert(fc.property(fc.array(evArb, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 20 }), fc.boolean(), (evs, rawCuts, crlf) => {
    let text = evs.map((e) => formatSse(e.event === undefined ? { data: e.data } : { event: e.event, data: e.data })).join('');
    if (crlf) text = text.replace(/\n/g, '\r\n');
    const bytes = Buffer.from(text);
    const cuts = rawCuts.map((c) => c % (bytes.length + 1));
    const expected = evs.map((e) => ({ ...(e.event === undefined ? {} : { event: e.event }), data: e.data.replace(/\r\n|\r/g, '\n') }));
    assert.deepEqual(parseAll(bytes, cuts), expected);
  }), { numRuns: 300 });
});
