import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { TestGateway } from '../harness/gateway.ts';
import { pgSkip } from '../harness/postgres-server.ts';
import { startLineageRig, startOrdersReviewRig, type OrdersReviewRig, type PgRig } from '../harness/pg-rigs.ts';
import { assertNoPhone, READER_POLICIES } from '../fixtures/pg-lineage-db.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import { parseErrorFields } from '../../src/protocols/postgres/backend-messages.ts';
import { MessageWriter } from '../../src/protocols/postgres/writer.ts';

/**
 * Cursor, prepared statement and portal names on a real PostgreSQL: Gatehouse forgets or replaces
 * a name only once the server confirms it (a CLOSE, DEALLOCATE, Close or Parse the server skipped
 * changes nothing), and past its bound of names it refuses new ones instead of forgetting old
 * ones. Each test fails while a protected value reaches the client, or an approved statement
 * runs unreviewed.
 */

const POLICIES = READER_POLICIES;

const skip = await pgSkip();


/** A Close of a prepared statement. */
const closeStatement = (name: string): Buffer => new MessageWriter().byte(0x53).cstring(name).frame(0x43);

describe('PostgreSQL names: forgotten or replaced only once the server confirms', { skip }, () => {
  let rig: PgRig;
  let t: TestGateway;
  let reader: string;
  let agent: string;
  const client = async (password = reader): Promise<pg.Client> => {
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'u', database: 'app', password });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  const run = async (c: pg.Client, sql: string): Promise<string> =>
    c.query(sql).then((r) => JSON.stringify(r.rows), (e: unknown) => `ERROR ${(e as Error).message}`);
  const raw = (): Promise<RawPgClient> => RawPgClient.connect(t.postgres.host, t.postgres.port, 'u', 'app', reader);
  /** Sends `m`, reads to ReadyForQuery; appends every message's text (an error's message) to `out`. */
  const batch = async (c: RawPgClient, out: string[], ...m: Buffer[]): Promise<void> => {
    c.send(...m);
    for (const f of await c.until(0x5a)) out.push(f.type === 0x45 ? `ERROR ${parseErrorFields(f.body).get('M') ?? ''}` : f.body.toString('utf8'));
  };

  before(async () => {
    rig = await startLineageRig(POLICIES);
    t = rig.t;
    reader = await rig.key('reader', ['readers']);
    agent = await rig.key('reader', ['readers'], 'bot');
  });
  after(async () => { await rig.close(); });

  test('a CLOSE the server skipped keeps the cursor: re-declaring it (refused by the server) does not change its plan', async () => {
    const c = await client();
    try {
      const out: string[] = [];
      out.push(await run(c, "DECLARE c CURSOR WITH HOLD FOR SELECT phone || '' AS x FROM customers"));
      out.push(await run(c, 'SELECT 1/0; CLOSE c'));
      out.push(await run(c, "DECLARE c CURSOR WITH HOLD FOR SELECT 'x'::text AS x"));
      const fetched = await run(c, 'FETCH ALL FROM c');
      out.push(fetched);
      assertNoPhone(out.join('\n'), 'FETCH of a cursor re-declared after a skipped CLOSE');
      assert.match(fetched, /"x":/, 'the cursor still answers (masked)');
      // Confirmed by the server, the CLOSE frees the name: the new cursor's rows are its own.
      await run(c, 'CLOSE c');
      await run(c, "DECLARE c CURSOR WITH HOLD FOR SELECT 'plain'::text AS x");
      assert.equal(await run(c, 'FETCH ALL FROM c'), '[{"x":"plain"}]');
      await run(c, 'CLOSE c');
    } finally { await c.end(); }
  });

  test('a DEALLOCATE the server skipped keeps the statement: re-preparing it (refused by the server) does not change its plan', async () => {
    const c = await client();
    try {
      const out: string[] = [];
      out.push(await run(c, "PREPARE p AS SELECT phone || '' AS x FROM customers"));
      out.push(await run(c, 'SELECT 1/0; DEALLOCATE p'));
      out.push(await run(c, "PREPARE p AS SELECT 'x'::text AS x"));
      out.push(await run(c, 'EXECUTE p'));
      assertNoPhone(out.join('\n'), 'EXECUTE of a statement re-prepared after a skipped DEALLOCATE');
      await run(c, 'DEALLOCATE p');
      await run(c, "PREPARE p AS SELECT 'plain'::text AS x");
      assert.equal(await run(c, 'EXECUTE p'), '[{"x":"plain"}]', 'a confirmed DEALLOCATE frees the name');
    } finally { await c.end(); }
  });

  test('an agent: the same through a view whose bare column the no-oracle policy lets it read', async () => {
    const c = await client(agent);
    try {
      const out: string[] = [];
      out.push(await run(c, 'DECLARE c CURSOR WITH HOLD FOR SELECT p FROM v_phone'));
      out.push(await run(c, 'SELECT 1/0; CLOSE c'));
      out.push(await run(c, "DECLARE c CURSOR WITH HOLD FOR SELECT 'x'::text AS p"));
      out.push(await run(c, 'FETCH ALL FROM c'));
      assertNoPhone(out.join('\n'), 'an agent\'s FETCH of a re-declared cursor');
    } finally { await c.end(); }
  });

  test('a protocol Close the server skipped keeps the statement: Parse of the name again does not change its plan', async () => {
    const c = await raw();
    const out: string[] = [];
    try {
      await batch(c, out, fe.parse('p', "SELECT phone || '' AS x FROM customers"), fe.sync());
      await batch(c, out, fe.parse('', 'SELECT 1/0'), fe.bind('', ''), fe.execute(''), closeStatement('p'), fe.sync());
      await batch(c, out, fe.parse('p', "SELECT 'x'::text AS x"), fe.sync());
      await batch(c, out, fe.bind('', 'p'), fe.execute(''), fe.sync());
      assertNoPhone(out.join('\n'), 'Execute of a statement whose Close the server skipped');
      // Confirmed (CloseComplete), the Close frees the name.
      const fresh: string[] = [];
      await batch(c, fresh, closeStatement('p'), fe.sync());
      await batch(c, fresh, fe.parse('p', "SELECT 'plain'::text AS x"), fe.bind('', 'p'), fe.execute(''), fe.sync());
      assert.ok(fresh.some((s) => s.includes('plain')), fresh.join('\n'));
    } finally { c.close(); }
  });

  test('a Parse of the unnamed statement the server skipped leaves the previous one in place', async () => {
    const c = await raw();
    const out: string[] = [];
    try {
      await batch(c, out, fe.parse('', "SELECT phone || '' AS x FROM customers"), fe.sync());
      await batch(c, out, fe.parse('e', 'SELECT 1/0'), fe.bind('', 'e'), fe.execute(''), fe.parse('', "SELECT 'x'::text AS x"), fe.sync());
      await batch(c, out, fe.bind('', ''), fe.execute(''), fe.sync());
      assertNoPhone(out.join('\n'), 'Execute of an unnamed statement whose replacement the server skipped');
    } finally { c.close(); }
  });

  test('a Parse of FETCH or EXECUTE runs what its name is at Execute, not at Parse', async () => {
    const c = await raw();
    const out: string[] = [];
    try {
      await batch(c, out, fe.query("DECLARE c CURSOR WITH HOLD FOR SELECT 'x'::text AS x"));
      await batch(c, out, fe.parse('f', 'FETCH ALL FROM c'), fe.sync());
      await batch(c, out, fe.query('CLOSE c'));
      await batch(c, out, fe.query("DECLARE c CURSOR WITH HOLD FOR SELECT phone || '' AS x FROM customers"));
      await batch(c, out, fe.bind('', 'f'), fe.execute(''), fe.sync());
      await batch(c, out, fe.query("PREPARE p AS SELECT 'x'::text AS x"));
      await batch(c, out, fe.parse('e', 'EXECUTE p'), fe.sync());
      await batch(c, out, fe.query('DEALLOCATE p'));
      await batch(c, out, fe.query("PREPARE p AS SELECT phone || '' AS x FROM customers"));
      await batch(c, out, fe.bind('', 'e'), fe.execute(''), fe.sync());
      assertNoPhone(out.join('\n'), 'Execute of a parsed FETCH / EXECUTE whose name was redefined since');
    } finally { c.close(); }
  });

  test('past its bound of prepared statements the session is refused new names; none is forgotten', async () => {
    const c = await raw();
    const out: string[] = [];
    try {
      await batch(c, out, fe.query("PREPARE p0 AS SELECT phone || '' AS x FROM customers"));
      c.send(...Array.from({ length: 1000 }, (_, i) => fe.query(`PREPARE q${i} AS SELECT ${i}`)));
      const refused: string[] = [];
      for (let i = 0; i < 1000; i++) {
        for (const f of await c.until(0x5a)) if (f.type === 0x45) refused.push(parseErrorFields(f.body).get('M') ?? '');
      }
      assert.ok(refused.length > 0 && refused.every((m) => /too many prepared statements/.test(m)), refused.slice(0, 3).join('\n'));
      await batch(c, out, fe.query("PREPARE p0 AS SELECT 'x'::text AS x"));
      await batch(c, out, fe.query('EXECUTE p0'));
      assertNoPhone(out.join('\n'), 'EXECUTE of a prepared statement past the bound of names');
      // Freed names (confirmed DEALLOCATE) make room again.
      const fresh: string[] = [];
      await batch(c, fresh, fe.query('DEALLOCATE q0; DEALLOCATE q1'));
      await batch(c, fresh, fe.query("PREPARE z AS SELECT 'plain'::text AS x"));
      await batch(c, fresh, fe.query('EXECUTE z'));
      assert.ok(!fresh.some((s) => s.startsWith('ERROR')) && fresh.some((s) => s.includes('plain')), fresh.join('\n'));
    } finally { c.close(); }
  });
});

