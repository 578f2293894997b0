import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Connection } from '../../../connections/registry.ts';
import { MaskingRules } from '../../../masking/rules.ts';
import { TextMasker, defaultDetectors } from '../../../masking/text-masker.ts';
import { prepareRequest } from './prepare.ts';

const hashKey = randomBytes(32);
const scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
const openai: Connection = { name: 'openai', type: 'llm', provider: 'openai', url: 'http://127.0.0.1:1', credentials: {}, tags: [], source: 'config' };

function prepare(body: string, egress: TextMasker | undefined) {
  return prepareRequest({
    conn: openai, method: 'POST', endpoint: '/v1/chat/completions', raw: Buffer.from(body), contentType: 'application/json',
    format: 'openai-chat', scanner, egress,
  });
}

const chat = (content: string): string => JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] });

describe('prepareRequest: egress redaction', () => {
  test('a custom pattern the built-in scan does not know is still redacted when the scan finds nothing', () => {
    const rules = new MaskingRules([{ connections: ['*'], direction: 'request', strategy: 'redact', entities: ['EMAIL'], patterns: [{ name: 'employee-id', regex: '\\bEMP-\\d{6}\\b' }] }], hashKey);
    const egress = rules.textMasker('openai', 'request')!;
    assert.equal(egress.coveredBy(scanner), false);
    const p = prepare(chat('employee EMP-123456 asks'), egress);
    assert.equal(p.facts.llm?.findings, 0, 'the built-in scan finds nothing');
    assert.ok(!p.body!.toString().includes('EMP-123456'), 'the pattern is redacted all the same');
    assert.match(p.body!.toString(), /employee \[SECRET\] asks/);
  });

  test('built-in entities: a clean prompt goes out unchanged, a finding is redacted', () => {
    const egress = new MaskingRules([{ connections: ['*'], direction: 'both', strategy: 'redact', entities: ['EMAIL', 'US_SSN'] }], hashKey).textMasker('openai', 'request')!;
    assert.equal(egress.coveredBy(scanner), true);
    const clean = prepare(chat('what is 6 x 7?'), egress);
    assert.deepEqual(JSON.parse(clean.body!.toString()), JSON.parse(chat('what is 6 x 7?')));
    const dirty = prepare(chat('mail bob@example.com, ssn 078-05-1121'), egress);
    assert.equal(dirty.facts.llm?.findings, 2);
    assert.equal((JSON.parse(dirty.body!.toString()) as { messages: { content: string }[] }).messages[0]?.content, 'mail [EMAIL], ssn [US_SSN]');
  });

  test('what is sent is what was inspected: a duplicate key cannot carry an unredacted value past the scan', () => {
    const egress = new MaskingRules([{ connections: ['*'], direction: 'both', strategy: 'redact', entities: ['EMAIL'] }], hashKey).textMasker('openai', 'request')!;
    const body = '{"model":"m","messages":[{"role":"user","content":"bob@example.com"}],"messages":[{"role":"user","content":"hi"}]}';
    // Refused outright (json-members.ts), with or without egress rules: nothing of it is sent.
    assert.throws(() => prepare(body, egress), (e: Error & { code?: string }) => e.code === 'invalid_json');
    assert.throws(() => prepare(body, undefined), (e: Error & { code?: string }) => e.code === 'invalid_json');
  });
});
