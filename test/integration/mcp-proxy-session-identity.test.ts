import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';
import { mcpClient, type McpTestClient } from '../harness/mcp-client.ts';
import { MemoryRecorder } from '../../src/recording/recorder.ts';

const POLICIES = `
@id("developers")
permit (principal in Group::"developers", action in [Action::"http.request", Action::"mcp.call"], resource);
`;

// Review finding (session 13, fixed): an MCP tool call on /proxy (http_request, call_llm) resolves
// the MCP session again in process (its id as Gatehouse-Session). When that second resolve is the
// one that rotates the MCP session, the successor's session.open is recorded by /proxy — protocol
// http, connection api — while the table closes it as an MCP session; the store lists the
// successor (and every later tool call of the MCP session) as an http session of connection api,
// which is what session.view decides on.
describe('MCP: a session rotated by its own in-process /proxy exchange keeps its protocol', () => {
  let t: TestGateway;
  let up: HttpUpstream;
  let mcp: McpTestClient;
  const recorder = new MemoryRecorder();
  before(async () => {
    up = await startHttpUpstream();
    t = await startTestGateway({
      policies: POLICIES, recorder,
      // 7 MiB: half is 3.5 MiB, under two running exchanges' reserves (the MCP call and its /proxy exchange).
      yaml: `recording: { max_session_bytes: 7mb }
connections:
  - { name: api, type: http, url: "${up.url}" }
`,
    });
    const key = (await t.api('POST', '/api/v1/api-keys', { user: 'dev', agent: 'bot', groups: ['developers'] })).json.key as string;
    mcp = await mcpClient(t.url, key);
  });
  after(async () => { await mcp.close(); await t.close(); await up.close(); });

  test('every session\'s session.open and session.close name the same protocol', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await mcp.call('http_request', { connection: 'api', method: 'GET', path: `/items/${i}` });
      assert.notEqual(r.isError, true, JSON.stringify(r.content));
    }
    await mcp.close();
    await t.close();
    const opens = recorder.events.filter((e) => e.type === 'session.open');
    const closes = new Map(recorder.events.filter((e) => e.type === 'session.close').map((e) => [e.session, e]));
    assert.ok(opens.length > 0);
    for (const o of opens) {
      const c = closes.get(o.session);
      if (c !== undefined) assert.equal(o.protocol, c.protocol, `session ${o.session}: opened as ${o.protocol} (${JSON.stringify(o.data)}), closed as ${c.protocol}`);
    }
  });
});
