import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Decider } from './decider.ts';
import { PolicyEngine, PolicyLoadError } from './engine.ts';
import { PolicyEvaluationError, ReviewRules, type ReviewRuleConfig } from './review-rules.ts';
import { agent, connection, request, sqlFacts, user } from './testing.ts';

function rule(over: Partial<ReviewRuleConfig> & { name: string }): ReviewRuleConfig {
  return {
    connections: ['crm'], actions: ['sql.write'], kind: 'command', approvers: ['dba'], min_approvals: 1,
    require_justification: false, ...over,
  };
}

const dba = user('dana', ['dba']);
const crm = connection('crm');
const update = (has_where: boolean) => ({ sql: sqlFacts({ kinds: ['update'], has_where }) });

describe('ReviewRules', () => {
  test('a `when` condition matches only when it is true (guards added for optional context)', () => {
    const rules = ReviewRules.compile([rule({ name: 'no-where', when: 'context.sql.has_where == false' })]);
    assert.equal(rules.match(request(dba, 'sql.write', crm, update(false)))?.name, 'no-where');
    assert.equal(rules.match(request(dba, 'sql.write', crm, update(true))), undefined);
    assert.equal(rules.match(request(dba, 'sql.write', crm)), undefined, 'no SQL facts: condition does not hold');
  });

  test('connections (globs) and actions filter; the first matching rule wins', () => {
    const rules = ReviewRules.compile([
      rule({ name: 'big', connections: ['prod-*'], actions: ['sql.write', 'sql.ddl'], when: 'context.sql.statements > 1' }),
      rule({ name: 'prod-all', connections: ['prod-*'], actions: ['sql.write', 'sql.ddl'], kind: 'jit', duration_ms: 15 * 60_000 }),
      rule({ name: 'unreached', connections: ['*'], actions: ['sql.write'] }),
    ]);
    const prod = connection('prod-db');
    assert.equal(rules.match(request(dba, 'sql.ddl', prod, { sql: sqlFacts({ statements: 3 }) }))?.name, 'big');
    assert.equal(rules.match(request(dba, 'sql.ddl', prod, { sql: sqlFacts() }))?.name, 'prod-all');
    assert.equal(rules.match(request(dba, 'sql.write', connection('prodx')))?.name, 'unreached');
    assert.equal(rules.match(request(dba, 'sql.read', prod, { sql: sqlFacts() })), undefined);
    assert.equal(rules.match(request(user('admin', ['admins']), 'admin', { kind: 'gateway' })), undefined);
  });

  test('conditions see principal, resource and the acting agent', () => {
    const rules = ReviewRules.compile([rule({ name: 'agent-writes', when: 'context.agent.groups.contains("agents") && resource.type == "postgres"' })]);
    assert.equal(rules.match(request(user('dana', ['dba'], { id: 'bot', groups: ['agents'] }), 'sql.write', crm))?.name, 'agent-writes');
    assert.equal(rules.match(request(dba, 'sql.write', crm)), undefined);
  });

  test('a bad condition is a load error naming the rule, with a position in the condition', () => {
    const err = catchError(() => ReviewRules.compile([rule({ name: 'typo', when: 'context.sql.has_wher == false' })]));
    assert.ok(err instanceof PolicyLoadError);
    assert.equal(err.errors[0]?.file, 'review rule "typo"');
    assert.equal(err.errors[0]?.line, 1);
    assert.equal(err.errors[0]?.column, 1);
    const syntax = catchError(() => ReviewRules.compile([rule({ name: 'syn', when: 'context.sql.has_where ==' })]));
    assert.ok(syntax instanceof PolicyLoadError);
    assert.equal(syntax.errors[0]?.file, 'review rule "syn"');
    const escape = catchError(() => ReviewRules.compile([rule({ name: 'inj', when: 'true }; forbid (principal, action, resource) when { true' })]));
    assert.ok(escape instanceof PolicyLoadError);
  });

  test('shape errors: duplicate names, unknown or unreviewable actions', () => {
    for (const bad of [
      [rule({ name: 'a' }), rule({ name: 'a' })],
      [rule({ name: 'b', actions: ['sql.delete'] })],
      [rule({ name: 'c', actions: ['admin'] })],
      [rule({ name: 'd', min_approvals: 0 })],
      [rule({ name: 'e', duration_ms: Number.NaN })],
      [rule({ name: 'f', duration_ms: -1 })],
    ]) {
      assert.throws(() => ReviewRules.compile(bad), PolicyLoadError);
    }
  });

  test('an evaluation error in a condition is reported, and match throws', () => {
    const rules = ReviewRules.compile([rule({ name: 'ovf', when: 'context.time.epoch * 9223372036854775807 > 0' })]);
    const m = rules.evaluate(request(dba, 'sql.write', crm));
    assert.equal(m.rule, undefined);
    assert.equal(m.errors.length, 1);
    assert.throws(() => rules.match(request(dba, 'sql.write', crm)), PolicyEvaluationError);
  });
});

describe('Decider', () => {
  const engine = PolicyEngine.fromSources([{
    file: 'p.cedar',
    text: '@id("dba-write") permit (principal in Group::"dba", action in [Action::"sql.read", Action::"sql.write"], resource);\n'
      + '@id("no-agents") forbid (principal is Agent, action == Action::"sql.write", resource);\n',
  }]);
  const rules = ReviewRules.compile([
    rule({ name: 'crm-writes', when: 'context.sql.has_where == false' }),
    rule({ name: 'broken', actions: ['sql.read'], when: 'context.time.epoch * 9223372036854775807 > 0' }),
  ]);
  const decider = new Decider(engine, rules);

  test('an allowed request matching a rule goes to review', () => {
    assert.deepEqual(decider.decide(request(dba, 'sql.write', crm, update(false))), {
      effect: 'review', reasons: ['dba-write', 'review:crm-writes'], errors: [], reviewRule: 'crm-writes',
    });
    assert.deepEqual(decider.decide(request(dba, 'sql.write', crm, update(true))), { effect: 'allow', reasons: ['dba-write'], errors: [] });
  });

  test('a forbidden or default-denied request is never sent to review', () => {
    const bot = agent('bot', ['dba']);
    assert.deepEqual(decider.decide(request(bot, 'sql.write', crm, update(false))), { effect: 'deny', reasons: ['no-agents'], errors: [] });
    assert.deepEqual(decider.decide(request(user('eve'), 'sql.write', crm, update(false))).reasons, ['default-deny']);
  });

  test('an error in a rule condition denies (fail closed)', () => {
    const d = decider.decide(request(dba, 'sql.read', crm, { sql: sqlFacts() }));
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.reasons, ['policy-error']);
    assert.equal(d.errors.length, 1);
  });
});

function catchError(f: () => unknown): unknown {
  try { f(); } catch (e) { return e; }
  return undefined;
}
