import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openStore } from '../../src/store/index.ts';
import type { SqlDriver } from '../../src/store/sql.ts';
import { runStoreConformance } from '../../src/store/store.case.ts';
import { getTestPostgres, pgSkip } from '../harness/postgres-server.ts';

// The same conformance suite as the embedded store, on a real PostgreSQL server.
// In CI a missing server is an error (pgSkip throws); elsewhere the suite is skipped with the reason.
const skip = await pgSkip();

if (skip) {
  test('store conformance: postgres server', { skip }, () => undefined);
} else {
  const urls = new WeakMap<SqlDriver, string>();
  const open = async (): Promise<SqlDriver> => {
    const pgdb = await getTestPostgres();
    assert.ok(pgdb, 'a PostgreSQL server was promised by pgSkip()');
    const db = await openStore({ postgres: { url: pgdb.url, poolMax: 5 } });
    const wrapped: SqlDriver = { ...db, close: async () => { await db.close(); await pgdb.stop(); } };
    urls.set(wrapped, pgdb.url);
    return wrapped;
  };
  const openPeer = (first: SqlDriver): Promise<SqlDriver> => {
    const url = urls.get(first);
    assert.ok(url);
    return openStore({ postgres: { url, poolMax: 3 } });
  };

  describe('postgres test server', () => {
    test('is a real PostgreSQL server, one fresh database per open', async () => {
      const a = await open();
      const b = await open();
      try {
        assert.equal(a.kind, 'postgres');
        const [v] = await a.query<{ v: string }>('SELECT version() AS v');
        assert.match(v?.v ?? '', /^PostgreSQL \d+/);
        const [da] = await a.query<{ d: string }>('SELECT current_database() AS d');
        const [dbb] = await b.query<{ d: string }>('SELECT current_database() AS d');
        assert.match(da?.d ?? '', /^gh_test_/);
        assert.notEqual(da?.d, dbb?.d);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('replicas migrating a fresh database at the same time apply each migration once', async () => {
      const pgdb = await getTestPostgres();
      assert.ok(pgdb);
      const dbs = await Promise.all([1, 2, 3].map(() => openStore({ postgres: { url: pgdb.url, poolMax: 2 } })));
      try {
        const rows = await dbs[0]!.query<{ name: string }>('SELECT name FROM schema_migrations');
        assert.ok(rows.some((r) => r.name === '001_core.sql'));
        assert.equal(new Set(rows.map((r) => r.name)).size, rows.length);
      } finally {
        for (const db of dbs) await db.close();
        await pgdb.stop();
      }
    });

    test('a separate password replaces the one in the URL', async () => {
      const pgdb = await getTestPostgres();
      assert.ok(pgdb);
      const real = new URL(pgdb.url);
      const password = decodeURIComponent(real.password);
      real.password = 'wrong';
      // The throwaway server checks passwords (SCRAM); a server from GATEHOUSE_TEST_PG_URL may trust.
      if (process.env.GATEHOUSE_TEST_PG_URL === undefined) {
        await assert.rejects(openStore({ postgres: { url: real.toString() } }), /password authentication failed/);
      }
      const db = await openStore({ postgres: { url: real.toString(), password } });
      try {
        assert.deepEqual(await db.query('SELECT 1 AS one'), [{ one: 1 }]);
      } finally {
        await db.close();
        await pgdb.stop();
      }
    });
  });

  runStoreConformance('postgres server', open, { openPeer });
}
