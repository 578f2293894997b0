import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';

/**
 * Issue 15 item 5: reads have no side effects and see no server secrets — volatile functions
 * (by name and in attribute notation) are writes unless configured safe; locks, notifications,
 * transaction ids and settings are facts the example policies deny to agents; server-secret
 * catalogs and settings are sql.admin; COPY TO STDOUT on a column-ruled connection is refused
 * before the server runs it.
 */

const INIT = `
CREATE TABLE customers (id int, name text, phone text);
INSERT INTO customers VALUES (1, 'Ada', '555-867-5309');
CREATE TABLE audit (n int);
CREATE FUNCTION log_visit() RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO audit VALUES (1) RETURNING 1';
CREATE FUNCTION customer_tag(customers) RETURNS text LANGUAGE sql VOLATILE AS $$ INSERT INTO audit VALUES (2) RETURNING 'tag' $$;
CREATE FUNCTION pure_tag(customers) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'pure' $$;
CREATE FUNCTION safe_lookup() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 7';
CREATE SCHEMA other;
CREATE FUNCTION other.random() RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO audit VALUES (3) RETURNING 3';
`;

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

const skip = await pgSkip();

/** The database URL without its password (Gatehouse takes the password from credentials). */
function split(url: string): { url: string; password: string } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), password };
}

