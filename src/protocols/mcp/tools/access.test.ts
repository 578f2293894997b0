import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineProtocol } from '../../contract.ts';
import { PROTOCOLS, ProtocolSet, REGISTRY } from '../../registry.ts';
import { TOOL_NAMES } from './index.ts';
import { TOOL_BY_TYPE, toolFor } from './access.ts';

test('MCP derives which tool serves which connection type from the protocols\' declarations (the map it had written out)', () => {
  assert.deepEqual({ ...TOOL_BY_TYPE }, { postgres: 'query', llm: 'call_llm', http: 'http_request', ssh: 'run_command' });
  for (const t of REGISTRY.connectionTypes) assert.equal(toolFor(t), TOOL_BY_TYPE[t as keyof typeof TOOL_BY_TYPE], t);
  assert.equal(toolFor('mcp'), undefined, 'an unregistered type has no tool');
});

test('every declared mcpTool is one of the MCP server\'s tools, and one that acts on a connection', () => {
  const names: readonly string[] = TOOL_NAMES;
  const onNoConnection = new Set(['whoami', 'list_connections', 'reviews_list', 'review_get', 'review_wait', 'review_approve', 'review_deny', 'sessions_list', 'session_get']);
  for (const p of PROTOCOLS) {
    for (const c of p.connectionTypes) {
      const tool = 'mcpTool' in c ? c.mcpTool : undefined;
      if (tool === undefined) continue;
      assert.ok(names.includes(tool), `${c.type} declares MCP tool "${tool}", which the MCP server does not have`);
      assert.ok(!onNoConnection.has(tool), `${c.type} declares "${tool}", a tool that uses no connection`);
    }
  }
});

test('a new protocol reaches an MCP tool by its declaration alone; a type declaring none says none', () => {
  const sqlish = defineProtocol({
    name: 'sqlish', recording: 'sqlish',
    connectionTypes: [
      { type: 'sqlish', summary: 'x', actions: ['sqlish.read'], urlSchemes: ['sqlish'], credentials: {}, mcpTool: 'query' },
      { type: 'quiet', summary: 'x', actions: ['sqlish.read'], urlSchemes: ['quiet'], credentials: {} },
    ],
    actions: [{ name: 'sqlish.read', resources: ['Connection'] }],
    facts: {},
  });
  const set = new ProtocolSet([...PROTOCOLS, sqlish]);
  assert.equal(toolFor('sqlish', set), 'query');
  assert.equal(toolFor('quiet', set), undefined);
  assert.equal(toolFor('postgres', set), 'query');
});
