import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initSqlInspector, inspectSql, SqlInspector } from './inspect.ts';
import type { SqlInspection } from './types.ts';

function ok(r: SqlInspection): Extract<SqlInspection, { ok: true }> {
  if (!r.ok) assert.fail(`expected ok, got: ${r.error}`);
  return r;
}

// Runs first (tests in a file run in order): before the WASM is loaded, everything is denied.
test('before initSqlInspector every inspection fails closed, and that is not cached', async () => {
  const inspector = new SqlInspector();
  const r = inspector.inspect('SELECT 1');
  assert.equal(r.ok, false);
  await initSqlInspector();
  await initSqlInspector(); // idempotent
  assert.equal(inspector.inspect('SELECT 1').ok, true);
});

describe('facts', () => {
  test('tables: schema-qualified, from joins, CTEs, subqueries and targets; case as the parser reports', () => {
    const r = ok(inspectSql(
      'WITH c AS (SELECT * FROM sales.orders) SELECT * FROM c JOIN "Users" u ON true ' +
      'WHERE EXISTS (SELECT 1 FROM audit.log l WHERE l.id = u.id); INSERT INTO Public.Archive SELECT * FROM mydb.s.t',
    ));
    assert.deepEqual(r.facts.tables, ['Users', 'audit.log', 'c', 'mydb.s.t', 'public.archive', 'sales.orders']);
    assert.deepEqual(r.statements[0]?.tables, ['Users', 'audit.log', 'c', 'sales.orders']);
  });

  test('tables named by DROP TABLE are reported', () => {
    assert.deepEqual(ok(inspectSql('DROP TABLE s.secret, other')).facts.tables, ['other', 's.secret']);
  });

  test('functions: every call, qualified names joined with a dot, lowercased', () => {
    const r = ok(inspectSql("SELECT Lower(a), pg_catalog.upper(b), my_app.Audit_Hook(1) FROM t WHERE f(x) > 0; CALL proc.run()"));
    assert.deepEqual(r.facts.functions, ['f', 'lower', 'my_app.audit_hook', 'pg_catalog.upper', 'proc.run']);
    assert.deepEqual(r.facts.dangerous_functions, []);
  });

  test('dangerous functions are reported as written and need sql.admin', () => {
    const r = ok(inspectSql("SELECT pg_catalog.pg_read_file('/etc/passwd'), dblink_connect('x')"));
    assert.deepEqual(r.facts.dangerous_functions, ['dblink_connect', 'pg_catalog.pg_read_file']);
    assert.ok(r.actions.includes('sql.admin'));
  });

  test('recursive CTEs with SEARCH or CYCLE are sql.admin (a plain read of this form crashes PostgreSQL 15.20)', () => {
    const search = ok(inspectSql('WITH RECURSIVE t(x) AS (SELECT phone FROM customers UNION SELECT x FROM t) SEARCH DEPTH FIRST BY x SET o SELECT * FROM t'));
    assert.deepEqual(search.facts.dangerous_functions, ['WITH RECURSIVE … SEARCH']);
    assert.ok(search.actions.includes('sql.admin'));
    const cycle = ok(inspectSql('WITH RECURSIVE t(x) AS (SELECT 1 UNION ALL SELECT x FROM t) CYCLE x SET c USING p SELECT * FROM t'));
    assert.deepEqual(cycle.facts.dangerous_functions, ['WITH RECURSIVE … CYCLE']);
    assert.ok(cycle.actions.includes('sql.admin'));
    const plain = ok(inspectSql('WITH RECURSIVE t(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM t WHERE x < 3) SELECT * FROM t'));
    assert.deepEqual(plain.facts.dangerous_functions, []);
    assert.ok(!plain.actions.includes('sql.admin'));
  });

  test('unknown user functions are reported but do not change the actions (policy decides by name)', () => {
    const r = ok(inspectSql('SELECT func_with_side_effects()'));
    assert.deepEqual(r.facts.functions, ['func_with_side_effects']);
    assert.deepEqual(r.actions, ['sql.read']);
  });

  test('has_where: false when any UPDATE or DELETE lacks WHERE, even nested', () => {
    assert.equal(ok(inspectSql('DELETE FROM t WHERE id = 1')).facts.has_where, true);
    assert.equal(ok(inspectSql('UPDATE t SET a = 1')).facts.has_where, false);
    assert.equal(ok(inspectSql('DELETE FROM t WHERE CURRENT OF c')).facts.has_where, true);
    assert.equal(ok(inspectSql('WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d')).facts.has_where, false);
    assert.equal(ok(inspectSql('UPDATE t SET a = 1 WHERE id = 1; DELETE FROM u')).facts.has_where, false);
    assert.equal(ok(inspectSql('SELECT * FROM t')).facts.has_where, true);
  });

  test('flags: data_modifying_cte, do_block, copy_program', () => {
    const f = ok(inspectSql("WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT 1; DO $$BEGIN END$$; COPY t TO PROGRAM 'cat'")).facts;
    assert.equal(f.data_modifying_cte, true);
    assert.equal(f.do_block, true);
    assert.equal(f.copy_program, true);
    assert.equal(f.statements, 3);
    const plain = ok(inspectSql('WITH x AS (SELECT 1) SELECT * FROM x')).facts;
    assert.deepEqual([plain.data_modifying_cte, plain.do_block, plain.copy_program], [false, false, false]);
  });

  test('kinds per statement and in the union', () => {
    const r = ok(inspectSql('BEGIN; SELECT 1 FOR UPDATE; SET work_mem = 1024; GRANT SELECT ON t TO x; COMMIT'));
    assert.deepEqual(r.statements.map((s) => s.kind), ['transaction', 'read', 'utility', 'admin', 'transaction']);
    assert.deepEqual(r.statements[1]?.kinds, ['read', 'write']);
    assert.deepEqual(r.facts.kinds, ['read', 'write', 'admin', 'transaction', 'utility']);
    assert.deepEqual(r.actions, ['sql.read', 'sql.write', 'sql.admin']);
  });

  test('EXPLAIN without ANALYZE plans only; with ANALYZE it runs the inner statement', () => {
    assert.deepEqual(ok(inspectSql('EXPLAIN INSERT INTO t VALUES (1)')).actions, ['sql.read']);
    assert.deepEqual(ok(inspectSql('EXPLAIN ANALYZE INSERT INTO t VALUES (1)')).actions, ['sql.read', 'sql.write']);
    assert.deepEqual(ok(inspectSql('EXPLAIN (ANALYZE false) DELETE FROM t')).actions, ['sql.read', 'sql.write'], 'any ANALYZE option counts');
  });

  test('location: UTF-16 ranges that slice each statement out of the text', () => {
    const sql = "SELECT 'é😀' ;  DELETE FROM t; \n UPDATE t SET a = 'ü' WHERE true";
    const r = ok(inspectSql(sql));
    assert.deepEqual(r.statements.map((s) => sql.slice(s.location.start, s.location.end).trim()), [
      "SELECT 'é😀'", 'DELETE FROM t', "UPDATE t SET a = 'ü' WHERE true",
    ]);
  });

  test('PREPARE exposes the name and the inner statement; EXECUTE and DEALLOCATE the names', () => {
    const r = ok(inspectSql('PREPARE p(int) AS DELETE FROM t WHERE id = $1; EXECUTE p(1); DEALLOCATE p; DEALLOCATE ALL; DISCARD ALL'));
    const [prep, exec, dealloc, deallocAll, discard] = r.statements;
    assert.equal(prep?.prepared?.name, 'p');
    assert.equal(prep?.prepared?.statement.kind, 'write');
    assert.deepEqual(prep?.prepared?.statement.actions, ['sql.write']);
    assert.deepEqual(prep?.actions, ['sql.read', 'sql.write'], 'PREPARE needs what the statement needs');
    assert.deepEqual(exec?.executes, ['p']);
    assert.deepEqual(dealloc?.deallocates, { all: false, name: 'p' });
    assert.deepEqual(deallocAll?.deallocates, { all: true });
    assert.deepEqual(discard?.deallocates, { all: true });
    assert.deepEqual(r.executes, ['p']);
  });

  test('empty text and comment-only text: no statements, needs sql.read', () => {
    for (const sql of ['', '   ', ';', '/* x */']) {
      const r = ok(inspectSql(sql));
      assert.equal(r.facts.statements, 0);
      assert.deepEqual(r.actions, ['sql.read']);
    }
  });
});

