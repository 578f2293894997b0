import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import type { StoredEvent } from '../../src/recording/types.ts';

// Review (session 12, commit 12b35c5): results pair with statements by batch and Execute order,
// not by portal. An extended batch that binds two portals and then executes them records the
// first portal's rows under the second statement's text (and the first statement without result).

const skip = await pgSkip();

describe('review: PostgreSQL statement records pair each result with the statement its portal ran', { skip }, () => {
  let t: TestGateway;
  let db: TestDatabase | undefined;
  let key: string;

  before(async () => {
    db = await getTestPostgres();
    assert.ok(db);
    const init = new pg.Client({ connectionString: db.url });
    await init.connect();
    await init.query('CREATE TABLE IF NOT EXISTS notes (body text)');
    await init.end();
    t = await startTestGateway({
      policies: TEST_POLICIES,
      yaml: ['connections:', `  - { name: app, type: postgres, url: "${db.url}" }`].join('\n'),
    });
    const created = await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'], agent: 'bot' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    key = String(created.json.key);
  });
  after(async () => {
    await t?.close();
    await db?.stop();
  });

  async function closedSession(): Promise<StoredEvent[]> {
    const sessions = t.gw.services.sessions;
    for (let i = 0; i < 200; i++) {
      await t.gw.services.recorder.flush?.();
      await t.gw.services.recorder.settled?.();
      const [s] = await sessions.list({ connection: 'app', limit: 1 });
      if (s?.closedAt !== undefined) {
        const events: StoredEvent[] = [];
        for await (const e of sessions.allEvents(s.id)) events.push(e);
        return events;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the session was not recorded');
  }

  test('two portals bound, then executed: each statement record carries its own rows', async () => {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
    try {
      c.send(
        fe.parse('s1', "SELECT 'one' AS v"), fe.bind('p1', 's1'),
        fe.parse('s2', "SELECT 'two' AS w"), fe.bind('p2', 's2'),
        fe.execute('p1'), fe.execute('p2'), fe.sync(),
      );
      await c.until(0x5a);
    } finally { c.close(); }
    const events = await closedSession();
    const stmts = events.filter((e) => e.type === 'statement').map((e) => e.data);
    const one = stmts.find((d) => d.name === 's1');
    const two = stmts.find((d) => d.name === 's2');
    assert.ok(one && two, JSON.stringify(stmts));
    // A record that carries a result must carry the result of *its* statement.
    if (two.sample !== undefined) assert.deepEqual(two.sample, [['two']], `s2's record holds the rows of p1 (s1): ${JSON.stringify(two)}`);
    if (one.sample !== undefined) assert.deepEqual(one.sample, [['one']]);
    if (two.columns !== undefined) assert.deepEqual(two.columns, ['w']);
  });

  test('a named statement bound twice, portals executed in bind order: params pair with their rows', async () => {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
    try {
      c.send(fe.parse('n', 'SELECT $1::text AS v'), fe.sync());
      await c.until(0x5a);
      c.send(fe.bind('pa', 'n', ['alpha']), fe.bind('pb', 'n', ['beta']), fe.execute('pa'), fe.execute('pb'), fe.sync());
      await c.until(0x5a);
    } finally { c.close(); }
    const events = await closedSession();
    const binds = events.filter((e) => e.type === 'statement' && e.data.message === 'bind').map((e) => e.data);
    for (const d of binds) {
      if (d.sample !== undefined) assert.deepEqual(d.sample, [[(d.params as string[])[0]]], `a Bind's record holds another portal's rows: ${JSON.stringify(d)}`);
    }
  });

  test('a multi-statement Query whose second statement fails: the error is recorded (the first result was rolled back)', async () => {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
    try {
      c.send(fe.query("SELECT 'first' AS v; SELECT 1/0"));
      await c.until(0x5a);
    } finally { c.close(); }
    const events = await closedSession();
    const all = JSON.stringify(events.map((e) => [e.type, e.data]));
    // The statement record says "SELECT 1 (1 rows)" and nothing records the 22012 that failed
    // (and, in the Query's implicit transaction, undid) it: a `DELETE …; SELECT 1/0` reads as a
    // DELETE that happened.
    assert.ok(all.includes('22012'), `the server error of the Query is not recorded: ${all}`);
  });
});
