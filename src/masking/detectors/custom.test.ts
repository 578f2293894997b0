import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isGatehouseError } from '../../kernel/errors.ts';
import { assertLocal } from './conformance.case.ts';
import { matched } from './corpus.case.ts';
import { customDetector } from './custom.ts';

describe('customDetector (RE2)', () => {
  const emp = customDetector({ pattern: '\\bEMP-\\d{6}\\b', entity: 'SECRET', maxLength: 10 });

  test('finds matches with UTF-16 offsets, also after astral characters', () => {
    const text = 'héllo 😀 EMP-123456 and EMP-654321, not EMP-1234567 or xEMP-123456';
    assert.deepEqual(matched(emp, text), ['EMP-123456', 'EMP-654321']);
    assert.equal(emp.find(text)[0]?.kind, 'custom');
  });

  test('works across RE2 blocks of a long text', () => {
    const text = `${'lorem ipsum '.repeat(500)}EMP-000001 ${'😀 '.repeat(700)}EMP-000002`;
    assert.deepEqual(matched(emp, text), ['EMP-000001', 'EMP-000002']);
  });

  test('reports every start position; longer matches are capped at maxLength', () => {
    const six = customDetector({ pattern: '\\d{6}', entity: 'PHONE', maxLength: 6 });
    assert.deepEqual(matched(six, '1234567'), ['123456', '234567']);
    const greedy = customDetector({ pattern: 'x+', entity: 'EMAIL', maxLength: 3 });
    assert.deepEqual(matched(greedy, 'xxxxx').slice(0, 2), ['xxx', 'xxx']);
    assert.equal(greedy.find('xxxxx')[0]?.kind, undefined);
  });

  test('keeps the locality contract', () => {
    assertLocal(emp, 60);
    assertLocal(customDetector({ pattern: '[0-9]{3}-[0-9]{4}', entity: 'PHONE', maxLength: 8 }), 60);
  });

  test('rejects bad patterns and limits with config_invalid (RE2 refuses back-references)', () => {
    for (const bad of [
      { pattern: '(a', entity: 'SECRET' as const, maxLength: 5 },
      { pattern: '(a)\\1', entity: 'SECRET' as const, maxLength: 5 },
      { pattern: '(?<=a)b', entity: 'SECRET' as const, maxLength: 5 },
      { pattern: 'a', entity: 'SECRET' as const, maxLength: 0 },
      { pattern: '', entity: 'SECRET' as const, maxLength: 5 },
    ]) {
      assert.throws(() => customDetector(bad), (e: unknown) => isGatehouseError(e, 'config_invalid'), bad.pattern);
    }
  });

  test('catastrophic-backtracking patterns run in linear time', () => {
    const evil = customDetector({ pattern: '(a+)+$', entity: 'SECRET', maxLength: 64 });
    // A backtracking engine needs ~2^5000 steps here and would never return; RE2 returns (a few
    // seconds on an idle 2-core machine). The bound is generous so a loaded machine cannot make
    // it flaky: what it tells apart is "returns" from "never returns".
    const t0 = performance.now();
    evil.find('a'.repeat(5_000) + '!');
    assert.ok(performance.now() - t0 < 60_000);
  });
});