describe('limits and purity', () => {
  test('text over the byte cap fails closed (multi-byte characters count as bytes)', () => {
    const inspector = new SqlInspector({ maxBytes: 20 });
    assert.equal(inspector.inspect('SELECT 1234567890').ok, true);
    assert.equal(inspector.inspect('SELECT 12345678901234').ok, false);
    assert.equal(inspector.inspect("SELECT 'éééééé'").ok, false, '15 characters but 21 bytes');
    assert.equal(inspectSql(`SELECT '${'x'.repeat(1024 * 1024)}'`).ok, false, 'default cap is 1 MiB');
  });

  test('more statements than the cap fails closed', () => {
    const inspector = new SqlInspector({ maxStatements: 3 });
    assert.equal(inspector.inspect('SELECT 1; SELECT 2; SELECT 3').ok, true);
    assert.equal(inspector.inspect('SELECT 1; SELECT 2; SELECT 3; SELECT 4').ok, false);
  });

  test('a very deep expression does not crash: it parses or fails closed, and the parser keeps working', () => {
    const r = inspectSql(`SELECT ${Array.from({ length: 20_000 }, () => '1').join('+')}`);
    assert.equal(typeof r.ok, 'boolean');
    assert.equal(ok(inspectSql('SELECT 1')).facts.statements, 1);
  });

  test('results are frozen, and the same text gives the same result', () => {
    const a = ok(inspectSql('SELECT * FROM t; DELETE FROM u'));
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a.facts) && Object.isFrozen(a.facts.tables) && Object.isFrozen(a.statements[0]));
    assert.throws(() => { (a.actions as string[]).push('sql.admin'); }, TypeError);
    const fresh = new SqlInspector({ cacheEntries: 0 }).inspect('SELECT * FROM t; DELETE FROM u');
    assert.deepEqual(fresh, a);
  });

  test('the cache stays within its entry and character bounds', () => {
    const inspector = new SqlInspector({ cacheEntries: 5, cacheChars: 200, cacheMaxTextChars: 100 });
    for (let i = 0; i < 50; i += 1) inspector.inspect(`SELECT ${i} FROM t${i}`);
    assert.equal(inspector.cacheStats.entries, 5);
    for (let i = 0; i < 50; i += 1) inspector.inspect(`SELECT '${'x'.repeat(60)}' AS c${i}`);
    assert.ok(inspector.cacheStats.chars <= 200, `chars ${inspector.cacheStats.chars}`);
    assert.ok(inspector.cacheStats.entries <= 5);
    const before = inspector.cacheStats;
    inspector.inspect(`SELECT '${'y'.repeat(150)}'`); // longer than cacheMaxTextChars: not cached
    assert.deepEqual(inspector.cacheStats, before);
  });
});
