import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { startPgliteServer, type PgliteServer } from '../harness/pglite-server.ts';
import { startFakeLlm, FAKE_OPENAI_KEY, type FakeLlm } from '../harness/fake-llm.ts';
import { GatehouseError } from '../../src/kernel/errors.ts';
import type { RecordEvent, Recorder } from '../../src/recording/recorder.ts';

/** A recorder whose store is down: every flush rejects, as StoreRecorder's does after a lost event. */
class FailingRecorder implements Recorder {
  readonly events: RecordEvent[] = [];
  failing = true;
  /** Admission: undefined (room), or the store is behind and failing: refused. */
  refuseAdmission = false;
  record(e: RecordEvent): void { this.events.push(e); }
  admit(): Promise<void> | undefined {
    return this.refuseAdmission ? Promise.reject(new GatehouseError('store_unavailable', 'the recording store is failing and its backlog is full')) : undefined;
  }
  flush(): Promise<void> {
    return this.failing ? Promise.reject(new GatehouseError('store_unavailable', 'lost')) : Promise.resolve();
  }
}

const POLICIES = `${TEST_POLICIES}
@id("developers-use-models")
permit (principal in Group::"developers", action == Action::"llm.invoke", resource);
`;

describe('recording fails closed: an exchange that cannot be recorded is not delivered', () => {
  let up: PgliteServer;
  let fake: FakeLlm;
  let t: TestGateway;
  let key: string;
  const recorder = new FailingRecorder();
  const chat = (stream: boolean, conn = 'openai'): Promise<Response> => fetch(`${t.url}/proxy/${conn}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'hi' }] }),
  });

  before(async () => {
    up = await startPgliteServer('CREATE TABLE t (id int); INSERT INTO t VALUES (1);');
    fake = await startFakeLlm();
    t = await startTestGateway({
      policies: POLICIES, recorder,
      yaml: [
        'connections:',
        `  - { name: crm, type: postgres, url: "${up.url}" }`,
        `  - { name: openai, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`,
        `  - { name: masked, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`,
        'masking:',
        '  rules:',
        '    - { connections: [masked], direction: response, entities: [EMAIL], strategy: redact }',
      ].join('\n'),
    });
    const created = await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] });
    key = created.json.key as string;
  });
  after(async () => {
    await t.close();
    await fake.close();
    await up.stop();
  });

  test('JSON response through a masking connection: 503 store_unavailable problem, the completion is withheld', async () => {
    fake.behavior = { reply: 'the secret answer', chunk: 3 };
    const r = await chat(false, 'masked');
    assert.equal(r.status, 503);
    const body = await r.text();
    assert.match(body, /store_unavailable/);
    assert.ok(!body.includes('secret answer'));
  });

  test('unmasked pass-through JSON: the body is cut before its last byte', async () => {
    fake.behavior = { reply: 'the plain answer', chunk: 3 };
    await assert.rejects(async () => {
      const r = await chat(false);
      await r.text();
    }, /fetch failed|terminated|other side closed/);
  });

  test('SSE response: ends with an error event instead of [DONE]', async () => {
    fake.behavior = { reply: 'streamed text', chunk: 3 };
    const r = await chat(true);
    assert.equal(r.status, 200);
    const body = await r.text();
    assert.ok(!body.includes('[DONE]'), body);
    assert.match(body, /store_unavailable/);
  });

  test('PostgreSQL: the statement ends in an error and the connection is closed', async () => {
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, database: 'crm', user: 'alice', password: key });
    c.on('error', () => undefined);
    recorder.failing = false;
    await c.connect();
    recorder.failing = true;
    await assert.rejects(c.query('SELECT id FROM t'), /could not record the session/);
    await c.end().catch(() => undefined);
  });

  test('admission back-pressure: with the store failing and behind, a new exchange is refused (503) before any upstream call', async () => {
    recorder.refuseAdmission = true;
    const before = fake.received.length;
    try {
      const r = await chat(false);
      assert.equal(r.status, 503);
      assert.match(await r.text(), /store_unavailable/);
      assert.equal(fake.received.length, before, 'nothing was sent upstream');
    } finally {
      recorder.refuseAdmission = false;
    }
  });

  test('with a working store the same exchanges succeed', async () => {
    recorder.failing = false;
    fake.behavior = { reply: 'fine', chunk: 3 };
    const r = await chat(false);
    assert.equal(r.status, 200);
    const body = (await r.json()) as { choices: { message: { content: string } }[] };
    assert.equal(body.choices[0]?.message.content, 'fine');
    assert.ok(recorder.events.some((e) => e.type === 'session.open' && e.protocol === 'http'));
  });
});
