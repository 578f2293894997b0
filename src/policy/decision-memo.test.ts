import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decider } from './decider.ts';
import { DecisionMemo } from './decision-memo.ts';
import { PolicyEngine } from './engine.ts';
import { ReviewRules } from './review-rules.ts';
import { connection, request, sqlFacts, user } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'gh-memo-'));
after(() => { rmSync(dir, { recursive: true, force: true }); });

const alice = user('alice', ['developers']);
const crm = connection('crm', 'postgres');

/** A decider over `text`, counting how often the engine really decides. */
function counted(text: string, rules: ReviewRules = new ReviewRules([])): { decider: Decider; engine: PolicyEngine; calls: () => number; write: (t: string) => void } {
  const file = `p${Math.random().toString(36).slice(2)}.cedar`;
  writeFileSync(join(dir, file), text);
  const engine = PolicyEngine.fromFiles([file], { baseDir: dir });
  let n = 0;
  const decide = engine.decide.bind(engine);
  engine.decide = (req) => { n++; return decide(req); };
  return { decider: new Decider(engine, rules), engine, calls: () => n, write: (t) => { writeFileSync(join(dir, file), t); } };
}

describe('DecisionMemo', () => {
  test('the same facts object and action are decided once; another action or facts object is decided anew', () => {
    const { decider, calls } = counted('@id("read") permit (principal in Group::"developers", action == Action::"sql.read", resource);');
    const memo = new DecisionMemo();
    const facts = sqlFacts();
    const first = memo.decide(decider, request(alice, 'sql.read', crm, { sql: facts }), facts);
    const again = memo.decide(decider, request(alice, 'sql.read', crm, { sql: facts }), facts);
    assert.deepEqual(first, { effect: 'allow', reasons: ['read'], errors: [] });
    assert.equal(again, first);
    assert.equal(calls(), 1);
    assert.equal(memo.decide(decider, request(alice, 'sql.write', crm, { sql: facts }), facts).effect, 'deny');
    const other = sqlFacts();
    memo.decide(decider, request(alice, 'sql.read', crm, { sql: other }), other);
    assert.equal(calls(), 3);
  });

  test('a policy reload is seen at once: the memoized allow becomes a deny', () => {
    const { decider, engine, write } = counted('@id("p") permit (principal in Group::"developers", action == Action::"sql.read", resource);');
    const memo = new DecisionMemo();
    const facts = sqlFacts();
    assert.equal(memo.decide(decider, request(alice, 'sql.read', crm, { sql: facts }), facts).effect, 'allow');
    write('@id("p") forbid (principal in Group::"developers", action == Action::"sql.read", resource);');
    assert.equal(engine.reload().ok, true);
    assert.deepEqual(memo.decide(decider, request(alice, 'sql.read', crm, { sql: facts }), facts), { effect: 'deny', reasons: ['p'], errors: [] });
  });

  test('nothing is memoized when a policy reads the time: each request is decided at its own time', () => {
    const { decider, calls } = counted([
      '@id("read") permit (principal in Group::"developers", action == Action::"sql.read", resource);',
      '@id("night") forbid (principal, action, resource) when { context.time.hour < 6 };',
    ].join('\n'));
    const memo = new DecisionMemo();
    const facts = sqlFacts();
    const day = Date.UTC(2026, 0, 5, 12);
    const night = Date.UTC(2026, 0, 5, 3);
    assert.equal(memo.decide(decider, request(alice, 'sql.read', crm, { sql: facts }, day), facts).effect, 'allow');
    assert.deepEqual(memo.decide(decider, request(alice, 'sql.read', crm, { sql: facts }, night), facts).reasons, ['night']);
    assert.equal(calls(), 2);
  });

  test('nothing is memoized when a review rule condition reads the time', () => {
    const rules = new ReviewRules([{ name: 'after-hours', connections: ['crm'], actions: ['sql.read'], when: 'context.time.hour < 6', kind: 'command', approvers: ['dba'], min_approvals: 1, require_justification: false }]);
    const { decider, calls } = counted('@id("read") permit (principal in Group::"developers", action == Action::"sql.read", resource);', rules);
    const memo = new DecisionMemo();
    const facts = sqlFacts();
    assert.equal(memo.decide(decider, request(alice, 'sql.read', crm, { sql: facts }, Date.UTC(2026, 0, 5, 12)), facts).effect, 'allow');
    assert.equal(memo.decide(decider, request(alice, 'sql.read', crm, { sql: facts }, Date.UTC(2026, 0, 5, 3)), facts).effect, 'review');
    assert.equal(calls(), 2);
  });

  test('a decision with errors is not kept', () => {
    const { decider, calls } = counted('@id("read") permit (principal, action == Action::"sql.read", resource) when { context has sql && context.sql.statements * 9223372036854775807 > 1 };');
    const memo = new DecisionMemo();
    const facts = sqlFacts({ statements: 2 });
    const d = memo.decide(decider, request(alice, 'sql.read', crm, { sql: facts }), facts);
    assert.equal(d.effect, 'deny');
    assert.ok(d.errors.length > 0);
    memo.decide(decider, request(alice, 'sql.read', crm, { sql: facts }), facts);
    assert.equal(calls(), 2);
  });
});
