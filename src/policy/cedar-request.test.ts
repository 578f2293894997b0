import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { toCedarRequest } from './cedar-request.ts';
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
});
