import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { pgBackends, type UpstreamDb } from '../harness/pglite-server.ts';
import { getTestPostgres } from '../harness/postgres-server.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import { BYPASS_CORPUS } from '../fixtures/sql-bypass-corpus.ts';
import { MemoryRecorder } from '../../src/recording/recorder.ts';
import { parseDataRow, parseErrorFields, parseReadyForQuery } from '../../src/protocols/postgres/backend-messages.ts';

const INIT = `
CREATE TABLE customers (id int PRIMARY KEY, email text, name text, note text, ssn text);
INSERT INTO customers VALUES
  (1, 'bob@example.com', 'Bob Builder', 'call bob@example.com', '123-45-6789'),
  (2, 'al@example.org', 'Al Gore', 'nothing', '987-65-4321');
CREATE TABLE items (id int, label text);
`;

async function key(t: TestGateway, body: Record<string, unknown>): Promise<string> {
  const r = await t.api('POST', '/api/v1/api-keys', body);
  assert.equal(r.status, 201);
  return String(r.json.key);
}

const backends = await pgBackends(getTestPostgres);

for (const backend of backends) {
  describe(`PostgreSQL proxy over ${backend.name}`, () => {
    let up: UpstreamDb;
    let t: TestGateway;
    let dev: string;
    let agent: string;
    const recorder = new MemoryRecorder();
    const client = (password: string, database = 'app'): pg.Client => {
      const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'u', database, password });
      c.on('error', () => undefined);
      return c;
    };

    before(async () => {
      up = await backend.start(INIT);
      t = await startTestGateway({
        recorder,
        env: { APP_DB_PASSWORD: up.password ?? 'unused' },
        yaml: [
          'connections:',
          `  - { name: app, type: postgres, url: "${up.url}", credentials: { password: "\${APP_DB_PASSWORD}" } }`,
          '  - { name: web, type: http, url: "http://127.0.0.1:1" }',
          'masking:',
          '  hash_key: "0123456789abcdef0123456789abcdef"',
          '  rules:',
          '    - { connections: [app], direction: response, entities: [EMAIL, US_SSN], strategy: redact }',
          '    - { connections: [app], columns: { "customers.name": partial, "public.customers.ssn": hash } }',
        ].join('\n'),
      });
      dev = await key(t, { user: 'dev', groups: ['developers'] });
      agent = await key(t, { user: 'reader', agent: 'bot', groups: ['developers'] });
    });
    after(async () => {
      await t.close();
      await up.stop();
    });

    test('simple and prepared queries pass through with column and content masking', async () => {
      const c = client(dev);
      await c.connect();
      try {
        const r = await c.query<{ id: number; email: string; name: string; note: string; ssn: string }>('SELECT id, email, name, note, ssn FROM customers ORDER BY id');
        assert.equal(r.rows.length, 2);
        const first = r.rows[0]!;
        assert.deepEqual(first, { id: 1, email: '[EMAIL]', name: '****lder', note: 'call [EMAIL]', ssn: first.ssn });
        assert.match(first.ssn, /^\[HASH:[0-9a-f]{12}\]$/);
        for (const id of [1, 2, 1]) {
          const p = await c.query({ name: 'by-id', text: 'SELECT email, name, id + 0 AS n FROM customers WHERE id = $1', values: [id] });
          assert.deepEqual(p.rows, [{ email: '[EMAIL]', name: id === 1 ? '****lder' : '[REDACTED]', n: id }]);
        }
        // An alias does not hide a masked column: it is resolved by table OID + attribute number.
        const alias = await c.query('SELECT name AS x FROM customers WHERE id = 2');
        assert.deepEqual(alias.rows, [{ x: '[REDACTED]' }]);
      } finally { await c.end(); }
    });

    test('server errors quoting row values are masked; with column rules a write has its whole text withheld', async () => {
      const c = client(dev);
      await c.connect();
      try {
        // The message quotes the input: masked with the connection's detectors.
        const cast = await c.query("SELECT 'carol.secret@example.com'::int").then(() => undefined, (e: unknown) => e as { message: string });
        assert.ok(cast);
        assert.match(cast.message, /invalid input syntax for type integer: "\[EMAIL\]"/);
        // "Failing row contains (…)" would show every column, masked or not: withheld.
        const row = await c.query("INSERT INTO customers VALUES (NULL, 'carol.secret@example.com', 'Carol Secret', 'n', '111-22-3333')").then(() => undefined, (e: unknown) => e as { message: string; detail?: string; code?: string });
        assert.ok(row);
        assert.equal(row.code, '23502');
        // A write fires the table's triggers (code the analysis does not see): its whole text is withheld.
        assert.equal(row.detail, undefined);
        assert.match((row as { message: string }).message, /^Gatehouse withheld the server's message \(SQLSTATE 23502\): the statement touches a column whose source cannot be seen/);
        for (const v of ['carol.secret@example.com', 'Carol Secret', '111-22-3333']) assert.ok(!JSON.stringify(row).includes(v), v);
        assert.equal((await c.query<{ ok: number }>('SELECT 1 AS ok')).rows[0]?.ok, 1, 'the session stays usable');
      } finally { await c.end(); }
    });

    test('a pool runs concurrent sessions', async () => {
      const pool = new pg.Pool({ host: t.postgres.host, port: t.postgres.port, user: 'u', database: 'app', password: dev, max: 4 });
      try {
        const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => pool.query<{ i: number }>('SELECT $1::int AS i', [i])));
        assert.deepEqual(rs.map((r) => r.rows[0]!.i), Array.from({ length: 12 }, (_, i) => i));
      } finally { await pool.end(); }
    });

    test('pg-query-stream streams a large masked result row by row', async () => {
      const c = client(dev);
      await c.connect();
      try {
        const stream = c.query(new QueryStream("SELECT g AS n, 'user' || g || '@example.com' AS mail FROM generate_series(1, 20000) g", [], { batchSize: 500 }));
        let n = 0;
        for await (const row of stream as AsyncIterable<{ n: number; mail: string }>) {
          n++;
          assert.equal(row.mail, '[EMAIL]');
        }
        assert.equal(n, 20000);
        assert.deepEqual((await c.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
      } finally { await c.end(); }
    });

    test('denied statements get 42501 naming the reason; the session stays usable', async () => {
      const c = client(agent);
      await c.connect();
      try {
        await assert.rejects(c.query('DELETE FROM customers'), (e: Error & { code?: string }) => {
          assert.equal(e.code, '42501');
          assert.match(e.message, /agents-no-writes/);
          return true;
        });
        assert.deepEqual((await c.query('SELECT count(*)::int AS n FROM customers')).rows, [{ n: 2 }]);
        // Extended protocol, named statement.
        await assert.rejects(c.query({ name: 'w', text: 'UPDATE customers SET note = $1', values: ['x'] }), { code: '42501' });
        assert.deepEqual((await c.query({ name: 'r', text: 'SELECT $1::int AS v', values: [7] })).rows, [{ v: 7 }]);
        // Inside a transaction the denial aborts it, as a server-side permission error would.
        await c.query('BEGIN');
        await assert.rejects(c.query('DROP TABLE customers'), { code: '42501' });
        await assert.rejects(c.query('SELECT 1'), { code: '25P02' });
        await c.query('ROLLBACK');
        assert.deepEqual((await c.query('SELECT 2 AS two')).rows, [{ two: 2 }]);
      } finally { await c.end(); }
    });

    test('a pipelined extended batch: earlier results arrive, then the error, then ReadyForQuery', async () => {
      const raw = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'u', 'app', agent);
      try {
        raw.send(
          fe.parse('', 'SELECT 1 AS a'), fe.bind('', ''), fe.execute(''),
          fe.parse('', 'DELETE FROM customers'), fe.bind('', ''), fe.execute(''),
          fe.parse('', 'SELECT 3'), fe.bind('', ''), fe.execute(''),
          fe.sync(), fe.query('SELECT 4 AS d'),
        );
        const first = await raw.until(0x5a);
        assert.deepEqual(first.map((f) => raw.describe(f)).map((s) => s.slice(0, 8)), ['1', '2', 'D', 'C', 'E(42501:', 'Z']);
        assert.match(parseErrorFields(first[4]!.body).get('M') ?? '', /agents-no-writes/);
        assert.equal(parseReadyForQuery(first[5]!.body), 0x49);
        const second = await raw.until(0x5a);
        const row = second.find((f) => f.type === 0x44)!;
        assert.equal(parseDataRow(row.body)[0]!.toString(), '4');
        // Inside an explicit transaction, the status after the denial is E.
        raw.send(fe.query('BEGIN'));
        await raw.until(0x5a);
        raw.send(fe.parse('s', 'TRUNCATE customers'), fe.bind('', 's'), fe.execute(''), fe.sync());
        const third = await raw.until(0x5a);
        assert.deepEqual(third.map((f) => raw.describe(f).slice(0, 8)), ['E(42501:', 'Z']);
        assert.equal(parseReadyForQuery(third[1]!.body), 0x45);
        raw.send(fe.query('ROLLBACK'));
        const fourth = await raw.until(0x5a);
        assert.equal(parseReadyForQuery(fourth.at(-1)!.body), 0x49);
      } finally { raw.close(); }
    });

    test('bypass corpus: every write/DDL/admin trick is denied with 42501, then SELECT 1 works', async () => {
      const c = client(agent);
      await c.connect();
      try {
        for (const entry of BYPASS_CORPUS) {
          await assert.rejects(c.query(entry.sql), (e: Error & { code?: string }) => {
            assert.equal(e.code, '42501', `${entry.name}: ${e.message}`);
            return true;
          }, entry.name);
          assert.deepEqual((await c.query('SELECT 1 AS one')).rows, [{ one: 1 }], entry.name);
        }
        // EXECUTE of a statement prepared by Parse needs what the statement needs.
        await assert.rejects(c.query('EXECUTE nope'), { code: '42501' });
      } finally { await c.end(); }
    });

    test('authentication: bad credential 28P01 (audited), unknown database 3D000, options refused', async () => {
      await assert.rejects(client('ghk_' + 'x'.repeat(40)).connect(), { code: '28P01' });
      const audit = await t.api('GET', '/api/v1/audit?kind=auth.failure');
      const items = audit.json.items as { detail: Record<string, unknown> }[];
      assert.ok(items.some((i) => i.detail.surface === 'postgres'));
      assert.ok(!JSON.stringify(items).includes('x'.repeat(40)));
      await assert.rejects(client(dev, 'nope').connect(), { code: '3D000' });
      await assert.rejects(client(dev, 'web').connect(), { code: '3D000' });
      const opt = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'u', database: 'app', password: dev, options: '-c role=postgres' });
      opt.on('error', () => undefined);
      await assert.rejects(opt.connect(), { code: '0A000' });
    });

    test('malformed input: 08P01 and close; the gateway keeps serving', async () => {
      const raw = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'u', 'app', dev);
      raw.send(Buffer.from([0x01, 0, 0, 0, 4]));
      const f = await raw.next();
      assert.equal(parseErrorFields(f.body).get('C'), '08P01');
      const huge = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'u', 'app', dev);
      huge.send(Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]));
      assert.equal(parseErrorFields((await huge.next()).body).get('C'), '08P01');
      const c = client(dev);
      await c.connect();
      assert.deepEqual((await c.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
      await c.end();
    });

    test('recording: session, statements, decisions and row counts', async () => {
      const c = client(dev);
      await c.connect();
      await c.query("SELECT id FROM customers WHERE email = 'bob@example.com'");
      await c.end();
      await new Promise((r) => setTimeout(r, 50));
      const ev = recorder.events.filter((e) => e.connection === 'app' && e.user === 'dev');
      const types = new Set(ev.map((e) => e.type));
      for (const ty of ['session.open', 'statement', 'session.close'] as const) assert.ok(types.has(ty), ty);
      // One event per statement exchange: the masked text, the decision and the result.
      const st = ev.find((e) => e.type === 'statement' && String(e.data.statement).includes('WHERE email'));
      assert.ok(st);
      assert.ok(!String(st.data.statement).includes('bob@example.com'), 'the recorded statement is masked');
      assert.equal(st.data.effect, 'allow');
      assert.equal(st.data.rows, 1);
      assert.equal(st.data.tag, 'SELECT 1');
    });
  });
}
