import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decider } from './decider.ts';
import { DecisionMemo, RequestMemo, plainKey } from './decision-memo.ts';
import { PolicyEngine } from './engine.ts';
import { ReviewRules } from './review-rules.ts';
import { connection, request, sqlFacts, user } from './testing.ts';
import type { LlmFacts } from './request.ts';
import type { Principal } from '../identity/principal.ts';

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

describe('RequestMemo', () => {
  const frozen = (p: Principal): Principal => { Object.freeze(p.groups); return Object.freeze(p); };
  const llm = (over: Partial<LlmFacts> = {}): { llm: LlmFacts } => ({
    llm: { provider: 'openai', endpoint: '/v1/chat/completions', model: 'gpt-4o', stream: false, tools: [], secret_types: [], pii_types: [], findings: 0, ...over },
  });
  const openai = connection('openai', 'llm', { provider: 'openai' });
  const POLICY = [
    '@id("llm") permit (principal in Group::"developers", action == Action::"llm.invoke", resource);',
    '@id("no-secrets") forbid (principal, action == Action::"llm.invoke", resource) when { context has llm && context.llm.secret_types.contains("SECRET") };',
  ].join('\n');

  test('a frozen principal with equal facts (new objects) is decided once; other facts are decided anew', () => {
    const { decider, calls } = counted(POLICY);
    const memo = new RequestMemo();
    const bob = frozen(user('bob', ['developers']));
    assert.equal(memo.decide(decider, request(bob, 'llm.invoke', openai, llm())).effect, 'allow');
    assert.equal(memo.decide(decider, request(bob, 'llm.invoke', openai, llm())).effect, 'allow');
    assert.equal(calls(), 1);
    assert.deepEqual(memo.decide(decider, request(bob, 'llm.invoke', openai, llm({ secret_types: ['SECRET'], findings: 1 }))).reasons, ['no-secrets']);
    assert.equal(memo.decide(decider, request(bob, 'llm.invoke', connection('other', 'llm'), llm())).effect, 'allow');
    assert.equal(calls(), 3);
    // Another principal object with the same content is another entry (identity keyed).
    memo.decide(decider, request(frozen(user('bob', ['developers'])), 'llm.invoke', openai, llm()));
    assert.equal(calls(), 4);
  });

  test('a principal that is not frozen is decided every time (its groups could change)', () => {
    const { decider, calls } = counted(POLICY);
    const memo = new RequestMemo();
    const groups = ['developers'];
    const carol = { kind: 'user' as const, id: 'carol', groups, via: 'api_key' as const };
    assert.equal(memo.decide(decider, request(carol, 'llm.invoke', openai, llm())).effect, 'allow');
    groups.pop();
    assert.equal(memo.decide(decider, request(carol, 'llm.invoke', openai, llm())).effect, 'deny');
    assert.equal(calls(), 2);
  });

  test('a policy reload is seen at once; a policy reading the time turns the memo off', () => {
    const { decider, engine, write, calls } = counted(POLICY);
    const memo = new RequestMemo();
    const bob = frozen(user('bob', ['developers']));
    assert.equal(memo.decide(decider, request(bob, 'llm.invoke', openai, llm())).effect, 'allow');
    write('@id("closed") forbid (principal, action, resource);');
    assert.equal(engine.reload().ok, true);
    assert.deepEqual(memo.decide(decider, request(bob, 'llm.invoke', openai, llm())).reasons, ['closed']);
    write(`${POLICY}\n@id("night") forbid (principal, action, resource) when { context.time.hour < 6 };`);
    assert.equal(engine.reload().ok, true);
    const before = calls();
    assert.equal(memo.decide(decider, request(bob, 'llm.invoke', openai, llm(), Date.UTC(2026, 0, 5, 12))).effect, 'allow');
    assert.deepEqual(memo.decide(decider, request(bob, 'llm.invoke', openai, llm(), Date.UTC(2026, 0, 5, 3))).reasons, ['night']);
    assert.equal(calls() - before, 2);
  });

  test('bounded: the oldest decision goes first, and a long key (many client-named tools) is not kept', () => {
    const { decider, calls } = counted(POLICY);
    const memo = new RequestMemo(2);
    const bob = frozen(user('bob', ['developers']));
    for (const model of ['a', 'b', 'c']) memo.decide(decider, request(bob, 'llm.invoke', openai, llm({ model })));
    assert.equal(memo.size, 2);
    memo.decide(decider, request(bob, 'llm.invoke', openai, llm({ model: 'c' })));
    assert.equal(calls(), 3, 'the newest is still there');
    memo.decide(decider, request(bob, 'llm.invoke', openai, llm({ model: 'a' })));
    assert.equal(calls(), 4, 'the oldest was evicted');
    const many = llm({ tools: Array.from({ length: 200 }, (_, i) => `tool_${i}_${'x'.repeat(20)}`) });
    memo.decide(decider, request(bob, 'llm.invoke', openai, many));
    memo.decide(decider, request(bob, 'llm.invoke', openai, many));
    assert.equal(calls(), 6);
  });

  test('facts that are not plain data are never memoized', () => {
    const { decider, calls } = counted(POLICY);
    const memo = new RequestMemo();
    const bob = frozen(user('bob', ['developers']));
    const odd = { llm: { ...llm().llm, findings: 0.5 } };
    memo.decide(decider, request(bob, 'llm.invoke', openai, odd));
    memo.decide(decider, request(bob, 'llm.invoke', openai, odd));
    assert.equal(calls(), 2);
  });
});

describe('plainKey', () => {
  test('distinct values get distinct keys, whatever their strings hold', () => {
    const values: unknown[] = [
      'a', 'a,b', ['a', 'b'], ['a,b'], ['a"', 'b'], ['a', '"b'], { a: 'b' }, { 'a":"b': '' }, { a: ['b'] }, [1], ['1'], 1, '1', true, 'true', [], {}, [[]], [{}],
      { a: 1, b: 2 }, { a: '1,"b":2' },
    ];
    const keys = values.map((v) => plainKey(v));
    assert.ok(keys.every((k) => typeof k === 'string'));
    assert.equal(new Set(keys).size, values.length);
  });

  test('generated plain data: the key is its JSON, and values with equal keys are deeply equal', () => {
    const plain = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small', maxDepth: 4 }, fc.string({ maxLength: 6 }), fc.boolean(), fc.maxSafeInteger(),
        fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 4 }), tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(fc.property(plain, plain, (a, b) => {
      assert.equal(plainKey(a), JSON.stringify(a));
      if (plainKey(a) === plainKey(b)) assert.deepEqual(a, b);
    }), { numRuns: 400 });
  });

  test('anything that is not plain data has no key', () => {
    for (const v of [undefined, null, 1.5, Number.NaN, 2 ** 60, { a: undefined }, [undefined], new Date(0), new Map(), () => 1, Symbol('s'), 1n, Object.create({ a: 1 }) as object]) {
      assert.equal(plainKey(v), undefined, typeof v);
    }
    // eslint-disable-next-line no-sparse-arrays
    assert.equal(plainKey([1, , 2]), undefined);
  });
});
