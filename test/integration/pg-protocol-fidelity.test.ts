import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import pg from 'pg';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';

/**
 * Issue 15 item 9: clients see what the server would say — a Terminate where the startup packet
 * belongs closes silently; a syntax error is 42601 with the parser's position (never forwarded);
 * a client's own notifications carry its BackendKeyData pid; the message size limit is
 * configurable and its error names the side; `options` carrying accepted `-c` settings works.
 */

const skip = await pgSkip();

function split(url: string): { url: string; password: string } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), password };
}

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

describe('protocol fidelity through the real listener (real PostgreSQL)', { skip }, () => {
  let db: TestDatabase;
  let t: TestGateway;
  let dev: string;
  const client = (extra: Partial<pg.ClientConfig> = {}): pg.Client => {
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'dev', database: 'crm', password: dev, ...extra });
    c.on('error', () => undefined);
    return c;
  };
  const direct = (): pg.Client => new pg.Client({ connectionString: db.url });
  const caught = (p: Promise<unknown>): Promise<Error & { code?: string; position?: string }> =>
    p.then(() => { throw new Error('expected an error'); }, (e: unknown) => e as Error & { code?: string; position?: string });

  before(async () => {
    const d = await getTestPostgres();
    if (!d) throw new Error('no PostgreSQL');
    db = d;
    const { url, password } = split(db.url);
    t = await startTestGateway({
      policies: TEST_POLICIES,
      serverYaml: ['  postgres:', '    max_message_size: 64kb'].join('\n'),
      yaml: ['connections:', `  - { name: crm, type: postgres, url: "${url}", credentials: { password: "${password || 'unused'}" } }`].join('\n'),
    });
    dev = String((await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key);
  });
  after(async () => { await t.close(); await db.stop(); });

  test('a Terminate where the startup packet belongs: the connection closes without a byte', async () => {
    for (const first of [Buffer.from([0x58, 0, 0, 0, 4]), Buffer.from([0, 0, 0, 2])]) {
      const s = connect({ host: t.postgres.host, port: t.postgres.port });
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write(first);
      await new Promise<void>((r) => { s.once('close', () => r()); s.once('error', () => r()); });
      assert.equal(Buffer.concat(got).length, 0);
    }
    // node-postgres connect() then end() at once: no error surfaces
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'dev', database: 'crm', password: dev });
    const errors: unknown[] = [];
    c.on('error', (e) => errors.push(e));
    c.connect().catch((e: unknown) => errors.push(e));
    await c.end();
    assert.deepEqual(errors, []);
  });

  test('a syntax error is 42601 with the server\'s message and position (simple and extended, node-pg and psql)', async () => {
    const c = client();
    const d = direct();
    await c.connect();
    await d.connect();
    try {
      for (const q of ['SELECT 1 FROM WHERE x', 'SELECT * FROM t WHERE (a = 1', "SELECT 'é' FROM FROM", 'SELECT 1; SELEC 2']) {
        const [gw, srv] = [await caught(c.query(q)), await caught(d.query(q))];
        assert.equal(gw.code, '42601', q);
        assert.equal(gw.message, srv.message, q);
        assert.equal(gw.position, srv.position, q);
      }
      const ext = await caught(c.query({ text: 'SELECT $1 FROM WHERE', values: [1] }));
      assert.equal(ext.code, '42601');
      assert.equal((await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
    } finally { await c.end(); await d.end(); }
    const p = await run('psql', ['-X', '-c', 'SELECT 1 FROM WHERE x'], { PGHOST: t.postgres.host, PGPORT: String(t.postgres.port), PGUSER: 'dev', PGDATABASE: 'crm', PGPASSWORD: dev });
    assert.match(p.err, /ERROR: {2}syntax error at or near "WHERE"\nLINE 1: SELECT 1 FROM WHERE x\n {22}\^/);
  });

  test('a client\'s own notification carries the pid of its BackendKeyData', async () => {
    const c = client();
    await c.connect();
    try {
      const got = new Promise<pg.Notification>((resolve) => c.on('notification', resolve));
      await c.query('LISTEN me');
      await c.query("NOTIFY me, 'hi'");
      const n = await got;
      const own = (c as unknown as { processID: number }).processID;
      assert.equal(n.processId, own);
    } finally { await c.end(); }
  });

  test('max_message_size: the error names the side and the limit', async () => {
    const c = client();
    await c.connect();
    const big = await caught(c.query(`SELECT '${'x'.repeat(70_000)}'`));
    assert.match(big.message, /message of \d+ bytes from the client exceeds server\.postgres\.max_message_size \(65536 bytes\)/);
    const c2 = client();
    await c2.connect();
    const up = await caught(c2.query("SELECT repeat('y', 70000)"));
    assert.match(up.message, /message of \d+ bytes from the upstream server exceeds server\.postgres\.max_message_size \(65536 bytes\)/);
  });

  test('options: accepted -c settings pass (node-pg, psql PGOPTIONS); others are refused with the reason', async () => {
    const c = client({ options: '-c statement_timeout=5s --application-name=my\\ app' });
    await c.connect();
    try {
      assert.equal((await c.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]?.statement_timeout, '5s');
      assert.equal((await c.query<{ application_name: string }>('SHOW application_name')).rows[0]?.application_name, 'my app');
    } finally { await c.end(); }
    for (const options of ['-c role=postgres', '-c search_path=evil', '-c statement_timeout=1s -c session_authorization=postgres', '-B 100']) {
      const e = await caught(client({ options }).connect());
      assert.equal(e.code, '0A000', options);
      assert.match(e.message, /startup parameter "options"/);
    }
    const p = await run('psql', ['-X', '-Atc', 'SHOW lock_timeout'], { PGHOST: t.postgres.host, PGPORT: String(t.postgres.port), PGUSER: 'dev', PGDATABASE: 'crm', PGPASSWORD: dev, PGOPTIONS: '-c lock_timeout=3s' });
    assert.equal(p.out.trim(), '3s', p.err);
  });
});
