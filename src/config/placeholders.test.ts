import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { protectExpressions } from './placeholders.ts';

describe('protectExpressions', () => {
  test('lets ${…} stand unquoted in flow maps and gives the text back after parsing', () => {
    const src = 'credentials: { api_key: ${OPENAI_API_KEY}, b: $${LIT}, c: "x${A:-d}y" }\n';
    const p = protectExpressions(src);
    assert.ok(!p.text.includes('${'));
    const doc = parse(p.text) as { credentials: Record<string, string> };
    assert.deepEqual(Object.values(doc.credentials).map(p.restore), ['${OPENAI_API_KEY}', '$${LIT}', 'x${A:-d}y']);
  });

  test('keeps line structure and leaves text without expressions alone', () => {
    const src = 'a: 1\nb: ${X}\nc: "${unterminated"\n';
    const p = protectExpressions(src);
    assert.equal(p.text.split('\n').length, src.split('\n').length);
    assert.ok(p.text.endsWith('c: "${unterminated"\n'));
    assert.equal(protectExpressions('plain: text').text, 'plain: text');
  });

  test('tokens are unique per call, so file text cannot forge one', () => {
    const a = protectExpressions('x: ${A}');
    const b = protectExpressions('x: ${A}');
    assert.notEqual(a.text, b.text);
    const forged = a.text.slice(3); // the token of call a
    assert.equal(b.restore(forged), forged);
    assert.equal(a.restore(forged), '${A}');
  });
});
