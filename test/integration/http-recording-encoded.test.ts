import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { MemoryRecorder } from '../../src/recording/recorder.ts';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';

const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action in [Action::"http.request", Action::"llm.invoke"], resource);
`;
const AWS = 'AKIA' + 'Q3EGRVH2LXJ7KZ4N';
const AWS_B64 = Buffer.from(AWS).toString('base64');

// The recording is masked with every detector whatever the rules: also what is encoded — a
// percent-encoded path, a JSON answer captured in pieces (never parsed whole), a JSON answer over
// the record limit (attacker review, finding 4).
describe('recording: encoded entities are masked too', () => {
  let t: TestGateway; let up: HttpUpstream; let key: string;
  const recorder = new MemoryRecorder();
  before(async () => {
    up = await startHttpUpstream();
    t = await startTestGateway({ policies: POLICIES, recorder, yaml: `connections:
  - { name: raw, type: http, url: "${up.url}" }
  - { name: plain, type: llm, provider: openai, url: "${up.url}", credentials: { api_key: "sk-upstream-rec-000011113333" } }
  - { name: model, type: llm, provider: openai, url: "${up.url}", credentials: { api_key: "sk-upstream-rec-000011112222" } }
masking:
  rules:
    - { connections: ["model"], direction: both, entities: [EMAIL], strategy: redact }
` });
    key = (await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  const recorded = async (conn: string, path: string, answer: Buffer, method = 'GET'): Promise<string> => {
    up.answer = () => ({ headers: { 'content-type': 'application/json' }, chunks: [answer] });
    const before = recorder.events.length;
    const r = await request(`${t.url}/proxy/${conn}${path}`, {
      method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) } : {}),
    });
    await r.body.text();
    assert.equal(r.statusCode, 200);
    const s = String(r.headers['gatehouse-session']);
    return JSON.stringify(recorder.events.slice(before).filter((e) => e.session === s));
  };

  test('a percent-encoded email in the path is masked in endpoint and facts', async () => {
    const rec = await recorded('raw', `/users/${encodeURIComponent('bob@example.com')}`, Buffer.from('{}'));
    assert.ok(!rec.includes('bob%40example.com'), rec);
    assert.ok(!rec.includes('bob@example.com'), rec);
    assert.match(rec, /\/users\//);
    // The upstream still got the path as sent.
    assert.equal(up.last().path, '/users/bob%40example.com');
  });

  test('a JSON answer passed unparsed (no response rule) larger than 4 KiB: \\u0040 escapes decoded before masking', async () => {
    const content = `mail bob\\u0040example.com ${'x'.repeat(6000)}`;
    const body = `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"${content}"},"finish_reason":"stop"}]}`;
    const rec = await recorded('plain', '/v1/chat/completions', Buffer.from(body), 'POST');
    assert.ok(!rec.includes('bob\\\\u0040example.com'), rec.slice(0, 2000));
    assert.ok(!rec.includes('bob@example.com'), rec.slice(0, 2000));
  });

  test('a masked JSON answer over the 64 Ki record limit: the whole document is walked before truncation', async () => {
    const doc = { id: 'c', object: 'chat.completion', created: 1, model: 'm', meta: { blob: AWS_B64 }, choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(70_000) }, finish_reason: 'stop' }] };
    const rec = await recorded('model', '/v1/chat/completions', Buffer.from(JSON.stringify(doc)), 'POST');
    const small = await recorded('model', '/v1/chat/completions', Buffer.from(JSON.stringify({ ...doc, choices: [] })), 'POST');
    assert.ok(!small.includes(AWS_B64), 'control: the walk masks it under the limit');
    assert.ok(!rec.includes(AWS_B64), 'over the limit it is masked too');
    const ev = JSON.parse(rec) as { type: string; data: { truncated?: boolean } }[];
    assert.equal(ev.find((e) => e.type === 'exchange')?.data.truncated, true);
  });
});
