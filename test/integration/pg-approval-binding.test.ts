import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { TestGateway } from '../harness/gateway.ts';
import { pgSkip } from '../harness/postgres-server.ts';
import { startOrdersReviewRig, type OrdersReviewRig } from '../harness/pg-rigs.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import { parseErrorFields } from '../../src/protocols/postgres/backend-messages.ts';
import { MessageWriter } from '../../src/protocols/postgres/writer.ts';

/**
 * An approval on the PostgreSQL path runs what the approver saw (atk-pg F3, F7): its key and the
 * summary shown cover what `EXECUTE p` resolves to (every definition of `p` the gateway tracks),
 * the parameters' format codes and the Parse's declared parameter types — not only the text and
 * the parameter bytes.
 */

const POLICIES = `
@id("writers")
permit (principal in Group::"writers", action in [Action::"sql.read", Action::"sql.write"], resource);
@id("dba-approves")
permit (principal in Group::"dba", action == Action::"review.approve", resource);
`;

const skip = await pgSkip();

describe('approvals are bound to what the server runs (real PostgreSQL)', { skip }, () => {
  let rig: OrdersReviewRig;
  let t: TestGateway;
  let writer: string;
  let dba: string;
  let admin: pg.Client;
  const connect = (): Promise<RawPgClient> => RawPgClient.connect(t.postgres.host, t.postgres.port, 'w', 'app', writer);
  const errors = async (c: RawPgClient, ...m: Buffer[]): Promise<string[]> => {
    c.send(...m);
    return (await c.until(0x5a)).filter((f) => f.type === 0x45).map((f) => parseErrorFields(f.body).get('M') ?? '');
  };
  const pendingId = (errs: readonly string[]): string | undefined => /review (rv_\w+) is pending/.exec(errs.join(' '))?.[1];
  const count = async (): Promise<number> => Number((await admin.query<{ n: string }>('SELECT count(*) AS n FROM orders')).rows[0]?.n);
  const reset = async (n: number): Promise<void> => {
    await admin.query(`DELETE FROM orders; INSERT INTO orders SELECT g, 100 FROM generate_series(1, ${n}) g`);
  };
  const parseTyped = (name: string, sql: string, oids: readonly number[]): Buffer => {
    const w = new MessageWriter().cstring(name).cstring(sql).int16(oids.length);
    for (const o of oids) w.int32(o);
    return w.frame(0x50);
  };
  /** Bind of one 4-byte parameter "0000" into the unnamed portal, with `format` (0 text, 1 binary). */
  const bind0000 = (statement: string, format: 0 | 1): Buffer => new MessageWriter().cstring('').cstring(statement).int16(1).int16(format).int16(1)
    .int32(4).bytes(Buffer.from('0000')).int16(0).frame(0x42);

  before(async () => {
    ({ t, admin, writer, dba } = rig = await startOrdersReviewRig(POLICIES));
  });
  after(async () => { await rig.close(); });

  test('F3: the approval of "EXECUTE p" (a one-row UPDATE) does not run "EXECUTE p" redefined as a DELETE of every row', async () => {
    await reset(50);
    const a = await connect();
    const b = await connect();
    try {
      assert.deepEqual(await errors(a, fe.parse('p', 'UPDATE orders SET total = total + 1 WHERE id = 7'), fe.sync()), []);
      const id = pendingId(await errors(a, fe.query('EXECUTE p')));
      assert.ok(id);
      const review = await t.api('GET', `/api/v1/reviews/${id}`, undefined, dba);
      assert.equal((review.json.facts as { sql: { has_where: boolean } }).sql.has_where, true);
      assert.match(String(review.json.summary), /UPDATE orders SET total = total \+ 1 WHERE id = 7/, 'the approver sees what p is');
      assert.equal((await t.api('POST', `/api/v1/reviews/${id}/approve`, {}, dba)).status, 200);
      // Another session of the same principal: same text, another statement behind the name.
      assert.deepEqual(await errors(b, fe.parse('p', 'DELETE FROM orders'), fe.sync()), []);
      assert.match((await errors(b, fe.query('EXECUTE p'))).join(' '), /approval required/);
      assert.equal(await count(), 50, 'the approved one-row UPDATE became a DELETE');
      // The session the approval was given for runs it, once.
      assert.deepEqual(await errors(a, fe.query('EXECUTE p')), []);
      assert.equal((await admin.query<{ total: number }>('SELECT total FROM orders WHERE id = 7')).rows[0]?.total, 101);
    } finally { a.close(); b.close(); }
  });

  test('F3 (Bind): the approval of a Bind of a parsed "EXECUTE p" does not run it once p is another statement', async () => {
    await reset(50);
    const a = await connect();
    const b = await connect();
    try {
      assert.deepEqual(await errors(a, fe.parse('p', 'UPDATE orders SET total = total + 1 WHERE id = 8'), fe.parse('x', 'EXECUTE p'), fe.sync()), []);
      const id = pendingId(await errors(a, fe.bind('', 'x'), fe.execute(''), fe.sync()));
      assert.ok(id);
      assert.match(String((await t.api('GET', `/api/v1/reviews/${id}`, undefined, dba)).json.summary), /WHERE id = 8/);
      assert.equal((await t.api('POST', `/api/v1/reviews/${id}/approve`, {}, dba)).status, 200);
      assert.deepEqual(await errors(b, fe.parse('p', 'DELETE FROM orders'), fe.parse('x', 'EXECUTE p'), fe.sync()), []);
      assert.match((await errors(b, fe.bind('', 'x'), fe.execute(''), fe.sync())).join(' '), /approval required/);
      assert.equal(await count(), 50);
    } finally { a.close(); b.close(); }
  });

  test('F7: an approval of a Bind with a text parameter does not run the same bytes sent in binary format (another value)', async () => {
    await reset(20);
    const a = await connect();
    try {
      assert.deepEqual(await errors(a, parseTyped('d', 'DELETE FROM orders WHERE id < $1', [23]), fe.sync()), []);
      const id = pendingId(await errors(a, bind0000('d', 0), fe.execute(''), fe.sync()));
      assert.ok(id);
      const review = await t.api('GET', `/api/v1/reviews/${id}`, undefined, dba);
      assert.match(String(review.json.summary), /params: \["0000"\]/);
      assert.equal((await t.api('POST', `/api/v1/reviews/${id}/approve`, {}, dba)).status, 200);
      assert.match((await errors(a, bind0000('d', 1), fe.execute(''), fe.sync())).join(' '), /approval required/, 'binary 0000 is int4 808464432');
      assert.equal(await count(), 20, 'the approved "id < 0" deleted rows');
    } finally { a.close(); }
  });

  test('F7 (types): the approval with a text parameter does not run the same text under another declared type; binary is shown as such', async () => {
    await reset(20);
    const a = await connect();
    try {
      // Declared int4 (23), then the same text declared text (25): another statement on the server, another key.
      assert.deepEqual(await errors(a, parseTyped('d', 'DELETE FROM orders WHERE id < $1::int', [23]), fe.sync()), []);
      const id = pendingId(await errors(a, bind0000('d', 0), fe.execute(''), fe.sync()));
      assert.ok(id);
      assert.equal((await t.api('POST', `/api/v1/reviews/${id}/approve`, {}, dba)).status, 200);
      assert.deepEqual(await errors(a, fe.query('DEALLOCATE d')), []);
      assert.deepEqual(await errors(a, parseTyped('d', 'DELETE FROM orders WHERE id < $1::int', [25]), fe.sync()), []); // text
      assert.match((await errors(a, bind0000('d', 0), fe.execute(''), fe.sync())).join(' '), /approval required/);
      const held = pendingId(await errors(a, bind0000('d', 1), fe.execute(''), fe.sync()));
      assert.ok(held);
      assert.match(String((await t.api('GET', `/api/v1/reviews/${held}`, undefined, dba)).json.summary), /binary/i);
      assert.equal(await count(), 20);
    } finally { a.close(); }
  });
  test('a portal running "EXECUTE p" is refused at Execute when p was redefined after its Bind was decided (approved or allowed)', async () => {
    await reset(50);
    const closeStmt = (name: string): Buffer => new MessageWriter().byte(0x53).cstring(name).frame(0x43);
    const a = await connect();
    try {
      assert.deepEqual(await errors(a, fe.parse('p', 'UPDATE orders SET total = total + 1 WHERE id = 9'), fe.parse('x', 'EXECUTE p'), fe.sync()), []);
      const id = pendingId(await errors(a, fe.bind('', 'x'), fe.execute(''), fe.sync()));
      assert.ok(id);
      assert.equal((await t.api('POST', `/api/v1/reviews/${id}/approve`, {}, dba)).status, 200);
      const swapped = await errors(a, fe.bind('', 'x'), closeStmt('p'), fe.parse('p', 'DELETE FROM orders'), fe.execute(''), fe.sync());
      assert.match(swapped.join(' '), /redefined/);
      assert.equal(await count(), 50, 'the approved UPDATE ran as a DELETE');
      // Allowed without review: p reads; redefined as a DELETE between Bind and Execute.
      assert.deepEqual(await errors(a, fe.parse('r', 'SELECT 1'), fe.parse('y', 'EXECUTE r'), fe.sync()), []);
      const allowed = await errors(a, fe.bind('', 'y'), closeStmt('r'), fe.parse('r', 'DELETE FROM orders'), fe.execute(''), fe.sync());
      assert.match(allowed.join(' '), /redefined/);
      assert.equal(await count(), 50, 'a read became an unreviewed DELETE');
    } finally { a.close(); }
  });

  test('an approval of "EXECUTE x" covers what x runs when x is itself "EXECUTE p"', async () => {
    await reset(50);
    const a = await connect();
    const b = await connect();
    try {
      assert.deepEqual(await errors(a, fe.parse('p', 'UPDATE orders SET total = total + 1 WHERE id = 10'), fe.parse('x', 'EXECUTE p'), fe.sync()), []);
      const id = pendingId(await errors(a, fe.query('EXECUTE x')));
      assert.ok(id, 'EXECUTE x is reviewed');
      assert.equal((await admin.query<{ total: number }>('SELECT total FROM orders WHERE id = 10')).rows[0]?.total, 100, 'the UPDATE ran unreviewed');
      assert.match(String((await t.api('GET', `/api/v1/reviews/${id}`, undefined, dba)).json.summary), /WHERE id = 10/);
      assert.equal((await t.api('POST', `/api/v1/reviews/${id}/approve`, {}, dba)).status, 200);
      assert.deepEqual(await errors(b, fe.parse('p', 'DELETE FROM orders'), fe.parse('x', 'EXECUTE p'), fe.sync()), []);
      await errors(b, fe.query('EXECUTE x'));
      assert.equal(await count(), 50);
    } finally { a.close(); b.close(); }
  });
});
