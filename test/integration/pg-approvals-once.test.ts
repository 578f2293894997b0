import { after, before, describe, test } from 'node:test';
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import pg from 'pg';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import { parseErrorFields } from '../../src/protocols/postgres/backend-messages.ts';
import type { Frame } from '../../src/protocols/postgres/frame-reader.ts';
import { MessageWriter } from '../../src/protocols/postgres/writer.ts';

/**
 * Issue 15 item 4: an approval runs exactly what was approved, once — whatever route creates the
 * prepared statement (Parse, SQL PREPARE) or executes it (Bind/Execute, SQL EXECUTE), with name
 * reuse, skipped messages after an error, re-executed portals and pipelining. Every write here
 * inserts one row into `hits`, so counting rows counts executions.
 */

const POLICIES = `${TEST_POLICIES}
@id("dba-approves")
permit (principal in Group::"dba", action == Action::"review.approve", resource);
`;
const INIT = 'CREATE TABLE hits (n int); CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)';
const INSERT = 'INSERT INTO hits VALUES ($1)';
const PREPARE_W = `PREPARE w(int) AS ${INSERT}`;

const closeStmt = (name: string): Buffer => new MessageWriter().byte(0x53).cstring(name).frame(0x43);

interface Reply { readonly frames: Frame[]; readonly errors: { code: string; message: string }[] }

async function roundTrip(c: RawPgClient, ...msgs: Buffer[]): Promise<Reply> {
  c.send(...msgs);
  const frames = await c.until(0x5a);
  const errors = frames.filter((f) => f.type === 0x45).map((f) => {
    const m = parseErrorFields(f.body);
    return { code: m.get('C') ?? '', message: m.get('M') ?? '' };
  });
  return { frames, errors };
}

const pendingId = (r: Reply): string | undefined => {
  for (const e of r.errors) { const m = /review (rv_\w+) is pending/.exec(e.message); if (m) return m[1]; }
  return undefined;
};

const skip = await pgSkip();

/** The database URL without its password (Gatehouse takes the password from credentials). */
function split(url: string): { url: string; password: string } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), password };
}

