import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { startPgliteServer, type PgliteServer } from '../harness/pglite-server.ts';
import { startFakeLlm, FAKE_OPENAI_KEY, type FakeLlm } from '../harness/fake-llm.ts';
import { gatehouseCli, Psql } from '../harness/review-tools.ts';
import type { SessionInfo } from '../../src/recording/types.ts';
import { rewriteEvents, storedEvents } from '../harness/recording-tamper.ts';

const POLICIES = `${TEST_POLICIES}
@id("developers-use-models")
permit (principal in Group::"developers", action == Action::"llm.invoke", resource);
`;
const INIT = `CREATE TABLE customers (id int, name text, email text);
INSERT INTO customers VALUES (1, 'Ada', 'ada.lovelace@example.com'), (2, 'Grace', 'grace.hopper@example.com');`;
const RAW = ['ada.lovelace@example.com', 'grace.hopper@example.com', 'carol.secret@example.com', 'erin.smith@example.com'];

describe('recording end to end: psql and an OpenAI SDK stream, recorded masked, replayed, verified', () => {
  let up: PgliteServer;
  let fake: FakeLlm;
  let t: TestGateway;
  let key: string;
  let pgSession: SessionInfo;
  let llmSession: SessionInfo;
  const cli = (args: string[]): ReturnType<typeof gatehouseCli> => gatehouseCli(args, t.url, t.adminKey);

  before(async () => {
    up = await startPgliteServer(INIT);
    fake = await startFakeLlm();
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'connections:',
        `  - { name: crm, type: postgres, url: "${up.url}" }`,
        `  - { name: openai, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`,
        'masking:',
        '  rules:',
        '    - { connections: ["*"], direction: both, entities: [EMAIL], strategy: redact }',
      ].join('\n'),
    });
    const created = await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'], agent: 'helper' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    key = created.json.key as string;
  });
  after(async () => {
    await t.close();
    await fake.close();
    await up.stop();
  });

  test('a psql session: statements, a masked email column and a denial', async () => {
    const psql = Psql.start({ host: t.postgres.host, port: t.postgres.port, database: 'crm', password: key });
    psql.send("SELECT name, email FROM customers ORDER BY id;");
    await psql.waitFor(/\(2 rows\)/);
    assert.ok(psql.out.includes('[EMAIL]') && !psql.out.includes('ada.lovelace@'), psql.out);
    psql.send("SELECT name FROM customers WHERE email = 'grace.hopper@example.com';");
    await psql.waitFor(/\(1 row\)/);
    psql.send('DELETE FROM customers;');
    await psql.waitFor(/denied/i, 'err');
    psql.send('SELECT count(*) AS n FROM customers;');
    await psql.waitFor(/\(1 row\)[\s\S]*\(1 row\)/);
    psql.send('\\q');
    assert.equal(await psql.exited, 0);
  });

  test('an OpenAI SDK streaming exchange', async () => {
    fake.behavior = { reply: 'Write to carol.secret@example.com today.', chunk: 4 };
    const client = new OpenAI({ baseURL: `${t.url}/proxy/openai/v1`, apiKey: key, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Who is erin.smith@example.com?' }] });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    assert.equal(text, 'Write to [EMAIL] today.');
  });

  test('both sessions are listed; --decision deny finds the psql one', async () => {
    // The psql session's close is recorded when its connection ends; wait until it is committed.
    for (let i = 0; i < 40; i++) {
      await t.gw.services.recorder.flush?.();
      const r = await cli(['sessions', 'list', '--json']);
      assert.equal(r.code, 0, r.err);
      const items = JSON.parse(r.out) as SessionInfo[];
      const pg = items.find((s) => s.protocol === 'postgres' && s.connection === 'crm');
      const llm = items.find((s) => s.protocol === 'http' && s.connection === 'openai');
      if (pg?.closedAt !== undefined && llm) { pgSession = pg; llmSession = llm; break; }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(pgSession && llmSession, 'both sessions recorded');
    assert.equal(pgSession.user, 'alice');
    assert.equal(pgSession.agent, 'helper');
    const denied = await cli(['sessions', 'list', '--decision', 'deny', '--json']);
    assert.deepEqual((JSON.parse(denied.out) as SessionInfo[]).map((s) => s.id), [pgSession.id]);
  });

  test('exports are masked and complete; events ordered open … close', async () => {
    for (const s of [pgSession, llmSession]) {
      const r = await cli(['sessions', 'export', s.id, '--format', 'json']);
      assert.equal(r.code, 0, r.err);
      for (const v of RAW) assert.ok(!r.out.includes(v), `export of ${s.protocol} leaked ${v}`);
      const doc = JSON.parse(r.out) as { events: { type: string; data: Record<string, unknown> }[] };
      assert.equal(doc.events[0]?.type, 'session.open');
      const types = doc.events.map((e) => e.type);
      if (s === pgSession) {
        assert.equal(types.at(-1), 'session.close');
        // One event per statement: its text, decision and result (a denied one: at its decision).
        assert.deepEqual(types.slice(1, -1), ['statement', 'statement', 'statement', 'statement']);
        const [, all, where, del, count] = doc.events;
        assert.ok(String(where?.data.statement).includes('WHERE email = ') && where?.data.effect === 'allow' && where.data.rows === 1);
        assert.ok(String(del?.data.statement).startsWith('DELETE') && del?.data.effect === 'deny' && del.data.rows === undefined);
        assert.ok(String(count?.data.statement).includes('count(*)') && count?.data.tag === 'SELECT 1');
        // The rows as the client received them: column names and the masked values.
        const first = all;
        assert.deepEqual(first?.data.columns, ['name', 'email']);
        assert.deepEqual(first.data.sample, [['Ada', '[EMAIL]'], ['Grace', '[EMAIL]']]);
        assert.equal(first.data.sample_truncated, false);
        assert.equal(first.data.rows, 2);
      } else {
        // One event per exchange: its request, decision and response.
        assert.deepEqual(types, ['session.open', 'exchange']);
        assert.equal(doc.events[1]?.data.text, 'Write to [EMAIL] today.');
        assert.ok(String(doc.events[1]?.data.prompt).includes('[EMAIL]'));
        assert.equal(doc.events[1]?.data.effect, 'allow');
      }
    }
  });

  test('replay prints the statements, the prompt and the completion in time order', async () => {
    const pg = await cli(['sessions', 'replay', pgSession.id, '--speed', '100']);
    assert.equal(pg.code, 0, pg.err);
    const order = ['SELECT name, email FROM customers', 'name | email', 'Ada | [EMAIL]', 'WHERE email = ', 'DELETE FROM customers', 'SELECT count(*)'].map((s) => pg.out.indexOf(s));
    assert.ok(order.every((i, n) => i >= 0 && (n === 0 || i > order[n - 1]!)), pg.out);
    const llm = await cli(['sessions', 'replay', llmSession.id, '--speed', '100']);
    assert.equal(llm.code, 0, llm.err);
    const p = llm.out.indexOf('Who is [EMAIL]?');
    const c = llm.out.indexOf('Write to [EMAIL] today.');
    assert.ok(p >= 0 && c > p, llm.out);
  });

  test('verify: both intact (the open HTTP session too); a changed, deleted or inserted event is reported', async () => {
    for (const s of [pgSession, llmSession]) {
      const r = await cli(['sessions', 'verify', s.id]);
      assert.equal(r.code, 0, `${s.protocol}: ${r.out}${r.err}`);
    }
    const db = t.gw.services.db;
    const id = pgSession.id;
    await rewriteEvents(db, id, (es) => es.map((e) => (e.seq === 2 ? { ...e, text: '{"statement":"SELECT 1"}' } : e)));
    let r = await cli(['sessions', 'verify', id]);
    assert.equal(r.code, 1);
    assert.match(r.out + r.err, /event 2: changed/);
    const l = llmSession.id;
    const copy = (await storedEvents(db, l)).find((e) => e.seq === 2);
    assert.ok(copy);
    await rewriteEvents(db, l, (es) => es.filter((e) => e.seq !== 2));
    r = await cli(['sessions', 'verify', l]);
    assert.equal(r.code, 1);
    assert.match(r.out + r.err, /missing/);
    await rewriteEvents(db, l, (es) => [...es, copy].sort((x, y) => x.seq - y.seq));
    r = await cli(['sessions', 'verify', l]);
    assert.equal(r.code, 0, 'restored: intact again');
    await rewriteEvents(db, l, (es) => [...es.filter((e) => e.seq !== 5), { ...copy, seq: 5 }]);
    r = await cli(['sessions', 'verify', l]);
    assert.equal(r.code, 1);
    assert.match(r.out + r.err, /event 5: (changed|inserted)/);
  });
});
