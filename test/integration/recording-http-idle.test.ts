import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startFakeLlm, FAKE_OPENAI_KEY, type FakeLlm } from '../harness/fake-llm.ts';

const POLICIES = '@id("use-models")\npermit (principal in Group::"developers", action == Action::"llm.invoke", resource);\n';

describe('HTTP sessions end (idle, or orphaned by a dead process): closed, anchored, never continued', () => {
  let fake: FakeLlm;
  let t: TestGateway;
  let key: string;
  before(async () => {
    fake = await startFakeLlm();
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'connections:',
        `  - { name: openai, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`,
        'recording: { session_idle: 1s }',
      ].join('\n'),
    });
    key = (await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'], agent: 'bot' })).json.key as string;
  });
  after(async () => {
    await t.close();
    await fake.close();
  });

  const chat = (session: string): Promise<Response> => fetch(`${t.url}/proxy/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'gatehouse-session': session },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
  });

  test('an idle session gets its session.close and an anchor; its id then starts a new session', async () => {
    const first = await chat('idle-demo-1');
    assert.equal(first.status, 200);
    const id = first.headers.get('gatehouse-session') ?? '';
    assert.match(id, /^[0-9a-f-]{36}$/, 'the stored id is the gateway\'s');
    await first.text();
    let closedAt: unknown;
    for (let i = 0; i < 100 && closedAt === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      closedAt = (await t.api('GET', `/api/v1/sessions/${id}`)).json.closedAt;
    }
    assert.ok(typeof closedAt === 'string', 'the idle session was closed');
    const events = (await t.api('GET', `/api/v1/sessions/${id}/events`)).json.items as { type: string; data: Record<string, unknown>; agent?: string }[];
    const last = events.at(-1);
    assert.equal(last?.type, 'session.close');
    assert.deepEqual(last.data, { reason: 'idle' });
    assert.equal(last.agent, 'bot');
    const anchors = (await t.api('GET', '/api/v1/audit?kind=session.anchor')).json.items as { detail: { session?: string } }[];
    assert.ok(anchors.some((a) => a.detail.session === id), 'anchored in the audit chain');
    assert.deepEqual((await t.api('GET', `/api/v1/sessions/${id}/verify`)).json, { ok: true, events: events.length });

    for (const header of ['idle-demo-1', id]) {
      const again = await chat(header);
      await again.text();
      assert.equal(again.status, 200);
      assert.notEqual(again.headers.get('gatehouse-session'), id, 'a closed session is not continued, by its label or its id');
    }
    assert.deepEqual((await t.api('GET', `/api/v1/sessions/${id}/verify`)).json, { ok: true, events: events.length }, 'the closed chain is untouched');
  });

  test('a session a crashed process left open is closed as orphaned (and anchored)', async () => {
    // As if another gateway process had recorded it an hour ago and died: no live table holds it.
    const rec = t.gw.services.recorder;
    const at = Date.now() - 3_600_000;
    rec.record({ session: 'orphan-1', protocol: 'http', type: 'session.open', at, user: 'carol', agent: 'bot', data: { transport: 'http' } });
    rec.record({ session: 'orphan-1', protocol: 'http', type: 'request', at, user: 'carol', agent: 'bot', data: { method: 'POST' } });
    await rec.flush?.('orphan-1');
    let closedAt: unknown;
    for (let i = 0; i < 100 && closedAt === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      closedAt = (await t.api('GET', '/api/v1/sessions/orphan-1')).json.closedAt;
    }
    assert.ok(typeof closedAt === 'string', 'the orphaned session was closed');
    const events = (await t.api('GET', '/api/v1/sessions/orphan-1/events')).json.items as { type: string; data: Record<string, unknown>; user?: string }[];
    assert.deepEqual(events.map((e) => e.type), ['session.open', 'request', 'session.close']);
    assert.deepEqual(events[2]?.data, { reason: 'orphaned' });
    assert.equal(events[2]?.user, 'carol');
    assert.deepEqual((await t.api('GET', '/api/v1/sessions/orphan-1/verify')).json, { ok: true, events: 3 });
  });
});
