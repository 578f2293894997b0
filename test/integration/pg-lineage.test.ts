import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip } from '../harness/postgres-server.ts';
import { runProcess } from '../harness/run.ts';
import { LINEAGE_INIT, LINEAGE_MASKING, leakFingerprints } from '../fixtures/pg-lineage-db.ts';

/** Every value as the server's text (or binary bytes as UTF-8), never parsed by the driver. */
const RAW_TYPES = { getTypeParser: () => (v: string | Buffer) => (Buffer.isBuffer(v) ? v.toString('utf8') : v) };

export const LINEAGE_POLICIES = `
@id("developers-read")
permit (principal in Group::"developers", action == Action::"sql.read", resource);
@id("developers-write")
permit (principal in Group::"developers", action == Action::"sql.write", resource);
@id("agents-no-protected-oracles")
forbid (principal, action == Action::"sql.read", resource)
when { context has agent && context has sql && !context.sql.protected_filters.isEmpty() };
`;

/** A TCP pass-through in front of the gateway that keeps every byte sent to the client. */
export class ClientTap {
  readonly server: Server;
  received: Buffer[] = [];
  constructor(target: { host: string; port: number }) {
    this.server = createServer((sock) => {
      const up = connect(target.port, target.host);
      sock.on('error', () => up.destroy());
      up.on('error', () => sock.destroy());
      up.on('data', (d: Buffer) => { this.received.push(d); });
      sock.pipe(up);
      up.pipe(sock);
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new Error('no port');
    return a.port;
  }
  /** The fingerprints of protected values found in the bytes sent to clients. */
  leaks(): string[] {
    const all = Buffer.concat(this.received).toString('latin1');
    return leakFingerprints().filter((f) => all.includes(f));
  }
}

const skip = await pgSkip();

describe('column lineage: a column rule holds in every result shape (real PostgreSQL)', { skip }, () => {
  let up: { url: string; stop(): Promise<void> };
  let t: TestGateway;
  let tap: ClientTap;
  let tapPort: number;
  let dev: string;
  let agent: string;
  const client = (password: string, binary = false): pg.Client => {
    // node-pg reads `binary` (result format of extended queries) though its types omit it.
    const config: pg.ClientConfig & { binary: boolean } = { host: '127.0.0.1', port: tapPort, user: 'u', database: 'app', password, types: RAW_TYPES, binary };
    const c = new pg.Client(config);
    c.on('error', () => undefined);
    return c;
  };

  before(async () => {
    const db = await getTestPostgres();
    if (!db) throw new Error('no PostgreSQL');
    up = db;
    const setup = new pg.Client({ connectionString: db.url });
    await setup.connect();
    await setup.query(LINEAGE_INIT);
    await setup.end();
    t = await startTestGateway({
      policies: LINEAGE_POLICIES,
      yaml: ['connections:', `  - { name: app, type: postgres, url: "${db.url}" }`, ...LINEAGE_MASKING].join('\n'),
    });
    dev = String((await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key);
    agent = String((await t.api('POST', '/api/v1/api-keys', { user: 'reader', agent: 'bot', groups: ['developers'] })).json.key);
    tap = new ClientTap(t.postgres);
    tapPort = await tap.listen();
  });
  after(async () => {
    tap.server.close();
    await t.close();
    await up.stop();
  });

  /** Every value of every row, as text. */
  async function values(c: pg.Client, sql: string, params?: unknown[]): Promise<(string | null)[]> {
    const r = await c.query({ text: sql, rowMode: 'array', ...(params ? { values: params } : {}) });
    return (r.rows as (string | null)[][]).flat();
  }

  const DERIVED = [
    "phone || ''", 'upper(phone)', 'phone::varchar', 'phone COLLATE "C"', "coalesce(phone, 'none')",
    "CASE WHEN phone LIKE '555%' THEN phone ELSE 'x' END", 'substr(phone, 1, 3)', 'substr(phone, 5)', "replace(phone, '-', '')",
    'reverse(phone)', "translate(phone, '0123456789', 'abcdefghij')", "encode(convert_to(phone, 'UTF8'), 'base64')",
    'length(phone)', 'ROW(phone)', '(c).phone', 'c', 'to_json(c)', 'c::text', 'row_to_json(c)', 'ARRAY[phone]',
    'tag(c)', 'c.tag', "format('%s!', phone)", 'md5(phone)', 'left(phone, 7)', "split_part(phone, '-', 3)",
    '(SELECT phone FROM customers x WHERE x.id = c.id)', "EXISTS (SELECT 1 FROM customers x WHERE x.phone = c.phone AND x.phone LIKE '555-8%')",
    'hidden_phone()', 'row_number() OVER (ORDER BY phone)', "to_jsonb(c) ->> 'phone'",
  ];

  for (const binary of [false, true]) {
    test(`node-pg (${binary ? 'binary' : 'text'}): every expression over a protected column is redacted`, async () => {
      const c = client(dev, binary);
      await c.connect();
      try {
        for (const e of DERIVED) {
          for (const params of [undefined, [1]]) {
            const where = params ? ' WHERE c.id >= $1' : '';
            const got = await values(c, `SELECT ${e} FROM customers c${where}`, params);
            assert.equal(got.length, 2, e);
            for (const v of got) assert.ok(v === null || v === '[REDACTED]', `${e} → ${String(v)}`);
          }
        }
        for (const sql of [
          'SELECT array_agg(phone) FROM customers', "SELECT string_agg(phone, ',') FROM customers", 'SELECT json_agg(c) FROM customers c',
          "SELECT phone FROM customers UNION SELECT 'x'", 'SELECT max(phone) FROM customers', 'SELECT u FROM v_upper',
          'WITH RECURSIVE r(n, p) AS (SELECT 1, phone FROM customers WHERE id = 1 UNION ALL SELECT n + 1, p || n FROM r WHERE n < 3) SELECT p FROM r',
          'SELECT x.v FROM customers c, LATERAL (SELECT c.phone || \'\' AS v) x', 'SELECT v FROM (VALUES ((SELECT phone FROM customers LIMIT 1))) t(v)',
          'SELECT * FROM unnest((SELECT array_agg(phone) FROM customers))', "SELECT j.value FROM customers c, json_each_text(to_json(c)) j WHERE j.key = 'phone'",
        ]) {
          for (const v of await values(c, sql)) assert.ok(v === null || v === '[REDACTED]', `${sql} → ${String(v)}`);
        }
      } finally { await c.end(); }
      assert.deepEqual(tap.leaks(), []);
    });
  }

  test('a bare reference keeps its strategy; clean columns and content detectors are untouched', async () => {
    const c = client(dev);
    await c.connect();
    try {
      assert.deepEqual(await values(c, 'SELECT id, name, phone, email FROM customers WHERE id = 1'), ['1', '****lder', '[REDACTED]', '[EMAIL]']);
      assert.deepEqual(await values(c, 'SELECT p, n FROM (SELECT phone AS p, name AS n FROM customers WHERE id = 1) s'), ['[REDACTED]', '****lder']);
      assert.deepEqual(await values(c, 'SELECT * FROM v_phone WHERE id = 2'), ['2', '[REDACTED]']);
      assert.deepEqual(await values(c, 'SELECT o.total, upper(c.email) FROM orders o JOIN customers c ON c.id = o.customer_id ORDER BY o.id'), ['100', 'BOB@EXAMPLE.COM', '250', 'AL@EXAMPLE.ORG'].map((v) => (v.includes('@') ? '[EMAIL]' : v)));
      assert.deepEqual(await values(c, 'SELECT count(*), sum(total) FROM orders'), ['2', '350']);
    } finally { await c.end(); }
  });

  test('cursors, SQL PREPARE/EXECUTE and RETURNING carry the lineage of their query', async () => {
    const c = client(dev);
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query("DECLARE k CURSOR FOR SELECT id, phone || '' FROM customers ORDER BY id");
      assert.deepEqual(await values(c, 'FETCH ALL FROM k'), ['1', '[REDACTED]', '2', '[REDACTED]']);
      await c.query('CLOSE k');
      // A cursor opened where Gatehouse cannot see it (inside a function) cannot be fetched.
      await values(c, 'SELECT open_phones()');
      const hidden = await c.query('FETCH ALL FROM phones').then(() => undefined, (e: unknown) => e as { code?: string; message: string });
      assert.equal(hidden?.code, '42501');
      await c.query('ROLLBACK');
      await c.query('PREPARE p AS SELECT id, upper(phone) FROM customers WHERE id = $1');
      assert.deepEqual(await values(c, 'EXECUTE p(2)'), ['2', '[REDACTED]']);
      await c.query('DEALLOCATE p');
      assert.deepEqual(await values(c, "UPDATE customers SET email = email WHERE id = 1 RETURNING id, phone || '!'"), ['1', '[REDACTED]']);
      const copy = await c.query('COPY (SELECT phone FROM customers) TO STDOUT').then(() => undefined, (e: unknown) => e as { code?: string; message: string });
      assert.equal(copy?.code, '42501');
      assert.match(copy?.message ?? '', /protected column public\.customers\.phone/);
    } finally { await c.end(); }
    assert.deepEqual(tap.leaks(), []);
  });

  test('server texts that could quote a protected value are withheld', async () => {
    const c = client(dev);
    await c.connect();
    const notices: string[] = [];
    c.on('notice', (n) => notices.push(JSON.stringify(n)));
    try {
      for (const sql of ['SELECT phone::int FROM customers', 'SELECT id FROM customers WHERE phone::int > 0', 'SELECT 1 / (length(phone) - 12) FROM customers']) {
        const e = await c.query(sql).then(() => undefined, (err: unknown) => err as { code?: string; message: string });
        assert.ok(e, sql);
        assert.match(e.message, /Gatehouse withheld the server's message \(SQLSTATE [0-9A-Z]{5}\): the statement reads protected column public\.customers\.phone/);
      }
      await values(c, 'SELECT shout(phone) FROM customers');
      assert.equal(notices.length, 2);
      for (const n of notices) assert.match(n, /withheld/);
      // A statement that reads no protected column keeps the server's own message.
      const plain = await c.query("SELECT 'abc'::int").then(() => undefined, (err: unknown) => err as { message: string });
      assert.match(plain?.message ?? '', /invalid input syntax for type integer: "abc"/);
    } finally { await c.end(); }
    assert.deepEqual(tap.leaks(), []);
  });

  test('values derived from a protected column cannot be written, notified or set where rules cannot follow', async () => {
    const c = client(dev);
    await c.connect();
    try {
      for (const sql of [
        'INSERT INTO orders SELECT id + 100, id, length(phone) FROM customers', "UPDATE customers SET name = reverse(phone) WHERE id = 1",
        'CREATE TABLE stolen AS SELECT phone FROM customers', 'SELECT phone INTO stolen2 FROM customers', "SELECT pg_notify('ch', phone) FROM customers",
        "SELECT set_config('application_name', phone, false) FROM customers",
        'WITH x AS (INSERT INTO orders SELECT id + 200, id, length(phone) FROM customers RETURNING id) SELECT count(*) FROM x',
      ]) {
        const e = await c.query(sql).then(() => undefined, (err: unknown) => err as { code?: string; message: string });
        assert.equal(e?.code, '42501', sql);
        assert.match(e?.message ?? '', /values derived from protected column public\.customers\.phone/, sql);
      }
      assert.deepEqual(await values(c, 'INSERT INTO orders VALUES (99, 1, 5) RETURNING id'), ['99']);
      assert.deepEqual(await values(c, "SELECT count(*) FROM pg_class WHERE relname LIKE 'stolen%'"), ['0']);
    } finally { await c.end(); }
    assert.deepEqual(tap.leaks(), []);
  });

  test('facts: a policy can forbid protected columns as an equality oracle (agents)', async () => {
    const a = client(agent);
    await a.connect();
    try {
      for (const sql of ["SELECT id FROM customers WHERE phone = '555-867-5309'", 'SELECT id FROM customers ORDER BY phone', "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id AND c.phone LIKE '555-8%'"]) {
        const e = await a.query(sql).then(() => undefined, (err: unknown) => err as { code?: string; message: string });
        assert.equal(e?.code, '42501', sql);
        assert.match(e?.message ?? '', /agents-no-protected-oracles/);
      }
      assert.deepEqual(await values(a, 'SELECT id, phone FROM customers WHERE id = 1'), ['1', '[REDACTED]']);
    } finally { await a.end(); }
    const d = client(dev);
    await d.connect();
    try {
      assert.deepEqual(await values(d, "SELECT id FROM customers WHERE phone = '555-867-5309'"), ['1']);
    } finally { await d.end(); }
  });

  test('psql and psycopg 3 (text and binary) get redacted values', async () => {
    const env = { ...process.env, PGPASSWORD: dev, PGHOST: '127.0.0.1', PGPORT: String(tapPort), PGUSER: 'dev', PGDATABASE: 'app', PGCONNECT_TIMEOUT: '10' };
    const q = await runProcess('psql', ['-X', '-A', '-t', '-c', "SELECT upper(phone), phone || '', c FROM customers c ORDER BY id"], { env });
    assert.equal(q.code, 0, q.err);
    assert.equal(q.out.trim(), '[REDACTED]|[REDACTED]|[REDACTED]\n[REDACTED]|[REDACTED]|[REDACTED]');
    const script = [
      'import psycopg',
      `conn = psycopg.connect(host="127.0.0.1", port=${tapPort}, user="dev", password="${dev}", dbname="app")`,
      'for binary in (False, True):',
      '    cur = conn.cursor(binary=binary)',
      "    cur.execute(\"SELECT reverse(phone), array_agg(phone)::text FROM customers WHERE id = %s GROUP BY phone\", (1,))",
      '    print(cur.fetchall())',
      "    cur.execute(\"SELECT string_agg(phone, ',') FROM customers\")",
      '    print(cur.fetchall())',
      'conn.close()',
    ].join('\n');
    const py = await runProcess('/usr/bin/python3', ['-c', script], { env });
    assert.equal(py.code, 0, py.err);
    assert.equal(py.out.trim().split('\n').length, 4);
    for (const line of py.out.trim().split('\n')) assert.match(line, /^\[\((('\[REDACTED\]'|None)(, )?)+,?\)\]$/, line);
    assert.deepEqual(tap.leaks(), []);
  });
});
