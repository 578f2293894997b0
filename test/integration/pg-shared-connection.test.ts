import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import { MessageWriter } from '../../src/protocols/postgres/writer.ts';

/**
 * Issue 15 item 8: no session dies of the shared catalog connection's death (the server closed
 * it: a terminated backend, a restart, an idle timeout) — it is reopened and the lookup retried;
 * and a denied FunctionCall answers exactly one ReadyForQuery.
 */

const INIT = `
CREATE TABLE customers (id int, phone text);
INSERT INTO customers VALUES (1, '555-867-5309');
CREATE TABLE t1 (id int, phone text); INSERT INTO t1 VALUES (1, 'a');
CREATE TABLE t2 (id int, phone text); INSERT INTO t2 VALUES (2, 'b');
CREATE TABLE t3 (id int, phone text); INSERT INTO t3 VALUES (3, 'c');
`;

const skip = await pgSkip();

function split(url: string): { url: string; password: string } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), password };
}

describe('the shared catalog connection and FunctionCall (real PostgreSQL)', { skip }, () => {
  let db: TestDatabase;
  let t: TestGateway;
  let dev: string;
  let admin: pg.Client;
  const killCatalog = async (): Promise<number> => {
    const r = await admin.query<{ n: string }>("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = 'gatehouse-catalog' AND datname = current_database()");
    return Number(r.rows[0]?.n);
  };

  before(async () => {
    const d = await getTestPostgres();
    if (!d) throw new Error('no PostgreSQL');
    db = d;
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(INIT);
    const { url, password } = split(db.url);
    t = await startTestGateway({
      policies: TEST_POLICIES,
      yaml: [
        'connections:',
        `  - { name: crm, type: postgres, url: "${url}", credentials: { password: "${password || 'unused'}" } }`,
        'masking:',
        '  rules:',
        '    - { connections: [crm], columns: { "t1.phone": redact, "t2.phone": redact, "t3.phone": redact, "customers.phone": redact } }',
      ].join('\n'),
    });
    dev = String((await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key);
  });
  after(async () => { await admin.end(); await t.close(); await db.stop(); });

  test('a terminated catalog backend is reconnected: the next lookup works, the session lives (node-pg, text and binary)', async () => {
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'dev', database: 'crm', password: dev });
    await c.connect();
    try {
      assert.equal((await c.query<{ phone: string }>('SELECT phone FROM customers')).rows[0]?.phone, '[REDACTED]');
      for (const [i, table] of ['t1', 't2', 't3'].entries()) {
        await new Promise((r) => setTimeout(r, 100));
        assert.ok(await killCatalog() >= 1, 'the catalog connection was open');
        await new Promise((r) => setTimeout(r, 100));
        // a new table: its columns must be looked up on the (dead) shared connection
        const r = await c.query<{ phone: string }>({ text: `SELECT phone FROM ${table}`, ...(i === 1 ? { binary: true } : {}) });
        assert.equal(r.rows[0]?.phone, '[REDACTED]', table);
      }
      assert.equal((await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
    } finally { await c.end(); }
  });

  test('a denied FunctionCall answers one ErrorResponse and one ReadyForQuery; the session goes on', async () => {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'crm', dev);
    try {
      const call = new MessageWriter().int32(1598).int16(0).int16(0).int16(0).frame(0x46);
      for (let i = 0; i < 3; i++) {
        c.send(call);
        const got = await c.until(0x5a);
        assert.deepEqual(got.map((f) => String.fromCharCode(f.type)), ['E', 'Z']);
      }
      // after an extended batch too; then nothing more arrives before the next query's answer
      c.send(fe.parse('', 'SELECT 1'), fe.bind('', ''), fe.execute(''), fe.sync(), call);
      const batch = await c.until(0x5a);
      assert.deepEqual(batch.map((f) => String.fromCharCode(f.type)), ['1', '2', 'D', 'C', 'Z']);
      assert.deepEqual((await c.until(0x5a)).map((f) => String.fromCharCode(f.type)), ['E', 'Z']);
      c.send(fe.query('SELECT 2'));
      assert.deepEqual((await c.until(0x5a)).map((f) => String.fromCharCode(f.type)), ['T', 'D', 'C', 'Z']);
    } finally { c.close(); }
  });
});
