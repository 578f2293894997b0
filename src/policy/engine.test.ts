import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PolicyEngine, PolicyLoadError, toDecision } from './engine.ts';
import { agent, connection, llmFacts, request, sqlFacts, user } from './testing.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const crm = connection('crm', 'postgres');
const openai = connection('openai', 'llm', { provider: 'openai' });
const gateway = { kind: 'gateway' } as const;

describe('PolicyEngine with the shipped policies', () => {
  const engine = PolicyEngine.fromFiles(['policies/*.cedar'], { baseDir: REPO });

  test('allow names the permit policy; files and builtin are listed', () => {
    const d = engine.decide(request(user('alice', ['developers']), 'sql.read', crm, { sql: sqlFacts() }));
    assert.deepEqual(d, { effect: 'allow', reasons: ['developers-read'], errors: [] });
    const info = engine.policies().find((p) => p.id === 'developers-read');
    assert.equal(info?.file, 'policies/data-access.cedar');
    assert.equal(engine.policies()[0]?.id, 'builtin-admins');
  });

  test('default deny when no permit applies', () => {
    const d = engine.decide(request(user('alice', ['developers']), 'sql.write', crm, { sql: sqlFacts({ kinds: ['update'] }) }));
    assert.deepEqual(d, { effect: 'deny', reasons: ['default-deny'], errors: [] });
    assert.deepEqual(engine.decide(request(user('bob'), 'sql.read', crm, { sql: sqlFacts() })).reasons, ['default-deny']);
  });

  test('forbid overrides permit and is named', () => {
    const d = engine.decide(request(user('alice', ['developers']), 'sql.read', crm, { sql: sqlFacts({ dangerous_functions: ['pg_read_file'] }) }));
    assert.deepEqual(d, { effect: 'deny', reasons: ['block-dangerous-sql'], errors: [] });
    const secret = engine.decide(request(user('alice', ['developers']), 'llm.invoke', openai, { llm: llmFacts({ secret_types: ['AWS_ACCESS_KEY'], findings: 1 }) }));
    assert.deepEqual(secret.reasons, ['no-secrets-to-llm']);
    assert.equal(engine.decide(request(user('alice', ['developers']), 'llm.invoke', openai, { llm: llmFacts() })).effect, 'allow');
  });

  test('group membership comes from entity parents', () => {
    const write = request(user('dana', ['dba']), 'sql.write', crm, { sql: sqlFacts({ kinds: ['update'] }) });
    assert.deepEqual(engine.decide(write).reasons, ['dba-write']);
    assert.equal(engine.decide({ ...write, principal: user('dana', ['other']) }).effect, 'deny');
  });

  test('an agent acting for a user is seen by policies through context.agent', () => {
    const write = { sql: sqlFacts({ kinds: ['update'] }) };
    const direct = engine.decide(request(user('dana', ['dba']), 'sql.write', crm, write));
    assert.equal(direct.effect, 'allow');
    const viaAgent = engine.decide(request(user('dana', ['dba'], { id: 'bot', groups: ['agents'] }), 'sql.write', crm, write));
    assert.deepEqual(viaAgent, { effect: 'deny', reasons: ['agents-readonly'], errors: [] });
    const read = engine.decide(request(user('dana', ['dba'], { id: 'bot', groups: ['agents'] }), 'sql.read', crm, { sql: sqlFacts() }));
    assert.equal(read.effect, 'allow');
    assert.deepEqual(engine.decide(request(agent('bot', ['agents']), 'sql.read', crm, { sql: sqlFacts() })).reasons, ['agents-read']);
  });

  test('built-in policy permits admins the admin action only', () => {
    const admin = user('admin', ['admins']);
    assert.deepEqual(engine.decide(request(admin, 'admin', gateway)), { effect: 'allow', reasons: ['builtin-admins'], errors: [] });
    assert.deepEqual(engine.decide(request(admin, 'review.approve', crm)).reasons, ['default-deny']);
    assert.deepEqual(engine.decide(request(admin, 'sql.read', crm, { sql: sqlFacts() })).reasons, ['default-deny']);
    assert.equal(engine.decide(request(user('alice', ['developers']), 'admin', gateway)).effect, 'deny');
  });

  test('explain returns the determining policies and the Cedar request', () => {
    const e = engine.explain(request(user('alice', ['developers'], { id: 'bot', groups: ['agents'] }), 'sql.read', crm, { sql: sqlFacts() }));
    assert.equal(e.decision.effect, 'allow');
    assert.deepEqual(e.policies.map((p) => [p.id, p.file]), [['developers-read', 'policies/data-access.cedar']]);
    assert.match(e.policies[0]?.text ?? '', /^@id\("developers-read"\)/);
    assert.deepEqual(e.request?.principal, { type: 'User', id: 'alice' });
    assert.deepEqual(e.request?.context.agent, { id: 'bot', groups: ['agents'] });
    assert.deepEqual(e.request?.context.time, { hour: 10, weekday: 1, epoch: 1736157600 });
    assert.deepEqual(engine.explain(request(user('x'), 'sql.read', crm)).policies, []);
  });

  test('a request whose action does not fit its resource is denied as policy-error', () => {
    const d = engine.decide(request(user('admin', ['admins']), 'admin', crm));
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.reasons, ['policy-error']);
    assert.equal(d.errors.length, 1);
  });
});

