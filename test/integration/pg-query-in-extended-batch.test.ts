import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { TestGateway } from '../harness/gateway.ts';
import { pgSkip } from '../harness/postgres-server.ts';
import { startLineageRig, type PgRig } from '../harness/pg-rigs.ts';
import { assertNoPhone, READER_POLICIES } from '../fixtures/pg-lineage-db.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import { parseErrorFields } from '../../src/protocols/postgres/backend-messages.ts';

// Final attacker review (session 16): after an error in an extended batch the server skips every
// message until Sync — a Query too — while the gateway counted that Query as answered: the names
// it tracks from the server's answers fell out of step by one, so a CLOSE the server skipped was
// confirmed by the next one, and a FETCH then returned protected values unmasked (an approved
// PREPARE of a write likewise ran unreviewed after a skipped DEALLOCATE). A Query inside an
// unfinished extended batch is now refused and the session ends (real clients Sync first).

const POLICIES = READER_POLICIES;

const skip = await pgSkip();



describe('a Query inside an extended batch not ended by Sync is refused (real PostgreSQL)', { skip }, () => {
  let rig: PgRig;
  let t: TestGateway;
  let reader: string;
  const raw = (): Promise<RawPgClient> => RawPgClient.connect(t.postgres.host, t.postgres.port, 'u', 'app', reader);
  /** Sends `m`, reads to ReadyForQuery; appends every message's text (an error's message) to `out`. */
  const batch = async (c: RawPgClient, out: string[], ...m: Buffer[]): Promise<void> => {
    c.send(...m);
    for (const f of await c.until(0x5a)) out.push(f.type === 0x45 ? `ERROR ${parseErrorFields(f.body).get('M') ?? ''}` : f.body.toString('utf8'));
  };
  /** Every frame until the gateway closes the connection. */
  const untilClosed = async (c: RawPgClient, out: string[]): Promise<{ code?: string | undefined; message?: string | undefined }> => {
    let err: { code?: string | undefined; message?: string | undefined } = {};
    for (;;) {
      let f;
      try { f = await c.next(5000); } catch { return err; }
      if (f.type === 0x45) { const e = parseErrorFields(f.body); err = { code: e.get('C'), message: e.get('M') }; out.push(`ERROR ${err.message}`); } else out.push(f.body.toString('utf8'));
    }
  };

  before(async () => {
    rig = await startLineageRig(POLICIES);
    t = rig.t;
    reader = await rig.key('reader', ['readers']);
  });
  after(async () => { await rig.close(); });

  test('after an extended-batch error, a Query before Sync ends the session (08P01): the skipped-CLOSE chain cannot run', async () => {
    const c = await raw();
    const out: string[] = [];
    try {
      await batch(c, out, fe.query("DECLARE c CURSOR WITH HOLD FOR SELECT phone || '' AS x FROM customers"));
      await batch(c, out, fe.query("DECLARE d CURSOR WITH HOLD FOR SELECT 'y'::text AS x"));
      c.send(fe.parse('', 'SELECT 1/0'), fe.bind('', ''), fe.execute(''));
      for (;;) { const f = await c.next(); out.push(f.body.toString('utf8')); if (f.type === 0x45) break; }
      c.send(fe.query('SELECT 1'), fe.sync(), fe.query('SELECT 1/0; CLOSE c'), fe.query('CLOSE d'),
        fe.query("DECLARE c CURSOR WITH HOLD FOR SELECT 'x'::text AS x"), fe.query('FETCH ALL FROM c'));
      const err = await untilClosed(c, out);
      assert.equal(err.code, '08P01', out.join('\n'));
      assert.match(err.message ?? '', /send Sync first/);
      assert.ok(c.closed, 'the session ends');
      assertNoPhone(out.join('\n'), 'the session');
    } finally { c.close(); }
  });

  test('without an error too: Parse, Bind, Execute, then a Query without Sync is refused', async () => {
    const c = await raw();
    const out: string[] = [];
    try {
      c.send(fe.parse('', "SELECT 'a'::text AS v"), fe.bind('', ''), fe.execute(''), fe.query('SELECT 2'));
      const err = await untilClosed(c, out);
      assert.equal(err.code, '08P01', out.join('\n'));
    } finally { c.close(); }
  });

  test('a Query after Sync is served as always (node-postgres and a raw client)', async () => {
    const c = await raw();
    const out: string[] = [];
    try {
      await batch(c, out, fe.parse('', "SELECT 'a'::text AS v"), fe.bind('', ''), fe.execute(''), fe.sync());
      await batch(c, out, fe.query("SELECT 'b'::text AS v"));
      assert.ok(!out.some((x) => x.startsWith('ERROR')), out.join('\n'));
    } finally { c.close(); }
    const p = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'u', database: 'app', password: reader });
    await p.connect();
    try {
      assert.deepEqual((await p.query({ text: 'SELECT $1::int + 1 AS n', values: [1], name: 'plus' })).rows, [{ n: 2 }]);
      assert.deepEqual((await p.query('SELECT 3 AS n')).rows, [{ n: 3 }]);
      assert.deepEqual((await p.query({ text: 'SELECT $1::int + 1 AS n', values: [5], name: 'plus' })).rows, [{ n: 6 }]);
    } finally { await p.end(); }
  });
});
