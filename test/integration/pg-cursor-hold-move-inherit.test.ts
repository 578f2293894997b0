import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { TestGateway } from '../harness/gateway.ts';
import { pgSkip } from '../harness/postgres-server.ts';
import { startLineageRig, type PgRig } from '../harness/pg-rigs.ts';
import { assertNoPhone, PHONES } from '../fixtures/pg-lineage-db.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import { parseErrorFields } from '../../src/protocols/postgres/backend-messages.ts';

/**
 * Column rules on the PostgreSQL path where a cursor's rows are computed by a statement that
 * names no protected column (COMMIT of a WITH HOLD cursor, MOVE) and where a protected table's
 * rows are read through its inheritance or partition parent (atk-pg findings F1, F2, F5). A
 * human reader (`sql.read`), `customers.phone` ruled `redact`.
 */

const POLICIES = `
@id("readers")
permit (principal in Group::"readers", action == Action::"sql.read", resource);
`;

/** A cast whose error quotes the protected values it failed on. */
const AGG = "SELECT string_agg(phone, ',')::int FROM customers";

const skip = await pgSkip();


describe('column rules: cursors computed at COMMIT or MOVE, rows read through a parent table (real PostgreSQL)', { skip }, () => {
  let rig: PgRig;
  let t: TestGateway;
  let reader: string;
  const client = async (): Promise<pg.Client> => {
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'u', database: 'app', password: reader });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  const run = async (c: pg.Client, sql: string): Promise<string> =>
    c.query(sql).then((r) => JSON.stringify(r.rows), (e: unknown) => `ERROR ${(e as Error).message}`);
  /** A raw client: every ErrorResponse / NoticeResponse message and every other frame's bytes, per batch. */
  const raw = async (): Promise<{ c: RawPgClient; text: string[]; batch: (...m: Buffer[]) => Promise<void> }> => {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'u', 'app', reader);
    const text: string[] = [];
    const batch = async (...m: Buffer[]): Promise<void> => {
      c.send(...m);
      for (const f of await c.until(0x5a)) {
        text.push(f.type === 0x45 || f.type === 0x4e ? [...parseErrorFields(f.body).values()].join(' ') : f.body.toString('utf8'));
      }
    };
    return { c, text, batch };
  };
  const exec = (sql: string): Buffer[] => [fe.parse('', sql), fe.bind('', ''), fe.execute('')];

  before(async () => {
    rig = await startLineageRig(POLICIES);
    t = rig.t;
    reader = await rig.key('reader', ['readers']);
  });
  after(async () => { await rig.close(); });

  test('F1: a WITH HOLD cursor is computed at COMMIT, whose error quotes the protected values', async () => {
    const c = await client();
    try {
      const out: string[] = [];
      out.push(await run(c, 'BEGIN'));
      out.push(await run(c, `DECLARE c CURSOR WITH HOLD FOR ${AGG}`));
      out.push(await run(c, 'COMMIT'));
      assertNoPhone(out.join('\n'), 'COMMIT of a WITH HOLD cursor');
      assert.match(out[2]!, /^ERROR /, 'the COMMIT still fails (only its text is withheld)');
    } finally { await c.end(); }
  });

  test('F1: every way to end the transaction (END, COMMIT AND CHAIN, COMMIT among other statements)', async () => {
    const c = await client();
    try {
      const out: string[] = [];
      for (const end of ['END', 'COMMIT AND CHAIN', 'SELECT 1; COMMIT; SELECT 2']) {
        out.push(await run(c, 'BEGIN'));
        out.push(await run(c, `DECLARE h CURSOR WITH HOLD FOR ${AGG}`));
        out.push(await run(c, end));
        out.push(await run(c, 'ROLLBACK'));
      }
      assertNoPhone(out.join('\n'), 'the end of a transaction holding a WITH HOLD cursor');
    } finally { await c.end(); }
  });

  test('F1 (protocol): a cursor declared in an extended batch, committed by a later Execute or Query, or at Sync', async () => {
    const { c, text, batch } = await raw();
    try {
      // declared through Parse/Bind/Execute, committed by a protocol Execute of COMMIT
      await batch(...exec('BEGIN'), ...exec(`DECLARE p1 CURSOR WITH HOLD FOR ${AGG}`), fe.sync());
      await batch(...exec('COMMIT'), fe.sync());
      // declared through a Query, committed by a simple Query
      await batch(fe.query('BEGIN'));
      await batch(fe.query(`DECLARE p2 CURSOR WITH HOLD FOR ${AGG}`));
      await batch(fe.query('COMMIT'));
      // the implicit transaction of an extended batch commits at its Sync
      await batch(...exec(`DECLARE p3 CURSOR WITH HOLD FOR ${AGG}`), fe.sync());
      assertNoPhone(text.join('\n'), 'the commit of a WITH HOLD cursor (protocol)');
    } finally { c.close(); }
  });

  test('F2: MOVE computes a cursor\'s rows, and its error quotes the protected values', async () => {
    const c = await client();
    try {
      const out: string[] = [];
      out.push(await run(c, 'BEGIN'));
      out.push(await run(c, `DECLARE d CURSOR FOR ${AGG}`));
      out.push(await run(c, 'MOVE ALL IN d'));
      out.push(await run(c, 'ROLLBACK'));
      out.push(await run(c, 'BEGIN'));
      out.push(await run(c, `DECLARE d CURSOR FOR ${AGG}`));
      out.push(await run(c, 'MOVE FORWARD 5 FROM d'));
      out.push(await run(c, 'ROLLBACK'));
      assertNoPhone(out.join('\n'), 'MOVE of a cursor');
    } finally { await c.end(); }
  });

  test('F2 (protocol): MOVE through Parse/Bind/Execute, and MOVE on a protocol portal or a name Gatehouse does not know, are refused or withheld', async () => {
    const { c, text, batch } = await raw();
    try {
      await batch(fe.query('BEGIN'));
      await batch(...exec(`DECLARE d CURSOR FOR ${AGG}`), ...exec('MOVE ALL IN d'), fe.sync());
      await batch(fe.query('ROLLBACK'));
      // a portal bound through the protocol is a cursor for SQL MOVE / FETCH
      await batch(fe.query('BEGIN'));
      await batch(fe.parse('', AGG), fe.bind('y', ''), fe.sync());
      const before = text.length;
      await batch(fe.query('MOVE ALL IN y'));
      const moved = text.slice(before).join('\n');
      assert.match(moved, /Gatehouse denied/, 'MOVE on a portal Gatehouse did not see declared as a cursor is refused');
      await batch(fe.query('ROLLBACK'));
      // a cursor opened behind the gateway (a function's refcursor): MOVE is refused like FETCH
      const n = text.length;
      await batch(fe.query('MOVE ALL IN phones'));
      assert.match(text.slice(n).join('\n'), /Gatehouse denied/);
      assertNoPhone(text.join('\n'), 'MOVE (protocol)');
    } finally { c.close(); }
  });

  test('F5: the rows of a protected table read through its (unprotected) inheritance parent are masked', async () => {
    const setup = new pg.Client({ connectionString: rig.db.url });
    await setup.connect();
    await setup.query('CREATE TABLE contacts (id int, phone text); ALTER TABLE customers INHERIT contacts');
    const c = await client();
    try {
      const got = await run(c, 'SELECT phone FROM contacts');
      assertNoPhone(got, 'the inheritance parent of customers');
      assert.match(got, /^\[/, 'the parent is still readable');
    } finally {
      await c.end();
      await setup.query('ALTER TABLE customers NO INHERIT contacts; DROP TABLE contacts');
      await setup.end();
    }
  });

  test('a portal bound before an earlier batch\'s ReadyForQuery keeps its plan (an inheritance parent or child read by a bare column)', async () => {
    const setup = new pg.Client({ connectionString: rig.db.url });
    await setup.connect();
    await setup.query([
      'CREATE TABLE r_parent (id int, phone text)', 'ALTER TABLE customers INHERIT r_parent',
      'CREATE TABLE r_child () INHERITS (customers)', `INSERT INTO r_child VALUES (9, 'x', '${PHONES[0]}', 'e')`,
    ].join('; '));
    const { c, text, batch } = await raw();
    try {
      for (const sql of ['SELECT phone FROM r_parent', 'SELECT phone FROM r_child']) {
        // The Query's ReadyForQuery (idle, nothing counted in flight) arrives after the Bind was forwarded.
        await batch(fe.query('SELECT pg_sleep(0.3)'), fe.parse('', sql), fe.bind('', ''));
        await batch(fe.execute(''), fe.sync());
      }
      assertNoPhone(text.join('\n'), 'an Execute of a portal bound before an idle ReadyForQuery');
    } finally {
      c.close();
      await setup.query('DROP TABLE r_child; ALTER TABLE customers NO INHERIT r_parent; DROP TABLE r_parent');
      await setup.end();
    }
  });

  test('F5: grandparents, views over a parent, and partitioned tables', async () => {
    const setup = new pg.Client({ connectionString: rig.db.url });
    await setup.connect();
    await setup.query([
      'CREATE TABLE g_root (id int, phone text)', 'CREATE TABLE g_mid () INHERITS (g_root)', 'ALTER TABLE customers INHERIT g_mid',
      'CREATE VIEW g_view AS SELECT upper(phone) AS p FROM g_root',
      'CREATE SCHEMA part', 'CREATE TABLE part.contacts_p (id int, phone text) PARTITION BY LIST (id)',
      'CREATE TABLE part.mid PARTITION OF part.contacts_p FOR VALUES IN (1, 2) PARTITION BY LIST (id)',
      'CREATE TABLE part.customers PARTITION OF part.mid FOR VALUES IN (1, 2)',
      `INSERT INTO part.contacts_p VALUES (1, '${PHONES[0]}'), (2, '${PHONES[1]}')`,
    ].join('; '));
    const c = await client();
    try {
      const out: string[] = [];
      for (const q of ['SELECT phone FROM g_root', 'SELECT g_root FROM g_root', 'SELECT * FROM g_view', 'SELECT phone FROM part.contacts_p',
        'SELECT phone FROM part.mid', 'SELECT upper(phone) FROM part.contacts_p', "SELECT string_agg(phone, ',')::int FROM part.contacts_p"]) {
        out.push(await run(c, q));
      }
      assertNoPhone(out.join('\n'), 'a parent (or grandparent) of a protected table');
    } finally {
      await c.end();
      await setup.query('DROP VIEW g_view; ALTER TABLE customers NO INHERIT g_mid; DROP TABLE g_mid; DROP TABLE g_root; DROP SCHEMA part CASCADE');
      await setup.end();
    }
  });
});
