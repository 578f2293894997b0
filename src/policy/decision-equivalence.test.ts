import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { PolicyEngine } from './engine.ts';
import { ReviewRules } from './review-rules.ts';
import { ACTIONS, type AccessRequest, type Facts, type Resource } from './request.ts';
import type { Principal } from '../identity/principal.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const shipped = ['data-access', 'llm', 'reviews'].map((f) => readFileSync(join(REPO, 'policies', `${f}.cedar`), 'utf8')).join('\n');

/** Policies that read what the shipped ones do not: time, tags, provider, agent entity, whole records. */
const EXTRA = `
@id("night") forbid (principal, action, resource) when { context.time.hour < 6 && context.time.weekday == 0 };
@id("epoch") forbid (principal, action == Action::"http.request", resource) when { context.time.epoch > 1736200000 };
@id("prod-tag") forbid (principal in Group::"interns", action, resource is Connection) when { resource.tags.contains("prod") };
@id("anthropic") permit (principal in Group::"ml", action == Action::"llm.invoke", resource)
  when { resource has provider && resource.provider == "anthropic" && context.via == "oidc" };
@id("agent-entity") permit (principal, action == Action::"mcp.call", resource) when { Agent::"bot" in Group::"agents" };
@id("agent-untrusted") forbid (principal, action, resource) when { Agent::"bot" in Group::"untrusted" };
@id("agent-groups") forbid (principal, action == Action::"mcp.call", resource)
  when { context has agent && context.agent.groups.contains("untrusted") && context has mcp && context.mcp.tool like "drop*" };
@id("pii") forbid (principal, action == Action::"llm.invoke", resource) when { context has llm && context.llm.pii_types.containsAny(["US_SSN"]) };
@id("http-delete") permit (principal in Group::"ops", action == Action::"http.request", resource)
  when { context has http && context.http == { method: "DELETE", path: "/x", path_lower: "/x" } };
@id("overflow") forbid (principal in Group::"dba", action == Action::"sql.write", resource)
  when { context has sql && context.sql.statements * 1000000000000 > 5 };
@id("tables") permit (principal, action == Action::"sql.read", resource) when { context has sql && context.sql has tables && context.sql.tables.contains("public.t") };
`;

const pick = <T>(xs: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);
const GROUPS = ['developers', 'dba', 'agents', 'admins', 'interns', 'ml', 'ops', 'untrusted', 'other'];
const groups = fc.uniqueArray(pick(GROUPS), { maxLength: 4 }).chain((g) => fc.shuffledSubarray(g, { minLength: g.length }));
const ids = pick(['alice', 'bob', 'bot', 'eve']);
const principal: fc.Arbitrary<Principal> = fc.oneof(
  fc.record({ kind: fc.constant('user' as const), id: ids, groups, via: pick(['api_key', 'gatehouse_jwt', 'oidc'] as const) }),
  fc.record({ kind: fc.constant('user' as const), id: ids, groups, via: fc.constant('gatehouse_jwt' as const), agent: fc.record({ id: pick(['bot', 'helper']), groups }) }),
  fc.record({ kind: fc.constant('agent' as const), id: ids, groups, via: fc.constant('api_key' as const) }),
);
const strs = (xs: readonly string[]): fc.Arbitrary<string[]> => fc.array(pick(xs), { maxLength: 3 });
const connection: fc.Arbitrary<Resource> = fc.record({
  kind: fc.constant('connection' as const), name: pick(['crm', 'openai', 'api']), type: pick(['postgres', 'llm', 'http', 'mcp']),
  tags: strs(['prod', 'pii', 'dev']),
}).chain((c) => fc.option(pick(['openai', 'anthropic']), { nil: undefined }).map((p) => (p === undefined ? c : { ...c, attrs: { provider: p } })));
const facts: fc.Arbitrary<Facts> = fc.record({
  sql: fc.record({
    kinds: strs(['select', 'update', 'insert']), tables: strs(['customers', 'public.t']), functions: strs(['now', 'pg_read_file']),
    dangerous_functions: strs(['pg_read_file']), statements: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constant(2 ** 40)),
    has_where: fc.boolean(), data_modifying_cte: fc.boolean(), do_block: fc.boolean(), copy_program: fc.boolean(),
  }),
  llm: fc.record({
    provider: pick(['openai', 'anthropic']), endpoint: pick(['/v1/chat/completions']), model: pick(['m1', 'm2']), stream: fc.boolean(),
    tools: strs(['search']), secret_types: strs(['AWS_ACCESS_KEY']), pii_types: strs(['EMAIL', 'US_SSN']), findings: fc.integer({ min: 0, max: 3 }),
  }),
  http: fc.record({ method: pick(['GET', 'DELETE']), path: pick(['/x', '/y']) }),
  mcp: fc.record({ tool: pick(['drop_table', 'search']) }),
}, { requiredKeys: [] });
const at = fc.integer({ min: Date.UTC(2025, 0, 4), max: Date.UTC(2025, 0, 8) });
const accessRequest: fc.Arbitrary<AccessRequest> = fc.record({ principal, action: pick(ACTIONS), resource: connection, facts, at })
  .map((r) => (r.action === 'admin' ? { ...r, resource: { kind: 'gateway' as const } } : r));

