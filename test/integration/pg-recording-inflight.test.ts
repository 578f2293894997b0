import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { TestGateway } from '../harness/gateway.ts';
import { startPgRecordingRig, type PgRecordingRig } from '../harness/pg-recording.ts';
import { pgSkip } from '../harness/postgres-server.ts';
import type { StoredEvent } from '../../src/recording/types.ts';

// Review (session 12, regression of 12b35c5; review branch ed09809): a statement was recorded only
// when it completed, so a gateway killed mid-statement left no trace of a statement the server
// went on to run. A statement still running after one group-commit interval is now recorded
// without its result, which follows as a `response` event; a fast one stays one `statement` event.

const skip = await pgSkip();

describe('PostgreSQL: a running statement is recorded while it runs', { skip }, () => {
  let rig: PgRecordingRig | undefined;
  let t: TestGateway;
  let key: string;

  before(async () => {
    rig = await startPgRecordingRig();
    ({ t, key } = rig);
  });
  after(async () => {
    await rig?.close();
  });

  async function events(closed: boolean): Promise<StoredEvent[]> {
    const sessions = t.gw.services.sessions;
    for (let i = 0; i < 200; i++) {
      await t.gw.services.recorder.flush?.();
      await t.gw.services.recorder.settled?.();
      const [s] = await sessions.list({ connection: 'app', limit: 1 });
      if (s && (s.closedAt !== undefined) === closed) {
        const out: StoredEvent[] = [];
        for await (const e of sessions.allEvents(s.id)) out.push(e);
        return out;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the session was not recorded');
  }

  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'dev', database: 'app', password: key });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };

  test('a statement running longer than the interval is in the store before it completes; its result follows as a response', async () => {
    const c = await connect();
    try {
      const running = c.query("SELECT pg_sleep(2), 'slow-marker' AS v");
      running.catch(() => undefined);
      // Recorded within two 200 ms sweep intervals; 1.2 s leaves room on a loaded machine.
      await new Promise((r) => setTimeout(r, 1200));
      const during = await events(false);
      const stmt = during.filter((e) => e.type === 'statement' && JSON.stringify(e.data).includes('slow-marker'));
      assert.equal(stmt.length, 1, `the running statement is not recorded: ${JSON.stringify(during.map((e) => e.data))}`);
      assert.equal(stmt[0]!.data.effect, 'allow', 'its decision is recorded with it');
      assert.equal(stmt[0]!.data.tag, undefined, 'recorded without its result');
      await running;
    } finally { await c.end(); }
    const all = await events(true);
    const i = all.findIndex((e) => e.type === 'statement' && JSON.stringify(e.data).includes('slow-marker'));
    assert.ok(i >= 0);
    const resp = all.slice(i + 1).find((e) => e.type === 'response');
    assert.ok(resp, `its result follows as a response event: ${JSON.stringify(all.map((e) => [e.type, e.data]))}`);
    assert.equal(resp.data.tag, 'SELECT 1');
    assert.deepEqual(resp.data.sample, [['', 'slow-marker']]);
    assert.equal(all.filter((e) => e.type === 'statement' && JSON.stringify(e.data).includes('slow-marker')).length, 1, 'recorded once');
  });

  test('fast statements stay one statement event each (request, decision and result), in order', async () => {
    const c = await connect();
    try {
      for (let i = 0; i < 20; i++) await c.query(`SELECT ${i} AS fast_${i}`);
    } finally { await c.end(); }
    const all = await events(true);
    const fast = all.filter((e) => e.type === 'statement' && /fast_\d+/.test(String(e.data.statement)));
    assert.equal(fast.length, 20, JSON.stringify(all.map((e) => e.data)));
    fast.forEach((e, i) => {
      assert.equal(e.data.statement, `SELECT ${i} AS fast_${i}`);
      assert.equal(e.data.tag, 'SELECT 1', 'recorded with its result');
      assert.equal(e.data.effect, 'allow');
    });
    assert.equal(all.filter((e) => e.type === 'response').length, 0, 'no result recorded on its own');
  });
});
