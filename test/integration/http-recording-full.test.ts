import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startHttpUpstream, type HttpUpstream } from '../harness/http-upstream.ts';
import { MemoryRecorder } from '../../src/recording/recorder.ts';

const POLICIES = `
@id("developers-use-apis")
permit (principal in Group::"developers", action in [Action::"http.request", Action::"llm.invoke"], resource);
`;

/** A memory recorder that reports the sessions of `full` as full (what the store recorder does at recording.max_session_bytes). */
class FillableRecorder extends MemoryRecorder {
  readonly fullSessions = new Set<string>();
  full(session: string): boolean {
    return this.fullSessions.has(session);
  }
}

// Labelled sessions are rotated on their byte estimate like default ones (before half of
// recording.max_session_bytes), so no client behaviour — a label sent again and again, an echoed
// id, an echoed rotated id — ends in a session that fills up. A session the recorder reports
// full still takes no more exchanges: 503 problem before the upstream is called (fail closed).
describe('HTTP: a labelled session is rotated before its recording could fill', () => {
  let t: TestGateway;
  let up: HttpUpstream;
  let key: string;
  const recorder = new FillableRecorder();
  const MAX = 8 * 1024 * 1024;
  before(async () => {
    up = await startHttpUpstream();
    up.answer = () => ({ headers: { 'content-type': 'text/plain' }, chunks: [Buffer.from('z'.repeat(3000))] });
    t = await startTestGateway({
      policies: POLICIES, recorder,
      yaml: `recording: { max_session_bytes: 8mb }
connections:
  - { name: api, type: http, url: "${up.url}" }
`,
    });
    key = (await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key as string;
  });
  after(async () => { await t.close(); await up.close(); });

  const get = async (header: string, i: number): Promise<{ status: number; body: string; session: string }> => {
    const r = await request(`${t.url}/proxy/api/fill/${i}?q=${'q'.repeat(500)}`, { headers: { authorization: `Bearer ${key}`, 'gatehouse-session': header } });
    return { status: r.statusCode, body: await r.body.text(), session: String(r.headers['gatehouse-session']) };
  };

  test('a label sent again and again, the returned id echoed, or the first id kept: every exchange served, the label\'s sessions rotated', async () => {
    const first = await get('fill-me', 0);
    assert.equal(first.status, 200);
    const order = [first.session];
    let last = first.session;
    for (let i = 1; i < 90; i++) {
      // A client sending its label, one echoing the returned id, one holding on to the first id.
      const header = i % 3 === 0 ? 'fill-me' : i % 3 === 1 ? last : first.session;
      const r = await get(header, i);
      assert.equal(r.status, 200, `exchange ${i} (${header}): ${r.body.slice(0, 200)}`);
      if (r.session !== order.at(-1)) order.push(r.session);
      last = r.session;
    }
    assert.ok(order.length >= 2, `rotated (${order.length} sessions)`);
    for (const [i, id] of order.entries()) {
      const events = recorder.events.filter((e) => e.session === id);
      const bytes = events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)), 0);
      assert.ok(bytes < MAX / 2, `session ${i} recorded ${bytes} bytes`);
      const open = events[0];
      assert.equal(open?.type, 'session.open');
      assert.deepEqual(open.data, {
        transport: 'http', connection: 'api', label: 'fill-me', ...(i === 0 ? {} : { previous: order[i - 1] }),
      }, 'each successor keeps the label and names the session it replaces');
      if (i < order.length - 1) {
        const close = events.at(-1);
        assert.deepEqual([close?.type, close?.data], ['session.close', { reason: 'rotated' }], 'a rotated session is closed (anchored) at once, its close its last event');
      }
    }
    const opens = recorder.events.filter((e) => e.type === 'session.open' && (e.data as { label?: string }).label !== undefined);
    assert.ok(opens.every((e) => (e.data as { label?: string }).label === 'fill-me'), 'no echoed id became the label of a session');
  });

  test('a session the recorder reports full answers 503 (problem, max_session_bytes) before any upstream call; then its label goes on in a successor', async () => {
    const s = await get('stuck', 1);
    assert.equal(s.status, 200);
    recorder.fullSessions.add(s.session);
    const seen = up.received.length;
    const again = await get('stuck', 1000);
    assert.equal(again.status, 503);
    assert.match(again.body, /start a new session/);
    assert.equal(up.received.length, seen, 'the refused exchange never reached the upstream');
    assert.equal(up.received.some((r) => r.path.includes('/fill/1000')), false);
    // The table rotates a session the recorder reported full: the label (or the old id) is not
    // refused again and again until the estimate catches up.
    for (const header of ['stuck', s.session]) {
      const next = await get(header, 2000);
      assert.equal(next.status, 200, next.body.slice(0, 200));
      assert.notEqual(next.session, s.session);
    }
    assert.equal((await get('stuck-2', 3000)).status, 200);
  });
});
