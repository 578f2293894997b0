import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextMasker, defaultDetectors } from '../../masking/text-masker.ts';
import { inspectPrompt, redactPrompt } from './inspect.ts';

const scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: Buffer.alloc(32, 1) });
const AWS = 'AKIA' + 'Q3EGRVH2LXJ7KZ4N';

test('finds entities in a system message, a tool call argument and a tool result, not only the last message', () => {
  const body = {
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: `deploy with ${AWS}` },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"email":"bob@example.com"}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'SSN 078-05-1121 on file' }] },
      { role: 'user', content: 'summarize' },
    ],
  };
  const f = inspectPrompt(body, scanner);
  assert.deepEqual(f.secret_types, ['SECRET']);
  assert.ok(f.pii_types.includes('EMAIL'));
  assert.ok(f.findings >= 3);
});

test('anthropic system blocks and tool_use input are scanned; a base64 "image" that is text is decoded and scanned', () => {
  // Issue 16: base64 sources used to be skipped, so text declared as image/png passed unseen.
  const body = {
    system: [{ type: 'text', text: 'contact alice@example.org' }],
    messages: [
      { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'x', input: { card: '4111 1111 1111 1111' } }] },
      { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'QUtJQVEzRUdSVkgyTFhKN0taNE4=' } }] },
    ],
  };
  const f = inspectPrompt(body, scanner);
  assert.deepEqual(f.pii_types, ['CREDIT_CARD', 'EMAIL']);
  assert.deepEqual(f.secret_types, ['SECRET']);
  assert.equal(f.attachments, 0);
});

test('a binary base64 image is an attachment (media type, size), not text', () => {
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(40, 0xfe)]);
  const body = { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png.toString('base64') } }] }] };
  const f = inspectPrompt(body, scanner);
  assert.deepEqual([f.attachments, f.attachment_types, f.attachment_bytes, f.findings], [1, ['image/png'], 48, 0]);
});

test('redactPrompt rewrites every string in place and leaves structure alone', () => {
  const body = { model: 'm', input: [{ role: 'user', content: [{ type: 'input_text', text: 'mail bob@example.com' }] }], instructions: 'call 4111111111111111' };
  const n = redactPrompt(body, scanner);
  assert.equal(n, 2);
  const text = JSON.stringify(body);
  assert.ok(!text.includes('bob@example.com') && !text.includes('4111111111111111'));
  assert.equal(body.model, 'm');
});

test('nesting deeper than the bound is refused', () => {
  let deep: unknown = 'x';
  for (let i = 0; i < 100; i++) deep = [deep];
  assert.throws(() => inspectPrompt(deep, scanner), RangeError);
});
