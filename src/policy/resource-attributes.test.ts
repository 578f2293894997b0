import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Connection } from '../connections/registry.ts';
import { connectionResource } from '../enforce/authorize.ts';
import { str } from '../kernel/json-schema.ts';
import { defineProtocol } from '../protocols/contract.ts';
import { PROTOCOLS, ProtocolSet, REGISTRY, registryProblems } from '../protocols/registry.ts';
import { toCedarRequest } from './cedar-request.ts';
import { cedarSchemaFor } from './cedar-schema.ts';
import { PolicyEngine } from './engine.ts';
import { request, user } from './testing.ts';

/**
 * A Connection attribute for policy (`resource.provider`) is declared by its connection type
 * (`resourceAttributes`), not named by policy code: it reaches the Cedar schema, the request and
 * the decision from the declaration alone.
 */

const llm = (name: string, provider: 'openai' | 'anthropic'): Connection => ({
  name, type: 'llm', url: 'https://models.example', credentials: {}, tags: [], source: 'config', provider,
});

test('policies using resource.provider keep working: the llm connection carries it from its declaration', () => {
  const engine = PolicyEngine.fromSources([{
    file: 'providers.cedar',
    text: `@id("models") permit (principal, action == Action::"llm.invoke", resource);
@id("no-anthropic") forbid (principal, action == Action::"llm.invoke", resource) when { resource has provider && resource.provider == "anthropic" };
@id("crm-only-postgres") forbid (principal, action == Action::"sql.read", resource) when { resource has provider };
@id("read") permit (principal, action == Action::"sql.read", resource);`,
  }], { validateRequests: true });
  const alice = user('alice', ['developers']);
  assert.deepEqual(engine.decide(request(alice, 'llm.invoke', connectionResource(llm('gpt', 'openai')))), { effect: 'allow', reasons: ['models'], errors: [] });
  assert.deepEqual(engine.decide(request(alice, 'llm.invoke', connectionResource(llm('claude', 'anthropic')))), { effect: 'deny', reasons: ['no-anthropic'], errors: [] });
  // A type that declares no such attribute has none (`resource has provider` is false).
  const crm: Connection = { name: 'crm', type: 'postgres', url: 'postgres://u@db/crm', credentials: {}, tags: [], source: 'config' };
  assert.deepEqual(engine.decide(request(alice, 'sql.read', connectionResource(crm))), { effect: 'allow', reasons: ['read'], errors: [] });
  assert.deepEqual(connectionResource(llm('claude', 'anthropic')), { kind: 'connection', name: 'claude', type: 'llm', tags: [], attrs: { provider: 'anthropic' } });
});

test('the Cedar schema declares the llm type\'s provider from the registry, and only while that type is registered', () => {
  assert.ok(cedarSchemaFor().includes('  // For llm connections: "openai" | "anthropic" | "openai-compatible".\n  provider?: String,\n'));
  assert.deepEqual(REGISTRY.resourceAttributes.map((a) => [a.type, a.name]), [['llm', 'provider']]);
  const withoutHttp = new ProtocolSet(PROTOCOLS.filter((p) => p.name !== 'http'));
  assert.ok(!cedarSchemaFor(withoutHttp).includes('provider?'));
});

const boxProtocol = defineProtocol({
  name: 'box', recording: 'box',
  connectionTypes: [{
    type: 'box', summary: 'a box', actions: ['box.open'], urlSchemes: ['box'], credentials: {},
    fields: { colour: str('The box colour.'), secret_note: str('Not for policy.') },
    resourceAttributes: { colour: 'the colour of the box.' },
  }],
  actions: [{ name: 'box.open', resources: ['Connection'] }],
  facts: {},
});

test('a new protocol\'s declared attribute reaches the schema and the request; an undeclared one never does', () => {
  const set = new ProtocolSet([...PROTOCOLS, boxProtocol]);
  assert.ok(cedarSchemaFor(set).includes('  // For box connections: the colour of the box.\n  colour?: String,\n'));
  const box = { name: 'b', type: 'box', colour: 'red', secret_note: 'x' };
  const attrs = set.resourceAttributesOf(box);
  assert.deepEqual(attrs, { colour: 'red' });
  const r = toCedarRequest(request(user('alice'), 'box.open' as never, { kind: 'connection', name: 'b', type: 'box', tags: [], attrs: { colour: 'red', secret_note: 'x', name: 'spoof' } }), set);
  assert.deepEqual(r.entities.at(-1)?.attrs, { name: 'b', type: 'box', tags: [], colour: 'red' });
});

test('a resource attribute must be one of the type\'s own string fields, and not a common attribute', () => {
  const bad = (resourceAttributes: Record<string, string>): string[] => registryProblems([defineProtocol({
    ...boxProtocol,
    connectionTypes: [{ ...boxProtocol.connectionTypes[0], fields: { ...boxProtocol.connectionTypes[0].fields, sizes: { type: 'array', items: { type: 'string' } } }, resourceAttributes }],
  })]);
  assert.deepEqual(bad({ colour: 'x' }), []);
  assert.match(bad({ shape: 'x' }).join(), /resource attribute "shape", which is not one of its string fields/);
  assert.match(bad({ sizes: 'x' }).join(), /resource attribute "sizes", which is not one of its string fields/);
  assert.match(bad({ name: 'x' }).join(), /resource attribute "name", which every Connection has/);
});
