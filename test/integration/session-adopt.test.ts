import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startFakeLlm, FAKE_OPENAI_KEY, type FakeLlm } from '../harness/fake-llm.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';

/**
 * A client-chosen Gatehouse-Session value is never adopted as a stored session id (review,
 * session 11): on another replica (or after a restart: a process that does not remember the id),
 * a stored session's id — sent by its owner or by another principal — starts a new session of
 * the sender's; the stored chain is never appended to and still verifies.
 */

const skip = await pgSkip();
const POLICIES = '@id("use-models")\npermit (principal in Group::"developers", action == Action::"llm.invoke", resource);\n';

interface Event { type: string; user?: string; data: Record<string, unknown> }

describe('a Gatehouse-Session id is never adopted from a client (two replicas, one PostgreSQL store)', { skip }, () => {
  let fake: FakeLlm;
  let store: TestDatabase;
  let a: TestGateway;
  let b: TestGateway;
  let aClosed = false;
  let alice: string;
  let mallory: string;
  before(async () => {
    fake = await startFakeLlm();
    const st = await getTestPostgres();
    if (!st) throw new Error('no PostgreSQL');
    store = st;
    const yaml = ['connections:', `  - { name: openai, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`].join('\n');
    a = await startTestGateway({ policies: POLICIES, yaml, storeUrl: store.url });
    b = await startTestGateway({ policies: POLICIES, yaml, storeUrl: store.url });
    alice = String((await a.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] })).json.key);
    mallory = String((await a.api('POST', '/api/v1/api-keys', { user: 'mallory', groups: ['developers'] })).json.key);
  });
  after(async () => {
    await b.close();
    if (!aClosed) await a.close();
    await store.stop();
    await fake.close();
  });

  const chat = async (gw: TestGateway, key: string, session: string): Promise<string> => {
    const res = await fetch(`${gw.url}/proxy/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'gatehouse-session': session },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
    });
    await res.text();
    assert.equal(res.status, 200);
    const id = res.headers.get('gatehouse-session');
    assert.ok(id);
    return id;
  };
  const events = async (id: string): Promise<Event[]> => (await a.api('GET', `/api/v1/sessions/${id}/events`)).json.items as Event[];
  const owner = async (id: string): Promise<unknown> => (await b.api('GET', `/api/v1/sessions/${id}`)).json.user;

  test('an open session\'s id or label sent to another replica, by its owner or another principal, starts a session of the sender', async () => {
    const s = await chat(a, alice, 'alice-chat');
    assert.notEqual(s, 'alice-chat');
    assert.equal(await chat(a, alice, 'alice-chat'), s);
    assert.equal(await chat(a, alice, s), s);
    const before = (await events(s)).length;
    for (const [key, header] of [[mallory, s], [mallory, 'alice-chat'], [alice, s], [alice, 'alice-chat']] as const) {
      const other = await chat(b, key, header);
      assert.notEqual(other, s);
    }
    assert.equal(await chat(a, mallory, s).then((id) => id === s), false, 'nor on the replica that holds it');
    assert.equal((await events(s)).length, before, 'nothing appended to the stored session');
    assert.equal(await owner(s), 'alice');
  });

  test('after its process ends, a closed session is never appended to: its chain still verifies', async () => {
    const s = await chat(a, alice, 'before-restart');
    await a.close(); // anchors s (session.close, reason shutdown)
    aClosed = true;
    const ev = (await b.api('GET', `/api/v1/sessions/${s}/events`)).json.items as Event[];
    assert.equal(ev.at(-1)?.type, 'session.close');
    const ids = [await chat(b, alice, s), await chat(b, alice, 'before-restart'), await chat(b, mallory, s), await chat(b, mallory, 'before-restart')];
    assert.ok(!ids.includes(s));
    assert.equal(new Set(ids).size, 4, 'labels are per principal; a stored id sent is a label of the sender');
    assert.deepEqual((await b.api('GET', `/api/v1/sessions/${s}/verify`)).json, { ok: true, events: ev.length });
    assert.equal(await owner(s), 'alice');
    for (const id of ids) assert.deepEqual((await b.api('GET', `/api/v1/sessions/${id}/verify`)).json.ok, true);
  });
});
