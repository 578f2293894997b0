import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MaskingRules } from '../../masking/rules.ts';
import { inspectPrompt, redactDocument } from './inspect.ts';

// Review: the walk's clean-string cache keys a labeled scan as `${label}\u0000${s}` and an
// unlabeled one as `s`, so an unlabeled string "ssn\u0000078051120" found clean makes the
// labeled value ("ssn": "078051120", found only with its key as context) count as clean too:
// it leaves unmasked and uncounted. The cache is per masker, so the poison also outlives the request.

const masker = (): ReturnType<MaskingRules['textMasker']> & object =>
  new MaskingRules([{ connections: ['*'], direction: 'both', strategy: 'redact', entities: ['EMAIL', 'US_SSN', 'PHONE', 'CREDIT_CARD', 'SECRET'] }], randomBytes(32)).textMasker('openai', 'request')!;

test('a value found only by its key context is masked even after an unlabeled string equal to "key\\0value"', () => {
  const body = '{"messages":[{"role":"user","content":"ssn\\u0000078051120"}],"ssn":"078051120"}';
  assert.deepEqual(redactDocument(JSON.parse('{"ssn":"078051120"}'), masker()), { ssn: '[US_SSN]' }, 'baseline: masked by its key');
  const out = JSON.stringify(redactDocument(JSON.parse(body), masker()));
  assert.ok(!out.includes('"ssn":"078051120"'), `the SSN leaves unmasked: ${out}`);
});

test('the policy findings count it too (a prompt with PII is not reported clean)', () => {
  const body = '{"messages":[{"role":"user","content":"ssn\\u0000078051120"}],"ssn":"078051120"}';
  assert.ok(inspectPrompt(JSON.parse('{"ssn":"078051120"}'), masker()).findings > 0, 'baseline');
  assert.ok(inspectPrompt(JSON.parse(body), masker()).findings > 0, 'the US_SSN under "ssn" is not counted');
});

test('the poison outlives the request: a later document of another client is not masked', () => {
  const m = masker();
  redactDocument(JSON.parse('["ssn\\u0000078051120"]'), m);
  assert.deepEqual(redactDocument(JSON.parse('{"ssn":"078051120"}'), m), { ssn: '[US_SSN]' });
});

test('any entity: a key "bob@example.com" with value "x" (clean once the key is its label) makes a later "bob@example.com\\0x" clean', () => {
  const m = masker();
  // Request 1 (denied or not: the walk runs at inspection) only poisons the per-masker cache.
  redactDocument(JSON.parse('{"bob@example.com":"x"}'), m);
  // Request 2: the address travels in a message, reported clean to policy and sent unmasked.
  const doc = '{"messages":[{"role":"user","content":"bob@example.com\\u0000x"}]}';
  assert.ok(inspectPrompt(JSON.parse(doc), m).findings > 0, 'the EMAIL is not counted for policy');
  const out = JSON.stringify(redactDocument(JSON.parse(doc), m));
  assert.ok(!out.includes('bob@example.com'), `the EMAIL leaves unmasked: ${out}`);
});