describe('reads have no side effects and see no server secrets (real PostgreSQL)', { skip }, () => {
  let db: TestDatabase;
  let t: TestGateway;
  let agent: string;
  let dev: string;
  let dba: string;
  let admin: pg.Client;
  const audit = async (): Promise<number> => Number((await admin.query<{ n: string }>('SELECT count(*) AS n FROM audit')).rows[0]?.n);
  const client = async (password: string, database = 'crm'): Promise<pg.Client> => {
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'u', database, password });
    await c.connect();
    return c;
  };
  const code = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => String((e as { code?: string }).code));

  before(async () => {
    const d = await getTestPostgres();
    if (!d) throw new Error('no PostgreSQL');
    db = d;
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(INIT);
    // The example policies, as shipped (policies/data-access.cedar).
    const examples = readFileSync('policies/data-access.cedar', 'utf8');
    t = await startTestGateway({
      policies: examples,
      serverYaml: ['  postgres:', '    safe_functions: [ safe_lookup ]'].join('\n'),
      yaml: [
        'connections:',
        `  - { name: crm, type: postgres, url: "${split(db.url).url}", credentials: { password: "${split(db.url).password || 'unused'}" } }`,
        `  - { name: crmcols, type: postgres, url: "${split(db.url).url}", credentials: { password: "${split(db.url).password || 'unused'}" } }`,
        'masking:',
        '  rules:',
        '    - { connections: [crmcols], columns: { "customers.phone": redact } }',
      ].join('\n'),
    });
    agent = String((await t.api('POST', '/api/v1/api-keys', { user: 'reader', agent: 'bot', groups: ['developers'] })).json.key);
    dev = String((await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key);
    dba = String((await t.api('POST', '/api/v1/api-keys', { user: 'ops', groups: ['dba'] })).json.key);
  });
  after(async () => { await admin.end(); await t.close(); await db.stop(); });

  test('volatile functions are writes: by name, in attribute notation, in another schema; immutable ones and safe_functions are reads', async () => {
    const c = await client(agent);
    try {
      assert.equal(await code(c.query('SELECT log_visit()')), '42501');
      assert.equal(await code(c.query('SELECT c.customer_tag FROM customers c')), '42501');
      assert.equal(await code(c.query('SELECT (c).customer_tag FROM customers c')), '42501');
      assert.equal(await code(c.query('SELECT other.random()')), '42501');
      assert.equal(await code(c.query('SELECT x FROM (SELECT log_visit() AS x) s')), '42501');
      assert.equal(await code(c.query({ text: 'SELECT log_visit() + $1::int', values: [1] })), '42501');
      assert.equal(await audit(), 0);
      assert.equal((await c.query<{ t: string }>('SELECT c.pure_tag AS t FROM customers c')).rows[0]?.t, 'pure');
      assert.equal((await c.query<{ v: number }>('SELECT safe_lookup() AS v')).rows[0]?.v, 7);
      assert.equal((await c.query<{ r: boolean }>('SELECT random() < 2 AS r, clock_timestamp() IS NOT NULL AS t')).rows[0]?.r, true);
    } finally { await c.end(); }
  });

  test('the example policies deny locks, notifications, transaction ids and settings to agents, not to people', async () => {
    const a = await client(agent);
    const d = await client(dev);
    try {
      for (const sql of ['SELECT pg_advisory_lock(42)', 'SELECT pg_try_advisory_xact_lock(1)', "NOTIFY ch, 'x'", "SELECT pg_notify('ch', 'x')", 'LISTEN ch', 'SELECT txid_current()', "SET work_mem = '1GB'", 'SET statement_timeout = 0', "SELECT set_config('work_mem', '1GB', false)"]) {
        assert.equal(await code(a.query(sql)), '42501', sql);
      }
      assert.equal(await code(d.query('SELECT pg_advisory_lock(42)')), 'ok');
      assert.equal(await code(d.query('SELECT pg_advisory_unlock(42)')), 'ok');
      assert.equal(await code(d.query("SET work_mem = '8MB'")), 'ok');
      assert.equal(await code(d.query('SELECT txid_current()')), 'ok');
    } finally { await a.end(); await d.end(); }
  });

  test('server secrets are sql.admin: pg_authid, pg_shadow, hba rules, file settings, other sessions\' SQL, secret settings', async () => {
    const c = await client(dev);
    try {
      for (const sql of [
        'SELECT rolpassword FROM pg_authid', 'SELECT passwd FROM pg_shadow', 'SELECT * FROM pg_hba_file_rules',
        'SELECT * FROM pg_file_settings', 'SELECT query FROM pg_stat_activity', "SELECT current_setting('data_directory')",
        'SHOW config_file', 'SHOW ALL', 'SELECT setting FROM pg_settings', "SELECT pg_ls_dir('.')", 'SELECT most_common_vals FROM pg_stats',
      ]) assert.equal(await code(c.query(sql)), '42501', sql);
      assert.equal(await code(c.query("SELECT current_setting('work_mem')")), 'ok');
    } finally { await c.end(); }
  });

  test('COPY (SELECT side_effect()) TO STDOUT on a column-ruled connection is refused before it runs', async () => {
    const c = await client(dba, 'crmcols');
    try {
      const e = await c.query('COPY (SELECT log_visit()) TO STDOUT').then(() => undefined, (err: unknown) => err as Error & { code?: string });
      assert.equal(e?.code, '42501');
      assert.match(e?.message ?? '', /COPY TO STDOUT: the connection has column masking rules/);
      assert.equal(await audit(), 0, 'the server never ran it');
      assert.equal((await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
    } finally { await c.end(); }
  });

  test('psql and psycopg 3 see the same refusals', async () => {
    const env = { PGHOST: t.postgres.host, PGPORT: String(t.postgres.port), PGUSER: 'u', PGDATABASE: 'crm', PGPASSWORD: agent };
    const p = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=0', '-c', 'SELECT log_visit()', '-c', 'SELECT c.customer_tag FROM customers c', '-c', 'SELECT pg_advisory_lock(1)', '-c', 'SELECT 41 + 1 AS answer'], env);
    assert.equal((p.err.match(/ERROR: {2}Gatehouse denied/g) ?? []).length, 3, p.err);
    assert.match(p.out, /42/);
    const script = `
import psycopg, os
with psycopg.connect(host=os.environ['PGHOST'], port=os.environ['PGPORT'], user='u', dbname='crm', password=os.environ['PGPASSWORD'], autocommit=True) as c:
    for sql in ['SELECT log_visit()', 'SELECT (c).customer_tag FROM customers c', 'SELECT txid_current()']:
        try:
            c.execute(sql); print('ran', sql)
        except psycopg.Error as e:
            print(e.sqlstate)
    for binary in (False, True):
        try:
            c.cursor(binary=binary).execute('SELECT log_visit() WHERE %s', (True,), prepare=True); print('ran')
        except psycopg.Error as e:
            print(e.sqlstate)
`;
    const r = await run('/usr/bin/python3', ['-c', script], env);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.trim().split('\n'), ['42501', '42501', '42501', '42501', '42501']);
    assert.equal(await audit(), 0);
  });
});
