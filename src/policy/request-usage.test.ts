import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeUsage, type ContextUse } from './request-usage.ts';

function paths(use: ContextUse, prefix = ''): string[] {
  const own = prefix === '' ? [] : [`${prefix}${use.full ? '*' : ''}`];
  return [...own, ...[...use.children].flatMap(([k, c]) => paths(c, prefix === '' ? k : `${prefix}.${k}`))];
}

describe('analyzeUsage', () => {
  test('context paths: `.` reads the value, `has` only presence; multi-attribute has', () => {
    const u = analyzeUsage([
      'forbid (principal, action, resource) when { context has sql && context.sql.do_block };',
      'permit (principal, action, resource) when { context has llm.findings && context.time.hour < 6 };',
    ]);
    assert.deepEqual(paths(u.context).sort(), ['llm', 'llm.findings', 'sql', 'sql.do_block*', 'time', 'time.hour*']);
    assert.equal(u.context.full, false);
  });

  test('a record read whole, and context itself, are marked full', () => {
    const rec = analyzeUsage(['permit (principal, action, resource) when { context has http && context.http == { method: "GET", path: "/" } };']);
    assert.deepEqual(paths(rec.context), ['http*']);
    const whole = analyzeUsage(['permit (principal, action, resource) when { context == {} };']);
    assert.equal(whole.context.full, true);
  });

  test('entity attribute names and entity literals (scope and conditions)', () => {
    const u = analyzeUsage([
      'permit (principal in Group::"dba", action in [Action::"sql.read"], resource) when { resource.type == "postgres" && Agent::"bot" in Group::"agents" };',
      'forbid (principal, action, resource) when { resource has provider };',
    ]);
    assert.deepEqual([...u.entityAttrs].sort(), ['provider', 'type']);
    assert.deepEqual([...(u.literals.get('Group') ?? [])].sort(), ['agents', 'dba']);
    assert.deepEqual([...(u.literals.get('Agent') ?? [])], ['bot']);
    assert.deepEqual([...(u.literals.get('Action') ?? [])], ['sql.read']);
  });

  test('throws on a policy that does not parse', () => {
    assert.throws(() => analyzeUsage(['permit (principal, action, resource) when { ;']), /cannot analyze policy/);
  });
});
