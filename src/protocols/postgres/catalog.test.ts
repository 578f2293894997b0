import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startPgliteServer, type PgliteServer } from '../../../test/harness/pglite-server.ts';
import { systemClock } from '../../kernel/clock.ts';
import { CatalogResolver } from './catalog.ts';
import { upstreamTarget } from './upstream.ts';

describe('CatalogResolver', () => {
  let up: PgliteServer;
  let oid: number;
  before(async () => {
    up = await startPgliteServer('CREATE TABLE customers (id int, email text, card text)');
    const r = await up.db.query<{ oid: number }>("SELECT 'customers'::regclass::oid AS oid");
    oid = r.rows[0]!.oid;
  });
  after(() => up.stop());

  test('resolves a table OID to its schema, name and columns by attribute number', async () => {
    const c = new CatalogResolver(upstreamTarget(up.url, undefined), { clock: systemClock });
    try {
      const info = await c.table(oid);
      assert.equal(info?.table, 'customers');
      assert.equal(info.schema, 'public');
      assert.equal(info.columns.get(2), 'email');
      assert.equal(await c.table(999_999), undefined);
    } finally {
      c.close();
    }
  });

  test('a lookup the upstream cannot answer fails after the timeout instead of hanging (callers fail closed)', async () => {
    // PGlite serves one connection at a time: an open transaction elsewhere blocks the lookup.
    const client = new pg.Client({ connectionString: up.url });
    await client.connect();
    const c = new CatalogResolver(upstreamTarget(up.url, undefined), { clock: systemClock, queryTimeoutMs: 300 });
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1');
      await assert.rejects(c.table(oid), /timed out/);
      await client.query('COMMIT');
      assert.equal((await c.table(oid))?.table, 'customers', 'the next lookup reconnects');
    } finally {
      c.close();
      await client.end();
    }
  });
});
