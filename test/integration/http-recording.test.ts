import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { request } from 'undici';
import { MemoryRecorder } from '../../src/recording/recorder.ts';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';

const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action in [Action::"http.request", Action::"llm.invoke"], resource);
`;

const EMAIL = 'olivia.bennett@example.com';
const CARD = '4111111111111111';

describe('recordings of the /proxy path hold nothing unmasked', () => {
  let t: TestGateway;
  let up: HttpUpstream;
  let key: string;
  const recorder = new MemoryRecorder();
  before(async () => {
    up = await startHttpUpstream();
    // No masking rule at all: the recording is masked with every detector whatever the rules.
    t = await startTestGateway({
      policies: POLICIES, recorder,
      yaml: `connections:
  - { name: api, type: http, url: "${up.url}" }
  - { name: model, type: llm, provider: openai, url: "${up.url}", credentials: { api_key: "sk-upstream-rec-000011112222" } }
`,
    });
    key = (await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  test('paths, model names, usage and response text are masked in every recorded field', async () => {
    up.answer = () => ({ headers: { 'content-type': 'text/plain' }, chunks: [Buffer.from(`owner ${EMAIL}`)] });
    // The client's label is recorded in session.open, masked too (a card number is a valid label).
    const r = await request(`${t.url}/proxy/api/users/${EMAIL}/cards/${CARD}?mail=${EMAIL}`, { headers: { authorization: `Bearer ${key}`, 'gatehouse-session': CARD, 'x-user': EMAIL } });
    assert.equal(r.statusCode, 200);
    await r.body.text();
    const s1 = String(r.headers['gatehouse-session']);
    assert.notEqual(s1, CARD, 'the stored id is the gateway\'s, not the client\'s label');
    up.answer = () => ({
      headers: { 'content-type': 'application/json' },
      chunks: [Buffer.from(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: `ft:${EMAIL}`, choices: [{ index: 0, message: { role: 'assistant', content: `hi ${EMAIL}` }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, note: EMAIL } }))],
    });
    const m = await request(`${t.url}/proxy/model/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'gatehouse-session': 'rec-http-2' },
      body: JSON.stringify({ model: `ft:${EMAIL}`, messages: [{ role: 'user', content: `card ${CARD}` }] }),
    });
    await m.body.text();
    const s2 = String(m.headers['gatehouse-session']);
    const events = recorder.events.filter((e) => e.session === s1 || e.session === s2);
    // One event per exchange: request, decision and response together.
    assert.equal(events.filter((e) => e.type === 'exchange').length, 2);
    assert.ok(events.every((e) => e.type === 'exchange' || e.type === 'session.open'), JSON.stringify(events.map((e) => e.type)));
    const open = events.find((e) => e.session === s1 && e.type === 'session.open');
    assert.equal((open?.data as { label?: string }).label, '[CREDIT_CARD]');
    assert.equal((events.find((e) => e.session === s2 && e.type === 'session.open')?.data as { label?: string }).label, 'rec-http-2');
    const all = JSON.stringify(events);
    assert.ok(!all.includes(EMAIL) && !all.includes(CARD), all);
    const req = events.find((e) => e.session === s1 && e.type === 'exchange');
    assert.equal((req?.data as { endpoint?: string }).endpoint, '/users/[EMAIL]/cards/[CREDIT_CARD]');
  });

  test('property: whatever the path segment, nothing detected is recorded raw', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(EMAIL, CARD, 'AKIAIOSFODNN7EXAMPLE', 'id=078-05-1120'), fc.constantFrom('', 'x/', 'v1/users/'), async (entity, prefix) => {
      const before = recorder.events.length;
      up.answer = () => ({ headers: { 'content-type': 'text/plain' }, chunks: [Buffer.from('ok')] });
      const r = await request(`${t.url}/proxy/api/${prefix}${encodeURIComponent(entity)}`, { headers: { authorization: `Bearer ${key}` } });
      await r.body.text();
      const recorded = JSON.stringify(recorder.events.slice(before));
      assert.ok(!recorded.includes(entity), recorded);
    }), { numRuns: 12 });
  });
});
