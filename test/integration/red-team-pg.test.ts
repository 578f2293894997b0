import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';
import { LINEAGE_INIT, LINEAGE_MASKING, PHONES } from '../fixtures/pg-lineage-db.ts';

/**
 * Red-team findings on the PostgreSQL path, as a reader (`sql.read` only) on a real gateway in
 * front of a real PostgreSQL, `customers.phone` column-ruled: each test is an attack that
 * worked before its fix.
 */

const POLICIES = `
@id("readers")
permit (principal in Group::"readers", action == Action::"sql.read", resource);
@id("agents-no-protected-oracles")
forbid (principal, action == Action::"sql.read", resource)
when { context has agent && context has sql && !context.sql.protected_filters.isEmpty() };
`;

const RAW_TYPES = { getTypeParser: () => (v: string | Buffer) => (Buffer.isBuffer(v) ? v.toString('utf8') : v) };
const skip = await pgSkip();

describe('red team: PostgreSQL reader attacks (real gateway, real PostgreSQL)', { skip }, () => {
  let db: TestDatabase;
  let t: TestGateway;
  let reader: string;
  let agent: string;
  const client = async (password: string): Promise<pg.Client> => {
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'u', database: 'app', password, types: RAW_TYPES });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };

  before(async () => {
    const got = await getTestPostgres();
    if (!got) throw new Error('no PostgreSQL');
    db = got;
    const setup = new pg.Client({ connectionString: db.url });
    await setup.connect();
    await setup.query(LINEAGE_INIT);
    await setup.end();
    t = await startTestGateway({
      policies: POLICIES,
      yaml: ['connections:', `  - { name: app, type: postgres, url: "${db.url}" }`, ...LINEAGE_MASKING].join('\n'),
    });
    reader = String((await t.api('POST', '/api/v1/api-keys', { user: 'reader', groups: ['readers'] })).json.key);
    agent = String((await t.api('POST', '/api/v1/api-keys', { user: 'reader', agent: 'bot', groups: ['readers'] })).json.key);
  });
  after(async () => {
    await t.close();
    await db.stop();
  });

  test('LISTEN: a notification payload never carries a protected value, whoever sent it', async () => {
    const listener = await client(reader);
    const sender = await client(reader);
    // The application (a trigger, a worker) notifying with row data on its own connection.
    const app = new pg.Client({ connectionString: db.url });
    await app.connect();
    const payloads: string[] = [];
    listener.on('notification', (n) => payloads.push(String(n.payload)));
    try {
      await listener.query('LISTEN leak');
      // The reader's own pg_notify of a protected value is refused or redacted, never sent raw.
      const own = await sender.query({ text: "SELECT pg_notify('leak', phone) FROM customers", rowMode: 'array' })
        .then((r) => (r.rows as unknown[][]).map((row) => String(row[0])), (e: unknown) => [String((e as { code?: string }).code)]);
      for (const v of own) assert.ok(v === '42501' || v === '[REDACTED]', v);
      await app.query("SELECT pg_notify('leak', phone) FROM customers");
      await app.query("SELECT pg_notify('leak', 'new customer, tel ' || phone) FROM customers WHERE id = 1");
      const deadline = Date.now() + 5_000;
      while (payloads.length < 3 && Date.now() < deadline) {
        await listener.query('SELECT 1'); // notifications are delivered with the next answer at the latest
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(payloads.length >= 3, `got ${payloads.length} notifications`);
      for (const p of payloads) {
        for (const phone of PHONES) assert.ok(!p.includes(phone) && !p.includes(phone.slice(4)), `payload ${p}`);
      }
      assert.ok(payloads.includes('[REDACTED]'));
    } finally {
      await listener.end();
      await sender.end();
      await app.end();
    }
  });

  test('oracles in the select list (errors, row counts, delays, FROM functions) count as protected filters', async () => {
    const a = await client(agent);
    try {
      for (const sql of [
        `SELECT id, 1 / (phone = '${PHONES[0]}')::int FROM customers`,
        "SELECT id, unnest(CASE WHEN phone LIKE '555-8%' THEN ARRAY[1, 2] ELSE ARRAY[1] END) FROM customers",
        "SELECT id, generate_series(1, CASE WHEN phone LIKE '555-8%' THEN 2 ELSE 1 END) FROM customers",
        "SELECT id, pg_sleep(CASE WHEN phone LIKE '555-8%' THEN 0.2 ELSE 0 END) FROM customers",
        'SELECT c.id FROM customers c, generate_series(1, length(c.phone)) g',
        "SELECT c.id FROM customers c, unnest(string_to_array(c.phone, '-')) p",
        "SELECT c.id FROM customers c, json_each(to_json(c)) j",
        "SELECT s.id FROM customers c, LATERAL (SELECT c.id WHERE c.phone LIKE '555-8%') s",
      ]) {
        const e = await a.query(sql).then(() => undefined, (err: unknown) => err as { code?: string; message: string });
        assert.equal(e?.code, '42501', sql);
        assert.match(e?.message ?? '', /agents-no-protected-oracles/, sql);
      }
      // A bare protected column is no oracle: it is read, and redacted by its rule.
      const r = await a.query({ text: 'SELECT id, phone FROM customers ORDER BY id', rowMode: 'array' });
      assert.deepEqual(r.rows, [['1', '[REDACTED]'], ['2', '[REDACTED]']]);
    } finally { await a.end(); }
  });
});
