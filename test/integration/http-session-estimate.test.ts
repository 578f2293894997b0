import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';
import { SizedRecorder } from '../harness/sized-recorder.ts';

const POLICIES = `
@id("developers-use-llms")
permit (principal in Group::"developers", action == Action::"llm.invoke", resource);
`;

// Review finding (rev1): the session table's size estimate of a /proxy exchange counts only its
// endpoint, prompt and response texts (plus 64 KiB), but the `request` event also records the
// policy facts, whose strings a client chooses freely (an LLM request's `model`, its tool names),
// uncut, up to the body limit. A client can so grow a session far past half of
// recording.max_session_bytes (and past it: the exchange that crosses it went upstream with its
// events replaced by a `truncated` marker) while the table never rotates it. Fixed: the facts
// count, and an exchange whose record does not fit is refused before the upstream (session 15:
// one that no session could record with 413; one that meets a full session with 503, and the
// table rotates that session: http-recording-room.test.ts).
describe('HTTP: the size estimate of an LLM exchange covers what its request event records', () => {
  let t: TestGateway;
  let up: HttpUpstream;
  let key: string;
  const MAX = 8 * 1024 * 1024;
  const recorder = new SizedRecorder(MAX);
  before(async () => {
    up = await startHttpUpstream();
    up.answer = () => ({ headers: { 'content-type': 'application/json' }, chunks: [Buffer.from(JSON.stringify({ id: 'x', choices: [{ message: { role: 'assistant', content: 'ok' } }] }))] });
    t = await startTestGateway({
      policies: POLICIES, recorder,
      yaml: `recording: { max_session_bytes: 8mb }
connections:
  - { name: model, type: llm, provider: openai, url: "${up.url}", credentials: { api_key: "sk-upstream-0000000000000000000000" } }
`,
    });
    key = (await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  test('a label whose exchanges carry a 1 MB model name is rotated before it records half of max_session_bytes', async () => {
    const model = 'm'.repeat(1024 * 1024);
    const order: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await request(`${t.url}/proxy/model/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'gatehouse-session': 'padded', 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: `hello ${i}` }] }),
      });
      const body = await r.body.text();
      assert.equal(r.statusCode, 200, body.slice(0, 200));
      const id = String(r.headers['gatehouse-session']);
      if (order.at(-1) !== id) order.push(id);
    }
    for (const [i, id] of order.entries()) {
      const bytes = recorder.events.filter((e) => e.session === id).reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)), 0);
      assert.ok(bytes < MAX / 2, `session ${i} of ${order.length} recorded ${bytes} bytes (half of max_session_bytes: ${MAX / 2})`);
    }
  });

  const chat = (header: string, model: string, content: string) => request(`${t.url}/proxy/model/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'gatehouse-session': header, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });

  test('a request whose record could fit no session is refused (413) before the upstream; its label goes on in the same session', async () => {
    const ok = await chat('overflow', 'gpt', 'first');
    assert.equal(ok.statusCode, 200, await ok.body.text());
    const first = String(ok.headers['gatehouse-session']);
    const seen = up.received.length;
    const big = await chat('overflow', 'm'.repeat(MAX), 'the payload that would go unrecorded');
    const body = await big.body.text();
    assert.equal(big.statusCode, 413, body.slice(0, 200));
    assert.match(body, /too large to be recorded within recording.max_session_bytes/);
    assert.equal(up.received.length, seen, 'the exchange whose request could not be recorded never reached the upstream');
    const refused = recorder.events.filter((e) => e.session === first && e.type === 'exchange').at(-1);
    assert.equal(refused?.data.code, 'payload_too_large');
    assert.equal(refused?.data.request_omitted, true, 'recorded without the request it could not hold');
    const next = await chat('overflow', 'gpt', 'after');
    assert.equal(next.statusCode, 200, await next.body.text());
    assert.equal(String(next.headers['gatehouse-session']), first, 'the session is not full: not rotated');
    assert.ok(!recorder.full(first));
  });
});
