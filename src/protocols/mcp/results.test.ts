import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { defaultDetectors, TextMasker } from '../../masking/text-masker.ts';
import { clip, deepMask, envelope, errorResult, okResult, pendingResult } from './results.ts';

test('deepMask masks every string of a structure, keys too, and keeps other values', () => {
  const masker = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: Buffer.alloc(32) });
  const out = deepMask({ rows: [['1', 'ann@example.com', null]], 'bob@example.com': { n: 3, ok: true } }, masker);
  assert.deepEqual(out, { rows: [['1', '[EMAIL]', null]], '[EMAIL]': { n: 3, ok: true } });
});

test('results: ok carries structured content; errors are isError text with the code; pending is not an error', () => {
  assert.deepEqual(okResult({ a: 1 }, 'a=1'), { content: [{ type: 'text', text: 'a=1' }], structuredContent: { status: 'ok', a: 1 } });
  assert.deepEqual(errorResult('policy_denied', 'denied by policy: x'), { content: [{ type: 'text', text: 'policy_denied: denied by policy: x' }], isError: true });
  const p = pendingResult('rv_x', 'wait');
  assert.equal(p.isError, undefined);
  assert.deepEqual(p.structuredContent, { status: 'pending_approval', review_id: 'rv_x', message: 'wait' });
  assert.equal(clip('abcdef', 3), 'abc\n… (truncated)');
});

test('envelope: the tool fields are optional, status is required and pending_approval validates', () => {
  const s = envelope({ user: z.string() });
  assert.equal(s.safeParse({ status: 'ok', user: 'a' }).success, true);
  assert.equal(s.safeParse({ status: 'pending_approval', review_id: 'rv_1', message: 'm' }).success, true);
  assert.equal(s.safeParse({ user: 'a' }).success, false);
  assert.equal(s.safeParse({ status: 'ok', user: 1 }).success, false);
});
