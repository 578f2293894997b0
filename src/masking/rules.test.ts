import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MaskingRules, connectionMatches } from './rules.ts';
import type { MaskingRuleConfig } from '../config/types.ts';

const rules: MaskingRuleConfig[] = [
  { connections: ['*'], direction: 'both', entities: ['EMAIL', 'SECRET'], strategy: 'redact' },
  { connections: ['crm'], direction: 'response', entities: ['EMAIL', 'CREDIT_CARD'], strategy: 'partial', columns: { 'customers.ssn': 'hash', 'public.customers.email': 'partial' } },
  { connections: ['llm-*'], direction: 'request', entities: ['US_SSN'], strategy: 'redact', patterns: [{ name: 'ticket', regex: 'TICKET-[0-9]{6}' }] },
];

test('connection globs', () => {
  assert.ok(connectionMatches(['*'], 'anything'));
  assert.ok(connectionMatches(['llm-*'], 'llm-openai'));
  assert.ok(!connectionMatches(['llm-*'], 'xllm-openai'));
  assert.ok(connectionMatches(['a*c'], 'abbc'));
  assert.ok(!connectionMatches(['a*c'], 'abcd'));
  assert.ok(!connectionMatches(['crm'], 'crm2'));
});

test('first rule naming an entity sets its strategy; direction and connection filter rules', () => {
  const m = new MaskingRules(rules, Buffer.alloc(32, 7));
  const crm = m.textMasker('crm', 'response');
  assert.ok(crm);
  const out = crm.mask('mail bob@example.com card 4111 1111 1111 1111').text;
  assert.equal(out.includes('bob@example.com'), false);
  assert.match(out, /\[EMAIL\]/, 'EMAIL keeps the first rule\'s redact strategy');
  assert.equal(out.includes('4111 1111 1111 1111'), false);
  assert.match(out, /1111/, 'CREDIT_CARD uses the crm rule\'s partial strategy');
  const other = m.textMasker('other', 'response');
  assert.equal(other?.mask('4111 1111 1111 1111').text, '4111 1111 1111 1111', 'cards are masked only on crm');
  const req = m.textMasker('llm-openai', 'request');
  assert.equal(req?.mask('see TICKET-123456 and 123-45-6789').text.includes('TICKET-123456'), false);
  assert.equal(m.textMasker('llm-openai', 'request'), req, 'maskers are cached');
});

test('column rules by table.column and schema.table.column', () => {
  const m = new MaskingRules(rules, undefined);
  assert.equal(m.columnStrategy('crm', 'public', 'customers', 'ssn'), 'hash');
  assert.equal(m.columnStrategy('crm', 'public', 'customers', 'email'), 'partial');
  assert.equal(m.columnStrategy('crm', 'sales', 'customers', 'email'), undefined);
  assert.equal(m.columnStrategy('other', 'public', 'customers', 'ssn'), undefined);
  assert.ok(m.hasColumnRules('crm'));
  assert.ok(!m.hasColumnRules('other'));
});

test('no applicable content rule means no masker', () => {
  const m = new MaskingRules([{ connections: ['crm'], direction: 'response', strategy: 'redact', columns: { 't.c': 'redact' } }], undefined);
  assert.equal(m.textMasker('crm', 'response'), undefined);
  assert.equal(m.textMasker('crm', 'request'), undefined);
});

test('a rule listing SECRET masks JWTs and PEM private keys with its strategy; each can still be listed on its own', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl';
  const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM\n-----END RSA PRIVATE KEY-----';
  const m = new MaskingRules([{ connections: ['*'], direction: 'both', entities: ['SECRET'], strategy: 'hash' }], Buffer.alloc(32, 7));
  const out = m.textMasker('x', 'response')?.mask(`token ${jwt} key ${pem} end`).text ?? '';
  assert.match(out, /^token \[JWT:[0-9a-f]{12}\] key \[PRIVATE_KEY:[0-9a-f]{12}\] end$/);
  const own = new MaskingRules([
    { connections: ['*'], direction: 'both', entities: ['JWT'], strategy: 'partial' },
    { connections: ['*'], direction: 'both', entities: ['SECRET'], strategy: 'redact' },
  ], undefined);
  assert.equal(own.textMasker('x', 'response')?.mask(`${jwt} ${pem}`).text, '[JWT ****bHVl] [PRIVATE_KEY]');
  const only = new MaskingRules([{ connections: ['*'], direction: 'both', entities: ['PRIVATE_KEY'], strategy: 'redact' }], undefined);
  assert.equal(only.textMasker('x', 'response')?.mask(`${jwt} ${pem}`).text, `${jwt} [PRIVATE_KEY]`);
});
