import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';

const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action in [Action::"http.request", Action::"llm.invoke"], resource);
`;

// A labelled HTTP session (labelled sessions are not rotated) that reaches
// recording.max_session_bytes takes no more exchanges: 503 problem before the upstream is called
// (fail closed), not an exchange served unrecorded. Another label (a new session) goes on.
describe('HTTP: a labelled session whose recording is full', () => {
  let t: TestGateway;
  let up: HttpUpstream;
  let key: string;
  before(async () => {
    up = await startHttpUpstream();
    up.answer = () => ({ headers: { 'content-type': 'text/plain' }, chunks: [Buffer.from('z'.repeat(3000))] });
    t = await startTestGateway({
      policies: POLICIES,
      yaml: `recording: { max_session_bytes: 16kb }
connections:
  - { name: api, type: http, url: "${up.url}" }
`,
    });
    key = (await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  const get = async (label: string, i: number): Promise<{ status: number; body: string }> => {
    // The exchange whose events reach the limit is cut (its response was streaming: the last byte
    // is withheld and the connection closed): status 0.
    try {
      const r = await request(`${t.url}/proxy/api/fill/${i}?q=${'q'.repeat(500)}`, { headers: { authorization: `Bearer ${key}`, 'gatehouse-session': label } });
      return { status: r.statusCode, body: await r.body.text() };
    } catch (err) {
      return { status: 0, body: String(err) };
    }
  };

  test('answers 503 (problem, max_session_bytes) before any upstream call, and a new label is served', async () => {
    let i = 0;
    let last = await get('fill-me', i);
    while (last.status === 200 && i < 60) last = await get('fill-me', ++i);
    assert.ok(last.status === 0 || last.status === 503, `after ${i} exchanges: ${last.status} ${last.body.slice(0, 200)}`);
    assert.ok(i >= 2, `the session held ${i} exchanges before it was full`);
    // From now on every exchange of the session is refused before the upstream sees it.
    const seen = up.received.length;
    const again = await get('fill-me', 1000);
    assert.equal(again.status, 503);
    assert.match(again.body, /start a new session/);
    assert.equal(up.received.length, seen, 'the refused exchange never reached the upstream');
    assert.equal(up.received.some((r) => r.path.includes('/fill/1000')), false);
    // A new session is recorded and served.
    assert.equal((await get('fill-me-2', 2000)).status, 200);
  });
});
