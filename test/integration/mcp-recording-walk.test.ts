import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryRecorder } from '../../src/recording/recorder.ts';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';
import { mcpClient } from '../harness/mcp-client.ts';

const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action in [Action::"http.request", Action::"llm.invoke", Action::"mcp.call"], resource);
@id("no-secrets-to-external-models")
forbid (principal, action == Action::"llm.invoke", resource)
when { context has llm && context.llm.secret_types.containsAny(["SECRET", "PRIVATE_KEY", "JWT"]) };
`;
const AWS = 'AKIA' + 'Q3EGRVH2LXJ7KZ4N';
const AWS_B64 = Buffer.from(AWS).toString('base64');

// MCP events record tool arguments and results with the fail-closed JSON walk (maskedExcerpt),
// not as text only: a payload the walk decodes is masked in the recording (attacker review, 4d).
describe('MCP recording: tool arguments are walked, not only masked as text', () => {
  let t: TestGateway; let up: HttpUpstream; let key: string;
  const recorder = new MemoryRecorder();
  before(async () => {
    up = await startHttpUpstream();
    t = await startTestGateway({ policies: POLICIES, recorder, yaml: `connections:
  - { name: model, type: llm, provider: openai, url: "${up.url}", credentials: { api_key: "sk-upstream-rec-000011112222" } }
` });
    key = (await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  test('call_llm with a base64 AWS key: denied, and not in the recording', async () => {
    const c = await mcpClient(t.url, key);
    try {
      const r = await c.call('call_llm', { connection: 'model', request: { model: 'm', messages: [{ role: 'user', content: AWS_B64 }] } });
      assert.equal(r.isError, true, 'denied: the walk finds the key in the payload');
    } finally { await c.close(); }
    const rec = JSON.stringify(recorder.events);
    assert.ok(!rec.includes(AWS_B64), rec.slice(0, 1500));
    assert.match(rec, /call_llm/);
  });
});