describe('PolicyEngine fail-closed and options', () => {
  test('an evaluation error in any policy turns an allow into a deny', () => {
    const engine = PolicyEngine.fromSources([{
      file: 'p.cedar',
      text: '@id("ok") permit (principal, action == Action::"sql.read", resource);\n'
        + '@id("overflow") forbid (principal, action, resource) when { context.time.epoch * 9223372036854775807 > 0 };\n',
    }]);
    const d = engine.decide(request(user('alice'), 'sql.read', crm));
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.reasons, ['policy-error']);
    assert.match(d.errors[0] ?? '', /^overflow: .*overflow/);
  });

  test('toDecision keeps explicit forbids as reasons when errors are present', () => {
    assert.deepEqual(toDecision({ ok: true, allow: false, reasons: ['f'], errors: ['p: e'], errored: ['p'] }), { effect: 'deny', reasons: ['f'], errors: ['p: e'] });
    assert.deepEqual(toDecision({ ok: false, errors: ['boom'] }), { effect: 'deny', reasons: ['policy-error'], errors: ['boom'] });
  });

  test('admin group comes from the option', () => {
    const engine = PolicyEngine.fromSources([], { adminGroup: 'ops' });
    assert.equal(engine.decide(request(user('o', ['ops']), 'admin', gateway)).effect, 'allow');
    assert.equal(engine.decide(request(user('a', ['admins']), 'admin', gateway)).effect, 'deny');
    assert.throws(() => PolicyEngine.fromSources([], { adminGroup: 'x"y' }), PolicyLoadError);
  });

  test('requests built from every fact family validate against the schema', () => {
    const engine = PolicyEngine.fromSources([{ file: 'all.cedar', text: '@id("all") permit (principal, action, resource);' }], { validateRequests: true });
    const onBehalf = user('alice', ['developers'], { id: 'bot', groups: ['agents'] });
    const cases = [
      request(onBehalf, 'sql.write', crm, { sql: sqlFacts({ kinds: ['update'], functions: ['now'] }) }),
      request(agent('bot', ['agents']), 'llm.invoke', openai, { llm: llmFacts({ tools: ['search'], pii_types: ['EMAIL'], findings: 1 }) }),
      request(onBehalf, 'http.request', connection('api', 'http', { tags: ['prod'] }), { http: { method: 'GET', path: '/v1/items' } }),
      request(onBehalf, 'mcp.call', connection('tools', 'mcp'), { mcp: { tool: 'query' } }),
      request(onBehalf, 'mcp.call', gateway, { mcp: { tool: 'whoami' } }),
      request(user('root', ['ops']), 'admin', gateway),
    ];
    for (const r of cases) assert.deepEqual(engine.decide(r), { effect: 'allow', reasons: ['all'], errors: [] }, r.action);
    const bad = request(onBehalf, 'sql.read', crm, { sql: sqlFacts({ statements: 1.5 }) });
    assert.deepEqual(engine.decide(bad).reasons, ['policy-error']);
    assert.deepEqual(PolicyEngine.fromSources([{ file: 'all.cedar', text: 'permit (principal, action, resource);' }]).decide(bad).reasons, ['policy-error']);
  });

  test('request validation can be switched off and decides the same', () => {
    const text = '@id("r") permit (principal in Group::"g", action == Action::"sql.read", resource) when { resource.type == "postgres" };';
    for (const validateRequests of [true, false]) {
      const engine = PolicyEngine.fromSources([{ file: 'p.cedar', text }], { validateRequests });
      assert.deepEqual(engine.decide(request(user('u', ['g']), 'sql.read', crm)).reasons, ['r']);
    }
  });
});

