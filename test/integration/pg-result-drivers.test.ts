import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';
import { MemoryRecorder } from '../../src/recording/recorder.ts';
import { leakedIn, MASKING_INIT, MASKING_YAML } from '../fixtures/pg-masking-table.ts';

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

const COLUMNS = 'email, phone, card, card8, ssn, note, tags, cards, doc, blob, tsv, m, dm, who, nums, name';

describe('real drivers through the listener, text and binary: masked values or a clear error', { skip: await pgSkip() }, () => {
  let db: TestDatabase;
  let t: TestGateway;
  let key: string;
  let env: Record<string, string>;
  const recorder = new MemoryRecorder();

  before(async () => {
    db = (await getTestPostgres())!;
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(MASKING_INIT);
    await c.end();
    t = await startTestGateway({ recorder, yaml: [`connections:\n  - { name: app, type: postgres, url: "${db.url}" }`, MASKING_YAML].join('\n') });
    key = String((await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key);
    env = { PGPASSWORD: key, PGHOST: t.postgres.host, PGPORT: String(t.postgres.port), PGUSER: 'dev', PGDATABASE: 'app', PGCONNECT_TIMEOUT: '10' };
  });
  after(async () => {
    await t.close();
    await db.stop();
    assert.deepEqual(leakedIn(JSON.stringify(recorder.events)), [], 'the recording holds no protected value');
  });

  test('psql', async () => {
    const r = await run('psql', ['-X', '-A', '-t', '-c', `SELECT ${COLUMNS} FROM customers ORDER BY id`], env);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(leakedIn(r.out), [], r.out);
    assert.match(r.out, /^\[EMAIL\]\|\[REDACTED\]\|/);
  });

  for (const binary of [false, true]) {
    test(`node-postgres (binary: ${binary})`, async () => {
      // node-postgres's \`binary\` option (result format 1 for every column) is not in its type declarations.
      const config: pg.ClientConfig & { binary: boolean } = { host: t.postgres.host, port: t.postgres.port, user: 'dev', database: 'app', password: key, binary };
      const c = new pg.Client(config);
      await c.connect();
      try {
        // With a parameter node-postgres uses the extended protocol (and binary results when asked).
        // (Not `cards`: node-postgres's own binary int8[] parser takes seconds on a NULL element, even without Gatehouse.)
        const r = await c.query(`SELECT ${COLUMNS.replace('cards, ', '')} FROM customers WHERE id > $1 ORDER BY id`, [0]);
        const dump = JSON.stringify(r.rows, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
        assert.deepEqual(leakedIn(dump), [], dump);
        for (const row of r.rows as Record<string, unknown>[]) {
          const blob = row.blob;
          if (Buffer.isBuffer(blob)) assert.deepEqual(leakedIn(blob), []);
        }
        const first = r.rows[0] as Record<string, unknown>;
        assert.equal(first.email, '[EMAIL]');
        assert.equal(first.phone, '[REDACTED]');
        if (binary) assert.equal(first.card8, null, 'an int8 that is a card number is sent as NULL in binary');
        if (binary) {
          await assert.rejects(c.query('SELECT point(1, 2) AS pt WHERE $1::int = 1', [1]), (e: Error & { code?: string }) => {
            assert.equal(e.code, '0A000');
            assert.match(e.message, /column "pt".*text result format/);
            return true;
          });
        } else {
          assert.deepEqual((await c.query('SELECT point(1, 2) AS pt')).rows, [{ pt: { x: 1, y: 2 } }]);
        }
        assert.deepEqual((await c.query('SELECT 1 AS one')).rows.length, 1);
      } finally {
        await c.end();
      }
    });
  }

  test('psycopg 3 (text and binary=True)', async () => {
    const script = `
import os, psycopg
kw = dict(host=os.environ['PGHOST'], port=int(os.environ['PGPORT']), user='dev', dbname='app', password=os.environ['PGPASSWORD'])
with psycopg.connect(**kw) as c:
    for binary in (False, True):
        rows = c.cursor(binary=binary).execute('SELECT ${COLUMNS} FROM customers ORDER BY id').fetchall()
        print('rows', binary, repr(rows))
        print('first', binary, rows[0][0], rows[0][1])
    try:
        c.cursor(binary=True).execute('SELECT point(1, 2) AS pt').fetchall()
    except psycopg.Error as e:
        print('err', e.sqlstate)
`;
    const r = await run('/usr/bin/python3', ['-c', script], env);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(leakedIn(r.out), [], r.out);
    assert.match(r.out, /^first False \[EMAIL\] \[REDACTED\]$/m);
    assert.match(r.out, /^first True \[EMAIL\] \[REDACTED\]$/m);
    assert.match(r.out, /^err 0A000$/m);
  });

  test('asyncpg (binary by default, type introspection through the gateway)', async () => {
    const script = `
import os, asyncio, asyncpg
async def main():
    c = await asyncpg.connect(host=os.environ['PGHOST'], port=int(os.environ['PGPORT']), user='dev', database='app', password=os.environ['PGPASSWORD'])
    rows = await c.fetch('SELECT email, phone, card, card8, ssn, note, tags, cards, doc, blob, m, dm, who, nums, name FROM customers ORDER BY id')
    print('rows', repr([tuple(r) for r in rows]))
    print('first', rows[0]['email'], rows[0]['phone'])
    rows = await c.fetch('SELECT ROW(email, ssn, tags, card8, doc) FROM customers ORDER BY id')
    print('whole', repr([tuple(r) for r in rows]))
    try:
        await c.fetch('SELECT point(1, 2) AS pt')
    except asyncpg.PostgresError as e:
        print('err', e.sqlstate)
    print('after', await c.fetchval('SELECT 1'))
    await c.close()
asyncio.run(main())
`;
    const r = await run('/usr/bin/python3', ['-c', script], env);
    assert.equal(r.code, 0, r.err);
    // The whole-row value carries the column-ruled phone: that is column lineage (not content), checked elsewhere.
    const content = r.out.split('\n').filter((l) => !l.startsWith('whole')).join('\n');
    assert.deepEqual(leakedIn(content), [], r.out);
    const whole = r.out.split('\n').find((l) => l.startsWith('whole')) ?? '';
    assert.deepEqual(leakedIn(whole).filter((s) => !s.startsWith('555-')), [], whole);
    assert.match(r.out, /^first \[EMAIL\] \[REDACTED\]$/m);
    assert.match(r.out, /^err 0A000$/m);
    assert.match(r.out, /^after 1$/m);
  });
});