describe('approvals run once, whatever the route (real PostgreSQL)', { skip }, () => {
  let db: TestDatabase;
  let t: TestGateway;
  let alice: string;
  let bob: string;
  let admin: pg.Client;

  const connect = (): Promise<RawPgClient> => RawPgClient.connect(t.postgres.host, t.postgres.port, 'alice', 'crm', alice);
  const hits = async (): Promise<number> => Number((await admin.query<{ n: string }>('SELECT count(*) AS n FROM hits')).rows[0]?.n);
  const approve = async (id: string): Promise<void> => {
    const r = await t.api('POST', `/api/v1/reviews/${id}/approve`, {}, bob);
    assert.equal(r.status, 200, JSON.stringify(r.json));
  };
  /** Sends a simple query that needs review, approves the review, re-sends it: it runs. */
  const approvedQuery = async (c: RawPgClient, sql: string): Promise<void> => {
    const first = await roundTrip(c, fe.query(sql));
    const id = pendingId(first);
    assert.ok(id, JSON.stringify(first.errors));
    await approve(id);
    const again = await roundTrip(c, fe.query(sql));
    assert.deepEqual(again.errors, []);
  };

  before(async () => {
    const d = await getTestPostgres();
    if (!d) throw new Error('no PostgreSQL');
    db = d;
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(INIT);
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'connections:',
        `  - { name: crm, type: postgres, url: "${split(db.url).url}", credentials: { password: "${split(db.url).password || 'unused'}" } }`,
        'reviews:',
        '  hold_timeout: 150ms',
        '  rules:',
        '    - { name: writes, connections: [crm], actions: [sql.write], kind: command, approvers: [dba] }',
      ].join('\n'),
    });
    alice = String((await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] })).json.key);
    bob = String((await t.api('POST', '/api/v1/api-keys', { user: 'bob', groups: ['dba'] })).json.key);
  });
  after(async () => { await admin.end(); await t.close(); await db.stop(); });

  test('an approved SQL PREPARE does not let protocol Bind/Execute run the statement unreviewed', async () => {
    await admin.query('TRUNCATE hits');
    const c = await connect();
    try {
      await approvedQuery(c, PREPARE_W);
      for (let i = 0; i < 3; i++) {
        const r = await roundTrip(c, fe.bind('', 'w', [String(i)]), fe.execute(''), fe.sync());
        assert.ok(pendingId(r), `Bind ${i} of w must be held for review: ${JSON.stringify(r.errors)}`);
      }
      // pipelined: several Bind/Execute before Sync (the first is held, the rest discarded)
      const p = await roundTrip(c, fe.bind('', 'w', ['7']), fe.execute(''), fe.bind('', 'w', ['8']), fe.execute(''), fe.sync());
      assert.ok(pendingId(p));
      assert.equal(await hits(), 0);
    } finally { c.close(); }
  });

  test('SQL EXECUTE and Bind of a PREPAREd name: each execution needs its own approval, used once', async () => {
    await admin.query('TRUNCATE hits');
    const c = await connect();
    try {
      await approvedQuery(c, PREPARE_W);
      await approvedQuery(c, 'EXECUTE w(1)');
      assert.equal(await hits(), 1);
      assert.ok(pendingId(await roundTrip(c, fe.query('EXECUTE w(1)'))), 'the same EXECUTE again is a new review');
      // A Bind with parameters: reviewed with them; approval used by one Bind.
      const first = await roundTrip(c, fe.bind('p', 'w', ['5']), fe.execute('p'), fe.sync());
      const id = pendingId(first);
      assert.ok(id);
      await approve(id);
      const ran = await roundTrip(c, fe.bind('p', 'w', ['5']), fe.execute('p', 1), fe.sync());
      assert.deepEqual(ran.errors, []);
      assert.equal(await hits(), 2);
      // Re-executing the portal: gone after Sync (PostgreSQL closes it with the implicit transaction).
      const re = await roundTrip(c, fe.execute('p'), fe.execute('p'), fe.sync());
      assert.deepEqual(re.errors.map((e) => e.code), ['34000']);
      assert.equal(await hits(), 2, 're-executing the portal does not run the statement again');
      const other = await roundTrip(c, fe.bind('p', 'w', ['5']), fe.execute('p'), fe.sync());
      assert.ok(pendingId(other), 'the approval was used');
      assert.equal(await hits(), 2);
    } finally { c.close(); }
  });

  test('name reuse: DEALLOCATE + PREPARE of a name first parsed as a read', async () => {
    await admin.query('TRUNCATE hits');
    const c = await connect();
    try {
      const parsed = await roundTrip(c, fe.parse('s', 'SELECT $1::int AS x'), fe.sync());
      assert.deepEqual(parsed.errors, []);
      await approvedQuery(c, `DEALLOCATE s; PREPARE s(int) AS ${INSERT}`);
      const r = await roundTrip(c, fe.bind('', 's', ['1']), fe.execute(''), fe.sync());
      assert.ok(pendingId(r), JSON.stringify(r.errors));
      // Close (confirmed) + Parse as a read: the name is a read again
      const back = await roundTrip(c, closeStmt('s'), fe.parse('s', 'SELECT $1::int AS x'), fe.sync());
      assert.deepEqual(back.errors, []);
      const read = await roundTrip(c, fe.bind('', 's', ['1']), fe.execute(''), fe.sync());
      assert.deepEqual(read.errors, []);
      assert.equal(await hits(), 0);
    } finally { c.close(); }
  });

  test('messages the server skipped after an error do not redefine a name (unnamed and named)', async () => {
    await admin.query('TRUNCATE hits');
    const c = await connect();
    try {
      assert.deepEqual((await roundTrip(c, fe.parse('', INSERT), fe.parse('q', INSERT), fe.sync())).errors, []);
      // The error makes the server skip the Parse/Close after it; the gateway must not believe them.
      const skipped = await roundTrip(c, fe.parse('z', 'SELECT 1/0'), fe.bind('', 'z'), fe.execute(''),
        closeStmt('q'), fe.parse('q', 'SELECT $1::int'), fe.parse('', 'SELECT $1::int'), fe.sync());
      assert.equal(skipped.errors[0]?.code, '22012');
      for (const name of ['', 'q']) {
        const r = await roundTrip(c, fe.bind('', name, ['1']), fe.execute(''), fe.sync());
        assert.ok(pendingId(r), `Bind of "${name}" after skipped messages: ${JSON.stringify(r.errors)}`);
      }
      assert.equal(await hits(), 0);
    } finally { c.close(); }
  });

  test('a name the gateway never saw defined is refused with 26000', async () => {
    const c = await connect();
    try {
      const r = await roundTrip(c, fe.bind('', 'nobody', ['1']), fe.execute(''), fe.sync());
      assert.equal(r.errors[0]?.code, '26000');
      assert.match(r.errors[0]?.message ?? '', /not known to the gateway/);
      // the session goes on
      assert.deepEqual((await roundTrip(c, fe.query('SELECT 1'))).errors, []);
    } finally { c.close(); }
  });

  test('a statement that EXECUTEs a name is decided on what the name is at Bind time', async () => {
    await admin.query('TRUNCATE hits');
    const c = await connect();
    try {
      assert.deepEqual((await roundTrip(c, fe.query('PREPARE r(int) AS SELECT $1'))).errors, []);
      assert.deepEqual((await roundTrip(c, fe.parse('e', 'EXECUTE r(1)'), fe.sync())).errors, []);
      await approvedQuery(c, `DEALLOCATE r; PREPARE r(int) AS ${INSERT}`);
      const r = await roundTrip(c, fe.bind('', 'e'), fe.execute(''), fe.sync());
      assert.ok(pendingId(r), JSON.stringify(r.errors));
      assert.equal(await hits(), 0);
    } finally { c.close(); }
  });

  test('node-postgres: a named prepared write is reviewed at every execution', async () => {
    await admin.query('TRUNCATE hits');
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'alice', database: 'crm', password: alice });
    await c.connect();
    try {
      const q = { name: 'ins', text: INSERT, values: [1] };
      const e1 = await c.query(q).then(() => undefined, (e: unknown) => e as Error);
      const id = e1 && /review (rv_\w+) is pending/.exec(e1.message)?.[1];
      assert.ok(id, String(e1));
      await approve(id);
      await c.query(q);
      const e2 = await c.query(q).then(() => undefined, (e: unknown) => e as Error);
      assert.match(String(e2), /approval required/);
      assert.equal(await hits(), 1);
    } finally { await c.end(); }
  });

  test('psycopg 3: a server-side prepared write (prepare=True, text and binary) is reviewed at every execution', async () => {
    await admin.query('TRUNCATE hits');
    const script = `
import psycopg, os, sys
with psycopg.connect(host=os.environ['H'], port=os.environ['P'], user='alice', dbname='crm', password=os.environ['K'], autocommit=True) as c:
    for i in range(3):
        for binary in (False, True):
            try:
                c.cursor(binary=binary).execute('INSERT INTO hits VALUES (%s)', (40 + i,), prepare=True); print('ran')
            except psycopg.Error as e:
                print(e.sqlstate, 'approval required' in str(e))
`;
    const out = await new Promise<string>((resolve) => {
      const p = spawn('/usr/bin/python3', ['-c', script], { env: { ...process.env, H: t.postgres.host, P: String(t.postgres.port), K: alice } });
      let o = '';
      p.stdout.on('data', (d: Buffer) => { o += d.toString(); });
      p.stderr.on('data', (d: Buffer) => { o += d.toString(); });
      p.on('close', () => resolve(o));
    });
    assert.deepEqual(out.trim().split('\n'), Array.from({ length: 6 }, () => '42501 True'), out);
    assert.equal(await hits(), 0);
  });

  test('property: after approving PREPARE and one more review, any sequence of routes inserts at most one row', async () => {
    const op = fc.constantFrom(
      'bindExec', 'bindExecTwice', 'sqlExec', 'reparse', 'close', 'dealloc', 'prepare', 'reexec', 'errorSkip', 'parseUnnamed', 'bindUnnamed',
    );
    let run = 0;
    // approveOne false: nothing but the PREPARE is approved, so nothing may be inserted at all.
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), fc.boolean(), async (ops, approveOne) => {
      await admin.query('TRUNCATE hits');
      // Texts and parameters unique to the run: an approval left unused by an earlier run must not count here.
      const n1 = String(1000 + ++run);
      const prepareW = `${PREPARE_W} -- run ${n1}`;
      const c = await connect();
      let approvals = 0;
      try {
        await approvedQuery(c, prepareW);
        for (const o of ops) {
          let r: Reply;
          switch (o) {
            case 'bindExec': r = await roundTrip(c, fe.bind('p', 'w', [n1]), fe.execute('p'), fe.sync()); break;
            case 'bindExecTwice': r = await roundTrip(c, fe.bind('', 'w', [n1]), fe.execute('', 1), fe.execute(''), fe.bind('', 'w', [n1]), fe.execute(''), fe.sync()); break;
            case 'sqlExec': r = await roundTrip(c, fe.query(`EXECUTE w(${n1})`)); break;
            case 'reparse': r = await roundTrip(c, fe.parse('w', INSERT), fe.sync()); break;
            case 'close': r = await roundTrip(c, closeStmt('w'), fe.sync()); break;
            case 'dealloc': r = await roundTrip(c, fe.query('DEALLOCATE w')); break;
            case 'prepare': r = await roundTrip(c, fe.query(prepareW)); break;
            case 'reexec': r = await roundTrip(c, fe.execute('p'), fe.execute(''), fe.sync()); break;
            case 'errorSkip': r = await roundTrip(c, fe.parse('z', 'SELECT 1/0'), fe.bind('', 'z'), fe.execute(''), closeStmt('w'), fe.parse('w', 'SELECT $1::int'), fe.sync()); break;
            case 'parseUnnamed': r = await roundTrip(c, fe.parse('', INSERT), fe.sync()); break;
            case 'bindUnnamed': r = await roundTrip(c, fe.bind('', '', [n1]), fe.execute(''), fe.sync()); break;
          }
          const id = pendingId(r);
          if (id !== undefined && approveOne && approvals === 0) { approvals++; await approve(id); }
        }
      } finally { c.close(); }
      const n = await hits();
      assert.ok(n <= approvals, `${n} rows inserted with ${approvals} approval(s) after ${ops.join(', ')}`);
    }), { numRuns: 30 });
  });
});