describe('PolicyEngine files and reload', () => {
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  test('a bad policy file is a PolicyLoadError with file, line and column', () => {
    writeFileSync(join(dir, 'bad.cedar'), '// first line\npermit (principal, action, resource)\n  when { resource.nmae == "x" };\n');
    const err = (() => {
      try { PolicyEngine.fromFiles(['bad.cedar'], { baseDir: dir }); } catch (e) { return e; }
      return undefined;
    })();
    assert.ok(err instanceof PolicyLoadError);
    assert.equal(err.code, 'policy_invalid');
    assert.deepEqual(err.errors.map((e) => [e.file, e.line, e.column]), [['bad.cedar', 3, 10]]);
    assert.match(err.message, /bad\.cedar:3:10/);
  });

  test('a pattern that matches nothing is an error; an empty list is not', () => {
    assert.throws(() => PolicyEngine.fromFiles(['nothing/*.cedar'], { baseDir: dir }), (e: unknown) =>
      e instanceof PolicyLoadError && e.errors[0]?.file === 'nothing/*.cedar');
    assert.equal(PolicyEngine.fromFiles([], { baseDir: dir }).policies().length, 1);
  });

  test('reload picks up changes and keeps the last good set on error', () => {
    const sub = join(dir, 'set');
    mkdirSync(sub);
    const write = (name: string, text: string) => { writeFileSync(join(sub, name), text); };
    write('a.cedar', '@id("read") permit (principal, action == Action::"sql.read", resource);');
    const engine = PolicyEngine.fromFiles(['set/*.cedar'], { baseDir: dir });
    const req = request(user('u'), 'sql.write', crm);
    assert.equal(engine.decide(req).effect, 'deny');

    write('b.cedar', '@id("write") permit (principal, action == Action::"sql.write", resource);');
    assert.deepEqual(engine.reload(), { ok: true, count: 3 });
    assert.deepEqual(engine.decide(req).reasons, ['write']);

    write('b.cedar', '@id("write") permit (principal, action == Action::"sql.write", resource) when { oops };');
    const bad = engine.reload();
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.equal(bad.errors[0]?.file, 'set/b.cedar');
    assert.deepEqual(engine.decide(req).reasons, ['write'], 'previous set still active');
    assert.deepEqual(engine.policies().map((p) => p.id), ['builtin-admins', 'read', 'write']);

    write('b.cedar', '@id("read") permit (principal, action == Action::"sql.write", resource);');
    const dup = engine.reload();
    assert.equal(dup.ok, false);
    if (!dup.ok) assert.match(dup.errors[0]?.message ?? '', /duplicate policy id "read"/);
    assert.deepEqual(engine.decide(req).reasons, ['write']);
  });
});
