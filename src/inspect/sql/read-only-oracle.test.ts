import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PGlite } from '@electric-sql/pglite';
import fc from 'fast-check';
import { READ_ONLY_CORPUS } from '../../../test/fixtures/sql-bypass-corpus.ts';
import { initSqlInspector, SqlInspector } from './inspect.ts';

/**
 * Differential check against a real PostgreSQL engine (PGlite): whatever we classify as needing
 * only `sql.read` must run in a session where every transaction is READ ONLY without PostgreSQL
 * refusing it as a write (SQLSTATE 25006). Other errors (unknown table, syntax) are irrelevant here.
 */
await initSqlInspector();
const inspector = new SqlInspector({ cacheEntries: 0 });
const db = new PGlite();
await db.exec(`
  CREATE TABLE t (id int PRIMARY KEY, a int, name text, v tsvector);
  CREATE TABLE s (id int, a int, name text);
  CREATE SEQUENCE seq;
  INSERT INTO t VALUES (1, 1, 'x', NULL);
  SET default_transaction_read_only = on;
`);

after(async () => {
  await db.close();
});

function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

let succeeded = 0;

async function assertRunsReadOnly(sql: string): Promise<void> {
  try {
    await db.exec(sql);
    succeeded += 1;
  } catch (err) {
    assert.notEqual(sqlState(err), '25006', `classified read-only but PostgreSQL refused it as a write: ${sql}`);
  } finally {
    await db.exec('ROLLBACK').catch(() => undefined); // leave no transaction open
  }
}

/** A small SQL grammar: valid statements mixing reads, writes and side effects at any depth. */
const { stmt } = fc.letrec<{ stmt: string; select: string; dml: string; source: string; expr: string }>((tie) => ({
  expr: fc.oneof(
    { maxDepth: 2 },
    { arbitrary: fc.constantFrom('id', 'a', '1', 'lower(name)', 'now()', 'count(*) OVER ()'), weight: 12 },
    fc.constantFrom("nextval('seq')", "setval('seq', 5)", "currval('seq')"),
    tie('select').map((q) => `(SELECT c FROM (${q}) AS e LIMIT 1)`),
  ),
  source: fc.oneof(
    { maxDepth: 2 },
    { arbitrary: fc.constantFrom('t', 's', "(VALUES (1, 2, 'x')) AS v(id, a, name)"), weight: 6 },
    tie('select').map((q) => `(SELECT c AS id, c AS a, 'n' AS name FROM (${q}) AS i) AS sub`),
  ),
  select: fc.tuple(tie('expr'), tie('source'), fc.constantFrom('', ' WHERE id > 0', ' WHERE id IN (SELECT id FROM s)'),
    fc.oneof({ arbitrary: fc.constant(''), weight: 12 }, fc.constantFrom(' FOR UPDATE', ' FOR SHARE', ' FOR KEY SHARE')))
    .map(([e, src, where, lock]) => `SELECT ${e} AS c FROM ${src}${where}${lock}`),
  dml: fc.constantFrom(
    'DELETE FROM t WHERE id = -1 RETURNING id', 'UPDATE t SET a = a WHERE id = -1 RETURNING id',
    'INSERT INTO s VALUES (-1, -1) RETURNING id', 'MERGE INTO s USING t ON s.id = t.id WHEN MATCHED THEN DELETE RETURNING s.id',
  ),
  stmt: fc.oneof(
    { depthSize: 'small' },
    { arbitrary: tie('select'), weight: 8 },
    tie('dml'),
    fc.tuple(fc.oneof(tie('select'), tie('dml')), tie('select')).map(([c, q]) => `WITH c AS (${c}) ${q}`),
    tie('select').map((q) => `EXPLAIN ${q}`),
    fc.oneof(tie('select'), tie('dml')).map((q) => `EXPLAIN ANALYZE ${q}`),
    tie('select').map((q) => `CREATE TEMP TABLE tmp AS ${q}`),
    tie('select').map((q) => q.replace(' AS c FROM ', ' AS c INTO TEMP tmp2 FROM ')),
    fc.constantFrom('TABLE t', 'VALUES (1)', 'LOCK TABLE t IN ACCESS EXCLUSIVE MODE', 'LOCK TABLE t IN ACCESS SHARE MODE',
      'SHOW work_mem', 'SET work_mem = 65536', 'TRUNCATE s', 'CREATE TEMP TABLE tt (a int)', 'COMMENT ON TABLE s IS NULL',
      'DECLARE cur CURSOR FOR SELECT * FROM t', "SELECT pg_notify('ch', 'x')", 'DISCARD TEMP', 'VACUUM s',
      'COPY (SELECT 1) TO STDOUT'),
  ),
}));

describe('read-only classification agrees with PostgreSQL’s read-only transactions', () => {
  test('sanity: the oracle does refuse a write', async () => {
    await assert.rejects(db.exec('DELETE FROM t'), (err: unknown) => sqlState(err) === '25006');
    await db.exec('ROLLBACK').catch(() => undefined);
  });

  test('read-only corpus', async () => {
    for (const entry of READ_ONLY_CORPUS) {
      const r = inspector.inspect(entry.sql);
      assert.ok(r.ok && r.actions.length === 1 && r.actions[0] === 'sql.read', entry.name);
      await assertRunsReadOnly(entry.sql);
    }
  });

  test('property: generated statements classified read-only are not refused as writes', async () => {
    let executed = 0;
    await fc.assert(fc.asyncProperty(fc.array(stmt, { minLength: 1, maxLength: 2 }), async (stmts) => {
      const sql = `BEGIN; ${stmts.join('; ')}`;
      const r = inspector.inspect(sql);
      assert.ok(r.ok, `generated SQL must parse: ${sql}`);
      if (!r.ok || r.actions.some((a) => a !== 'sql.read')) return;
      executed += 1;
      await assertRunsReadOnly(sql);
    }), { numRuns: 400 });
    assert.ok(executed > 100, `only ${executed} generated texts were read-only: the property is too weak`);
    assert.ok(succeeded > 100, `only ${succeeded} texts ran without error: the oracle is not reached`);
  });
});
