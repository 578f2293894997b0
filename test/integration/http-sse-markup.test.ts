import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { MemoryRecorder } from '../../src/recording/recorder.ts';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';

const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action == Action::"http.request", resource);
`;

// An http connection with a response rule for EMAIL and CREDIT_CARD: every reading a client's
// parser makes of a text/event-stream or XML body must be masked, and the recording holds the
// same text (attacker review, atk-http 5988b34).
describe('http connection responses: SSE and markup read as a client reads them', () => {
  let t: TestGateway; let up: HttpUpstream; let key: string;
  const recorder = new MemoryRecorder();
  before(async () => {
    up = await startHttpUpstream();
    t = await startTestGateway({ policies: POLICIES, recorder, yaml: `connections:
  - { name: api, type: http, url: "${up.url}" }
masking:
  rules:
    - { connections: ["api"], direction: both, entities: [EMAIL, CREDIT_CARD], strategy: redact }
` });
    key = (await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  /** The body the client reads (or the error reading it), and what was recorded meanwhile. */
  const get = async (contentType: string, body: string | string[]): Promise<{ status: number; text: string; failed: boolean; recorded: string }> => {
    up.answer = () => ({ headers: { 'content-type': contentType }, chunks: (Array.isArray(body) ? body : [body]).map((b) => Buffer.from(b)) });
    const from = recorder.events.length;
    let status = 0; let text = ''; let failed = false;
    try {
      const r = await request(`${t.url}/proxy/api/feed`, { headers: { authorization: `Bearer ${key}` } });
      status = r.statusCode;
      text = await r.body.text();
    } catch { failed = true; }
    await new Promise((res) => setTimeout(res, 50));
    return { status, text, failed, recorded: JSON.stringify(recorder.events.slice(from)) };
  };
  const clean = (s: string, ...forms: string[]): void => { for (const f of forms) assert.ok(!s.includes(f), `${f} in ${s.slice(0, 400)}`); };

  test('text/plain decodes %40 and \\u0040 before masking (the reading SSE text data now shares)', async () => {
    const r = await get('text/plain', 'a mailto:bob%40example.com b bob\\u0040example.com');
    assert.equal(r.text, 'a mailto:[EMAIL] b [EMAIL]');
  });

  test('SSE: an event held back for masking is sent after a silence, not only when the next event comes', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    up.answer = () => ({ headers: { 'content-type': 'text/event-stream' }, chunks: [Buffer.from('data: {"note":"first card 4111 1111"}\n\n'), () => gate, Buffer.from('data: {"note":" 1111 1111 later"}\n\n')] });
    const r = await request(`${t.url}/proxy/api/feed`, { headers: { authorization: `Bearer ${key}` } });
    const t0 = Date.now();
    const timeout = setTimeout(release, 3000); // a gateway that holds the event until the next one: the test fails below, not hangs
    let first = ''; let rest = ''; let firstMs = -1;
    for await (const d of r.body) {
      if (firstMs < 0) { firstMs = Date.now() - t0; first = (d as Buffer).toString(); release(); } else rest += (d as Buffer).toString();
    }
    clearTimeout(timeout);
    assert.ok(firstMs >= 0 && firstMs < 2000, `the first event came after ${firstMs} ms (held until the next event)`);
    assert.match(first, /first card/);
    clean(first + rest, '4111 1111 1111 1111');
  });

  test('SSE: non-JSON data is masked as text/plain (percent-encoded email)', async () => {
    const r = await get('text/event-stream', 'data: contact mailto:bob%40example.com\n\n');
    assert.equal(r.text, 'data: contact mailto:[EMAIL]\n\n');
    clean(r.recorded, 'bob%40example.com', 'bob@example.com');
  });

  test('SSE: data that looks like JSON but does not parse (NaN, as Python accepts) is refused, not masked as text', async () => {
    const r = await get('text/event-stream', 'data: {"score": NaN, "email": "bob\\u0040example.com"}\n\n');
    assert.ok(r.failed || r.status !== 200 || r.text === '', r.text);
    clean(r.text + r.recorded, 'bob\\u0040example.com', 'bob\\\\u0040example.com', 'bob@example.com');
    assert.equal((await get('text/event-stream', 'data: [DONE]\n\n')).text, 'data: [DONE]\n\n', '[DONE] is text');
  });

  test('SSE: the id field is dropped (it is repeated on every later event); event names are masked', async () => {
    const r = await get('text/event-stream', 'id: bob%40example.com\nevent: bob%40example.com\ndata: {"n":1}\n\ndata: {"n":2}\n\n');
    assert.equal(r.text, 'event: [EMAIL]\ndata: {"n":1}\n\ndata: {"n":2}\n\n');
    clean(r.recorded, 'bob%40example.com');
  });

  test('SSE: a value split across events (tokens a client joins) is masked in the joined text', async () => {
    for (const chunks of [
      ['data: {"token":"card 4111 1111 "}\n\n', 'data: {"token":"1111 1111"}\n\n'],
      ['data: {"token":"card 4111 1111 "}\n\ndata: {"token":"1111 1111"}\n\n'],
      ['data: {"t":"mail bob"}\n\n', 'data: {"t":"@exa"}\n\n', 'data: {"t":"mple.com ok"}\n\n'],
      ['data: card 4111 1111\n\n', 'data:  1111 1111 end\n\n'],
    ]) {
      const r = await get('text/event-stream', chunks);
      const joined = [...r.text.matchAll(/^data: (.*)$/gm)].map((m) => { const d = m[1]!; return d.startsWith('{') ? Object.values(JSON.parse(d) as Record<string, string>).join('') : d; }).join('');
      clean(joined.replace(/\s/g, ''), '4111111111111111', 'bob@example.com');
      assert.match(joined, /\[(CREDIT_CARD|EMAIL)\]/, joined);
      assert.equal(r.text.split('\n\n').length - 1, chunks.join('').split('\n\n').length - 1, 'one event out per event in');
      clean(r.recorded.replace(/\s/g, ''), '411111111111', 'bob@example');
    }
  });

  test('SSE: events and values without findings pass unchanged, in order', async () => {
    const body = 'event: status\ndata: {"status":"running","step":1}\n\ndata: {"status":"running","step":2}\n\ndata: hello world\n\n';
    assert.equal((await get('text/event-stream', body)).text, body);
  });

  test('XML: a CDATA section or a comment inside a value (parsers join the text) is masked', async () => {
    const r = await get('application/xml', '<r><email>bob<![CDATA[@]]>example.com</email><card>411111111111<!---->1111</card></r>');
    // xml.etree / DOM textContent read "bob@example.com" and "4111111111111111" here.
    assert.equal(r.text, '<r><email>[EMAIL]</email><card>[CREDIT_CARD]</card></r>');
    const s = await get('text/html', ['<p>a <!-- x -', '-> b<![CDATA[<i>&#64;]', ']></p>']);
    assert.equal(s.text, '<p>a  b&lt;i&gt;&amp;#64;</p>', 'comments dropped, CDATA text escaped (not decoded)');
  });
});
