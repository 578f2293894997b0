import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TextMasker } from '../../../masking/text-masker.ts';
import { defaultDetectors } from '../../../masking/detectors/index.ts';
import type { SseEvent } from '../sse/parser.ts';
import { streamTransform, type WireFormat } from './index.ts';

const masker = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: Buffer.alloc(32, 7) });
const DELTA = fc.string({ unit: fc.constantFrom(...'ab 1234-@.x"\\\n\u0001é🙂'.split(''), 'bob@example.com', '4111 1111 1111 1111'), maxLength: 12 });

/** The masked text of a stream: the concatenation of every text field the client would read. */
function texts(format: WireFormat, events: SseEvent[]): string {
  const t = streamTransform(format, masker, () => undefined);
  let out = '';
  const read = (e: SseEvent): void => {
    if (e.data === '[DONE]') return;
    const d = JSON.parse(e.data) as { choices?: { delta?: { content?: string } }[]; delta?: { text?: string } };
    out += d.choices?.[0]?.delta?.content ?? d.delta?.text ?? '';
  };
  for (const ev of events) t.event(ev).forEach(read);
  t.end().forEach(read);
  return out;
}

describe('raw-text fast paths give the same text as the parsing path', () => {
  test('openai chat: plain content chunks vs the same chunks with an extra member', () => {
    fc.assert(fc.property(fc.array(DELTA, { maxLength: 12 }), (deltas) => {
      const env = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
      const fast = deltas.map((d) => ({ data: JSON.stringify({ ...env, choices: [{ index: 0, delta: { content: d }, finish_reason: null }] }) }));
      const slow = deltas.map((d) => ({ data: JSON.stringify({ ...env, choices: [{ index: 0, delta: { content: d }, finish_reason: null }], usage: null }) }));
      const done = { data: '[DONE]' };
      const a = texts('openai-chat', [...fast, done]);
      assert.equal(a, texts('openai-chat', [...slow, done]));
      assert.equal(a, masker.mask(deltas.join('')).text);
    }), { numRuns: 300 });
  });

  test('anthropic: text deltas vs the same deltas with their members reordered', () => {
    fc.assert(fc.property(fc.array(DELTA, { maxLength: 12 }), (deltas) => {
      const fast = deltas.map((d) => ({ event: 'content_block_delta', data: JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: d } }) }));
      const slow = deltas.map((d) => ({ event: 'content_block_delta', data: JSON.stringify({ index: 0, type: 'content_block_delta', delta: { text: d, type: 'text_delta' } }) }));
      const stop = { event: 'message_stop', data: '{"type":"message_stop"}' };
      const a = texts('anthropic', [...fast, stop]);
      assert.equal(a, texts('anthropic', [...slow, stop]));
      assert.equal(a, masker.mask(deltas.join('')).text);
    }), { numRuns: 300 });
  });

  test('a chunk with anything unexpected is not passed through by the fast path', () => {
    const t = streamTransform('openai-chat', masker, () => undefined);
    const ev = { data: '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi "},"logprobs":{"content":[{"token":"bob@example.com"}]},"finish_reason":null}]}' };
    const out = t.event(ev).map((e) => e.data).join('');
    assert.equal(out.includes('bob@example.com'), false);
  });
});