const REVIEW_POLICIES = `
@id("writers")
permit (principal in Group::"writers", action in [Action::"sql.read", Action::"sql.write"], resource);
@id("dba-approves")
permit (principal in Group::"dba", action == Action::"review.approve", resource);
`;

describe('PostgreSQL names: an approved prepared statement stays reviewed', { skip }, () => {
  let rig: OrdersReviewRig;
  let t: TestGateway;
  let writer: string;
  let dba: string;
  let admin: pg.Client;
  const errors = async (c: RawPgClient, ...m: Buffer[]): Promise<string[]> => {
    c.send(...m);
    return (await c.until(0x5a)).filter((f) => f.type === 0x45).map((f) => parseErrorFields(f.body).get('M') ?? '');
  };

  before(async () => {
    ({ t, admin, writer, dba } = rig = await startOrdersReviewRig(REVIEW_POLICIES));
  });
  after(async () => { await rig.close(); });

  test('past the bound of names, an approved PREPARE of an UPDATE does not become a read', async () => {
    const a = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'w', 'app', writer);
    try {
      await admin.query('INSERT INTO orders VALUES (9, 100) ON CONFLICT (id) DO UPDATE SET total = 100');
      const prep = 'PREPARE w AS UPDATE orders SET total = total + 1 WHERE id = 9';
      const id = /review (rv_\w+) is pending/.exec((await errors(a, fe.query(prep))).join(' '))?.[1];
      assert.ok(id);
      assert.equal((await t.api('POST', `/api/v1/reviews/${id}/approve`, {}, dba)).status, 200);
      assert.deepEqual(await errors(a, fe.query(prep)), []);
      assert.match((await errors(a, fe.query('EXECUTE w'))).join(' '), /approval required/, 'EXECUTE w is reviewed');
      a.send(...Array.from({ length: 1001 }, (_, i) => fe.query(`PREPARE q${i} AS SELECT ${i}`)));
      for (let i = 0; i < 1001; i++) await a.until(0x5a);
      await errors(a, fe.query('PREPARE w AS SELECT 1')); // refused: w exists
      for (let i = 0; i < 3; i++) assert.match((await errors(a, fe.query('EXECUTE w'))).join(' '), /approval required/);
      const total = Number((await admin.query<{ total: number }>('SELECT total FROM orders WHERE id = 9')).rows[0]?.total);
      assert.equal(total, 100, `the approved-to-PREPARE UPDATE ran ${total - 100} times without review`);
    } finally { a.close(); }
  });

  test('definitions the server refused or skipped, and statements not sent, do not count against the bound of names', async () => {
    const a = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'w', 'app', writer);
    try {
      // One at a time: each is answered (refused or skipped) before the next is guarded.
      const failed: string[] = [];
      for (let i = 0; i < 600; i++) failed.push(...await errors(a, fe.query(`PREPARE f${i} AS SELECT * FROM no_such_table`)));
      for (let i = 0; i < 300; i++) failed.push(...await errors(a, fe.parse('', 'SELECT 1/0'), fe.bind('', ''), fe.execute(''), fe.parse(`g${i}`, 'SELECT 1'), fe.sync()));
      for (let i = 0; i < 300; i++) failed.push(...await errors(a, fe.query(`SELECT 1/0; PREPARE h${i} AS SELECT 1`)));
      assert.equal(failed.length, 1200);
      assert.ok(failed.every((m) => /does not exist|division by zero/.test(m)), failed.find((m) => !/does not exist|division by zero/.test(m)) ?? '');
      assert.deepEqual(await errors(a, fe.query('PREPARE ok AS SELECT 1')), []);
      assert.deepEqual(await errors(a, fe.query('EXECUTE ok')), []);
    } finally { a.close(); }
  });
});
