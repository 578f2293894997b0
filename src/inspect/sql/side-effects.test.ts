import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initSqlInspector, inspectSql } from './inspect.ts';
import type { SqlInspection } from './types.ts';

function ok(r: SqlInspection): Extract<SqlInspection, { ok: true }> {
  if (!r.ok) assert.fail(`expected ok, got: ${r.error}`);
  return r;
}

before(async () => { await initSqlInspector(); });

describe('side effects a policy can tell apart', () => {
  const cases: [string, string[], string[]][] = [
    ['SELECT pg_advisory_lock(42)', ['lock'], []],
    ['SELECT pg_catalog.pg_try_advisory_xact_lock(1, 2)', ['lock'], []],
    ['SELECT * FROM t FOR UPDATE', ['lock'], []],
    ['LOCK TABLE t', ['lock'], []],
    ["NOTIFY ch, 'x'", ['notify'], []],
    ['LISTEN ch', ['notify'], []],
    ["SELECT pg_notify('ch', 'payload')", ['notify'], []],
    ['SELECT txid_current()', ['transaction_id'], []],
    ['SELECT pg_current_xact_id()', ['transaction_id'], []],
    ["SELECT nextval('s')", ['sequence'], []],
    ["SET work_mem = '1GB'", ['settings'], ['work_mem']],
    ['SET LOCAL statement_timeout = 0', ['settings'], ['statement_timeout']],
    ['RESET ALL', ['settings'], ['all']],
    ["SELECT set_config('work_mem', '1GB', false)", ['settings'], ['work_mem']],
    ['SELECT set_config(name, v, false) FROM x', ['settings'], ['*']],
    ['SELECT setseed(0.5)', ['settings'], []],
    ['SELECT 1', [], []],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', [], []],
  ];
  for (const [sql, effects, settings] of cases) {
    test(sql, () => {
      const r = ok(inspectSql(sql));
      assert.deepEqual(r.facts.side_effects, effects);
      assert.deepEqual(r.facts.settings, settings);
    });
  }
  test('attribute notation names are possible function calls', () => {
    const r = ok(inspectSql('SELECT c.customer_tag, (c).other_tag, (c.*).third FROM customers c'));
    assert.deepEqual(r.facts.possible_functions, ['customer_tag', 'other_tag', 'third']);
    assert.deepEqual(r.facts.functions, []);
    // side-effect builtins in attribute notation count as calls
    assert.deepEqual(ok(inspectSql('SELECT (1).pg_advisory_lock')).facts.side_effects, ['lock']);
  });
  test('COPY TO STDOUT is a fact; COPY FROM STDIN and to a file are not', () => {
    assert.equal(ok(inspectSql('COPY (SELECT f()) TO STDOUT')).facts.copy_out, true);
    assert.equal(ok(inspectSql('COPY t TO STDOUT')).facts.copy_out, true);
    assert.equal(ok(inspectSql('COPY t FROM STDIN')).facts.copy_out, false);
  });
});

describe('server secrets are sql.admin', () => {
  const secret = [
    'SELECT rolname, rolpassword FROM pg_authid',
    'SELECT * FROM pg_catalog.pg_shadow',
    'SELECT * FROM pg_hba_file_rules',
    'SELECT * FROM pg_file_settings',
    'SELECT query FROM pg_stat_activity',
    "SELECT current_setting('data_directory')",
    "SELECT pg_catalog.current_setting('config_file')",
    'SELECT current_setting(name) FROM t',
    'SHOW data_directory',
    'SHOW ALL',
    'SELECT * FROM pg_settings',
    'SELECT * FROM pg_show_all_settings()',
    'SELECT most_common_vals FROM pg_stats',
    'SELECT umoptions FROM pg_user_mappings',
    'WITH x AS (SELECT * FROM pg_authid) SELECT 1',
    'SELECT 1 WHERE EXISTS (SELECT 1 FROM pg_shadow)',
  ];
  for (const sql of secret) {
    test(sql, () => {
      const r = ok(inspectSql(sql));
      assert.ok(r.actions.includes('sql.admin'), JSON.stringify(r.actions));
      assert.ok((r.facts.server_secrets ?? []).length > 0);
    });
  }
  for (const sql of ["SELECT current_setting('work_mem')", 'SHOW statement_timeout', 'SELECT * FROM pg_class', 'SELECT * FROM pg_roles']) {
    test(`not a secret: ${sql}`, () => {
      const r = ok(inspectSql(sql));
      assert.deepEqual(r.actions, ['sql.read']);
      assert.deepEqual(r.facts.server_secrets, []);
    });
  }
});
