import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startFakeLlm, FAKE_OPENAI_KEY, type FakeLlm } from '../harness/fake-llm.ts';
import { LLM_POLICIES } from '../harness/llm-gateway.ts';

// A body forwarded as received must mean to the upstream what the gateway inspected. JSON.parse
// keeps the last of two members with one name (other parsers the first), and Go servers match
// names case-insensitively: such bodies are refused before anything goes upstream, on a
// connection without request rules (the body leaves byte for byte) and on one with them.
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl';
const secret = JSON.stringify([{ role: 'user', content: `token ${JWT}` }]);
const benign = JSON.stringify([{ role: 'user', content: 'hello' }]);

describe('LLM request member names: repeated or case-folded names are refused (real proxy)', () => {
  let fake: FakeLlm;
  let t: TestGateway;
  let key: string;
  before(async () => {
    fake = await startFakeLlm();
    t = await startTestGateway({
      policies: LLM_POLICIES + `
@id("no-big-model")
forbid (principal, action == Action::"llm.invoke", resource) when { context has llm && context.llm.model == "gpt-big" };
`,
      yaml: `
connections:
  - { name: raw, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }
  - { name: masked, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }
masking:
  rules:
    - connections: ["masked"]
      direction: request
      entities: [EMAIL]
      strategy: redact
`,
    });
    const created = await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] });
    key = created.json.key as string;
  });
  after(async () => { await t.close(); await fake.close(); });

  const send = async (conn: string, body: string | Buffer): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${t.url}/proxy/${conn}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body,
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  test('controls: the secret alone is denied by policy, the forbidden model too, a plain request passes (SDK)', async () => {
    assert.equal((await send('raw', `{"model":"gpt-4o","messages":${secret}}`)).status, 403);
    assert.equal((await send('raw', `{"model":"gpt-big","messages":${benign}}`)).status, 403);
    fake.behavior = { reply: 'hi', chunk: 0 };
    const openai = new OpenAI({ baseURL: `${t.url}/proxy/raw/v1`, apiKey: key, maxRetries: 0 });
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] });
    assert.equal(r.choices[0]?.message.content, 'hi');
  });

  for (const conn of ['raw', 'masked']) {
    test(`${conn}: a repeated member (plain or escaped) and a case-folded read member are refused, nothing goes upstream`, async () => {
      const before = fake.received.length;
      for (const body of [
        `{"model":"gpt-4o","messages":${secret},"messages":${benign}}`,
        `{"model":"gpt-4o","mess\\u0061ges":${secret},"messages":${benign}}`,
        `{"model":"gpt-4o","messages":[{"role":"user","content":"token ${JWT}","content":"a"}]}`,
        `{"Model":"gpt-big","model":"gpt-4o","messages":${benign}}`,
        `{"model":"gpt-4o","MODEL":"gpt-big","messages":${benign}}`,
        `{"model":"gpt-4o","messages":${benign},"ſtream":true}`,
        `{"model":"gpt-4o","messages":${benign},"tools":[{"type":"function","function":{"name":"ok","NAME":"rm_rf"}}]}`,
      ]) {
        assert.doesNotThrow(() => JSON.parse(body), body);
        const r = await send(conn, body);
        assert.equal(r.status, 400, `${body} → ${JSON.stringify(r.json)}`);
        assert.equal((r.json as { code?: string }).code, 'invalid_json');
        assert.ok(!JSON.stringify(r.json).includes(JWT));
      }
      assert.equal(fake.received.length, before, 'nothing reached the upstream');
    });
  }

  test('a large body (inspected on a worker) with a repeated member is refused the same way', async () => {
    const before = fake.received.length;
    const filler = JSON.stringify([{ role: 'user', content: 'x'.repeat(600_000) }]);
    const r = await send('raw', `{"model":"gpt-4o","messages":${secret},"messages":${filler}}`);
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.equal((r.json as { code?: string }).code, 'invalid_json');
    assert.equal(fake.received.length, before);
  });

  test('a body that is not valid UTF-8 is refused, not decoded with replacement characters', async () => {
    const before = fake.received.length;
    const body = Buffer.concat([Buffer.from(`{"model":"gpt-4o","messages":[{"role":"user","content":"a`), Buffer.from([0xc0, 0xae, 0xff]), Buffer.from('"}]}')]);
    const r = await send('raw', body);
    assert.equal(r.status, 400);
    assert.match(String(r.json.detail ?? r.json.title), /UTF-8/);
    assert.equal(fake.received.length, before);
  });
  test('a prompt quoting a form or HTML `_method` is content (SDK, inline and on a worker); a top-level `_method` member is refused', async () => {
    fake.behavior = { reply: 'hi', chunk: 0 };
    for (const conn of ['raw', 'masked']) {
      const openai = new OpenAI({ baseURL: `${t.url}/proxy/${conn}/v1`, apiKey: key, maxRetries: 0 });
      for (const content of [
        'Why does curl -d "title=x&_method=PUT" hit my update route in Laravel?',
        "<form method='post'><input type='hidden' name='_method' value='DELETE'></form> what does this do?",
        `a;_method=DELETE ${'x'.repeat(600_000)}`, // large: prepared on an inspection worker
      ]) {
        const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] });
        assert.equal(r.choices[0]?.message.content, 'hi', `${conn}: ${content.slice(0, 60)}`);
      }
    }
    const before = fake.received.length;
    const r = await send('raw', `{"model":"gpt-4o","messages":${benign},"_method":"DELETE"}`);
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(String(r.json.detail), /_method/);
    assert.equal(fake.received.length, before);
  });
});
