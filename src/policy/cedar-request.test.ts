import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { toCedarRequest, toPrunedCedarRequest } from './cedar-request.ts';
import { analyzeUsage } from './request-usage.ts';
import { agent, connection, llmFacts, request, sqlFacts, user } from './testing.ts';

describe('toCedarRequest', () => {
  test('user with an acting agent: entities, parents, context.agent, UTC time', () => {
    const at = Date.UTC(2025, 5, 1, 23, 59, 30); // a Sunday
    const r = toCedarRequest(request(
      user('alice', ['developers', 'dba', 'developers'], { id: 'bot', groups: ['agents', 'dba'] }),
      'llm.invoke', connection('openai', 'llm', { provider: 'openai', tags: ['prod'] }), { llm: llmFacts() }, at,
    ));
    assert.deepEqual(r.principal, { type: 'User', id: 'alice' });
    assert.deepEqual(r.action, { type: 'Action', id: 'llm.invoke' });
    assert.deepEqual(r.resource, { type: 'Connection', id: 'openai' });
    assert.deepEqual(r.entities, [
      { uid: { type: 'User', id: 'alice' }, attrs: {}, parents: [{ type: 'Group', id: 'developers' }, { type: 'Group', id: 'dba' }] },
      { uid: { type: 'Agent', id: 'bot' }, attrs: {}, parents: [{ type: 'Group', id: 'agents' }, { type: 'Group', id: 'dba' }] },
      { uid: { type: 'Group', id: 'developers' }, attrs: {}, parents: [] },
      { uid: { type: 'Group', id: 'dba' }, attrs: {}, parents: [] },
      { uid: { type: 'Group', id: 'agents' }, attrs: {}, parents: [] },
      { uid: { type: 'Connection', id: 'openai' }, attrs: { name: 'openai', type: 'llm', provider: 'openai', tags: ['prod'] }, parents: [] },
    ]);
    assert.deepEqual(r.context.agent, { id: 'bot', groups: ['agents', 'dba'] });
    assert.equal(r.context.via, 'gatehouse_jwt');
    assert.deepEqual(r.context.time, { hour: 23, weekday: 0, epoch: Math.floor(at / 1000) });
    assert.equal(r.context.sql, undefined);
  });

  test('copies exactly the schema fields of the facts', () => {
    const facts = { sql: { ...sqlFacts(), extra: 'not in schema' } };
    const r = toCedarRequest(request(agent('bot'), 'sql.read', connection('crm'), facts));
    assert.deepEqual(Object.keys(r.context.sql as object).sort(), Object.keys(sqlFacts()).sort());
    assert.deepEqual(r.principal, { type: 'Agent', id: 'bot' });
    assert.equal(r.context.agent, undefined);
  });

  test('admin targets Gateway::"gatehouse"; a mismatched resource throws', () => {
    const r = toCedarRequest(request(user('admin', ['admins']), 'admin', { kind: 'gateway' }));
    assert.deepEqual(r.resource, { type: 'Gateway', id: 'gatehouse' });
    assert.throws(() => toCedarRequest(request(user('a'), 'admin', connection('crm'))));
    assert.throws(() => toCedarRequest(request(user('a'), 'sql.read', { kind: 'gateway' })));
  });

  test('mcp.call applies to a connection and to the gateway (tools that name no connection)', () => {
    const g = toCedarRequest(request(user('a'), 'mcp.call', { kind: 'gateway' }, { mcp: { tool: 'whoami' } }));
    assert.deepEqual(g.resource, { type: 'Gateway', id: 'gatehouse' });
    assert.deepEqual(g.context.mcp, { tool: 'whoami' });
    assert.deepEqual(toCedarRequest(request(user('a'), 'mcp.call', connection('crm'), { mcp: { tool: 'query' } })).resource, { type: 'Connection', id: 'crm' });
  });
});

describe('toPrunedCedarRequest', () => {
  const usage = analyzeUsage([
    'permit (principal in Group::"dba", action, resource) when { resource.type == "postgres" && context has sql && context.sql.do_block };',
    'forbid (principal in Group::"agents", action, resource) when { context has agent && context.time.hour < 6 };',
  ]);
  const req = request(
    user('alice', ['zeta', 'dba', 'other', 'agents', 'dba'], { id: 'bot', groups: ['agents'] }),
    'sql.read', connection('crm', 'postgres', { tags: ['prod'] }), { sql: sqlFacts() },
  );

  test('keeps only what the policies read; groups filtered and sorted; no Group entities', () => {
    const r = toPrunedCedarRequest(req, usage);
    assert.deepEqual(r.entities, [
      { uid: { type: 'User', id: 'alice' }, attrs: {}, parents: [{ type: 'Group', id: 'agents' }, { type: 'Group', id: 'dba' }] },
      { uid: { type: 'Connection', id: 'crm' }, attrs: { type: 'postgres' }, parents: [] },
    ]);
    assert.deepEqual(r.context, { sql: { do_block: false }, agent: {}, time: { hour: 10 } });
  });

  test('epoch is kept only when a policy reads it; the acting agent only when written as a literal', () => {
    const u = analyzeUsage(['permit (principal, action, resource) when { context.time.epoch > 0 && Agent::"bot" in Group::"agents" };']);
    const r = toPrunedCedarRequest(req, u);
    assert.deepEqual(r.context, { time: { epoch: Math.floor(req.at / 1000) } });
    assert.deepEqual(r.entities[1], { uid: { type: 'Agent', id: 'bot' }, attrs: {}, parents: [{ type: 'Group', id: 'agents' }] });
  });

  test('the JSON is canonical across set order; malformed kept values throw', () => {
    const shuffled = { ...req, principal: { ...req.principal, groups: ['agents', 'dba', 'zeta'] } };
    assert.equal(JSON.stringify(toPrunedCedarRequest(shuffled, usage)), JSON.stringify(toPrunedCedarRequest(req, usage)));
    const bad = { ...req, facts: { sql: { ...sqlFacts(), do_block: undefined as unknown as boolean } } };
    assert.throws(() => toPrunedCedarRequest(bad, usage), /malformed/);
    const float = { ...req, facts: { sql: { ...sqlFacts(), do_block: 1.5 as unknown as boolean } } };
    assert.throws(() => toPrunedCedarRequest(float, usage), /malformed/);
  });
});