/** The reference: the full (unpruned) request, uncached — what `explain` evaluates. */
function reference(engine: PolicyEngine, r: AccessRequest): unknown {
  return engine.explain(r).decision;
}

describe('cached, pruned decisions equal full uncached ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-equiv-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.cedar'), shipped + EXTRA);

  test('random requests, asked twice, with repeats; then after reloads', () => {
    const engine = PolicyEngine.fromFiles(['*.cedar'], { baseDir: dir, decisionCacheEntries: 50 });
    const check = (): void => {
      fc.assert(fc.property(fc.array(accessRequest, { minLength: 1, maxLength: 8 }), (reqs) => {
        for (const r of [...reqs, ...reqs]) assert.deepEqual(engine.decide(r), reference(engine, r));
      }), { numRuns: 150 });
    };
    check();
    // The reload narrows and changes what is read: the cache must not answer for the old set.
    writeFileSync(join(dir, 'a.cedar'), `${shipped}\n@id("tables") forbid (principal, action, resource) when { context has sql && context.sql.statements > 3 };\n`);
    assert.equal(engine.reload().ok, true);
    check();
    writeFileSync(join(dir, 'a.cedar'), shipped + EXTRA);
    assert.equal(engine.reload().ok, true);
    check();
  });

  test('a decision that was cached changes after a reload', () => {
    writeFileSync(join(dir, 'b.cedar'), '@id("p") permit (principal in Group::"x", action == Action::"sql.read", resource);');
    const engine = PolicyEngine.fromFiles(['b.cedar'], { baseDir: dir });
    const r: AccessRequest = { principal: { kind: 'user', id: 'a', groups: ['x'], via: 'api_key' }, action: 'sql.read', resource: { kind: 'connection', name: 'c', type: 'postgres' }, facts: {}, at: 0 };
    assert.equal(engine.decide(r).effect, 'allow');
    assert.equal(engine.decide(r).effect, 'allow');
    writeFileSync(join(dir, 'b.cedar'), '@id("p") forbid (principal in Group::"x", action == Action::"sql.read", resource);');
    assert.equal(engine.reload().ok, true);
    assert.deepEqual(engine.decide(r), { effect: 'deny', reasons: ['p'], errors: [] });
  });

  test('errors deny and are not cached; validateRequests agrees too', () => {
    const engine = PolicyEngine.fromFiles(['a.cedar'], { baseDir: dir });
    const validating = PolicyEngine.fromFiles(['a.cedar'], { baseDir: dir, validateRequests: true });
    fc.assert(fc.property(accessRequest, (r) => {
      const d = engine.decide(r);
      assert.deepEqual(validating.decide(r), d);
      if (d.errors.length > 0) assert.equal(d.effect, 'deny');
    }), { numRuns: 150 });
    const overflow: AccessRequest = {
      principal: { kind: 'user', id: 'd', groups: ['dba'], via: 'api_key' }, action: 'sql.write',
      resource: { kind: 'connection', name: 'crm', type: 'postgres' }, at: 0,
      facts: { sql: { kinds: ['update'], tables: [], functions: [], dangerous_functions: [], statements: 2 ** 40, has_where: true, data_modifying_cte: false, do_block: false, copy_program: false } },
    };
    const first = engine.decide(overflow);
    assert.equal(first.effect, 'deny');
    assert.ok(first.errors.length > 0);
    assert.equal(Object.isFrozen(engine.decide(overflow)), false, 'an errored decision is recomputed, not served from the cache');
  });

  test('review-rule conditions: cached outcome equals uncached', () => {
    const cfg = {
      connections: ['crm', 'api'], kind: 'command' as const, approvers: ['dba'], min_approvals: 1, require_justification: false,
    };
    const configs = [
      { ...cfg, name: 'night-writes', actions: ['sql.write', 'http.request'], when: 'context.time.hour < 6 || resource.tags.contains("prod")' },
      { ...cfg, name: 'agent-reads', actions: ['sql.read'], when: 'context.agent.groups.contains("untrusted") && principal in Group::"ml"' },
      { ...cfg, name: 'big', actions: ['sql.read', 'sql.write'], when: 'context.sql.statements * 1000000000000 > 5' },
      { ...cfg, name: 'always', actions: ['sql.ddl'] },
    ];
    const cached = new ReviewRules(configs, { decisionCacheEntries: 20 });
    const fresh = new ReviewRules(configs, { decisionCacheEntries: 0 });
    fc.assert(fc.property(fc.array(accessRequest, { minLength: 1, maxLength: 6 }), (reqs) => {
      for (const r of [...reqs, ...reqs]) assert.deepEqual(cached.evaluate(r), fresh.evaluate(r));
    }), { numRuns: 150 });
  });
});
