import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BYPASS_CORPUS, READ_ONLY_CORPUS, UNPARSEABLE_CORPUS } from '../../../test/fixtures/sql-bypass-corpus.ts';
import { initSqlInspector, inspectSql } from './inspect.ts';
import { PreparedStatements } from './prepared.ts';

before(async () => {
  await initSqlInspector();
});

/** What a read-only principal (permitted `sql.read` only) would be let through. */
function readOnlyAllowed(actions: readonly string[]): boolean {
  return actions.every((a) => a === 'sql.read');
}

describe('bypass corpus: a read-only principal gets nothing else through', () => {
  for (const entry of BYPASS_CORPUS) {
    test(entry.name, () => {
      assert.ok(entry.actions.some((a) => a !== 'sql.read'), 'corpus entry must need more than read');
      const r = inspectSql(entry.sql);
      assert.ok(r.ok, `expected ok, got ${r.ok ? '' : r.error}`);
      assert.deepEqual(r.actions, entry.actions);
      assert.equal(readOnlyAllowed(r.actions), false);
    });
  }
});

describe('read-only corpus: true negatives stay read', () => {
  for (const entry of READ_ONLY_CORPUS) {
    test(entry.name, () => {
      const r = inspectSql(entry.sql);
      assert.ok(r.ok, `expected ok, got ${r.ok ? '' : r.error}`);
      assert.deepEqual(r.actions, entry.actions);
    });
  }
});

describe('unparseable corpus: fail closed', () => {
  for (const entry of UNPARSEABLE_CORPUS) {
    test(entry.name, () => {
      const r = inspectSql(entry.sql);
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.error.length > 0);
    });
  }
});

describe('EXECUTE of a statement prepared in an earlier request', () => {
  test('the session resolves it to the prepared statement’s actions', () => {
    const session = new PreparedStatements();
    const prepare = session.resolve(inspectSql('PREPARE p AS DELETE FROM t'));
    assert.ok(prepare.ok);
    assert.deepEqual(prepare.actions, ['sql.read', 'sql.write']);

    const execute = inspectSql('EXECUTE p');
    assert.ok(execute.ok);
    assert.deepEqual(execute.actions, ['sql.read'], 'the text alone looks harmless');
    assert.deepEqual(execute.executes, ['p']);
    const resolved = session.resolve(execute);
    assert.ok(resolved.ok);
    assert.deepEqual(resolved.actions, ['sql.read', 'sql.write']);
    assert.equal(resolved.executed[0]?.kind, 'write');
  });

  test('EXPLAIN ANALYZE EXECUTE and CREATE TABLE AS EXECUTE are resolved too', () => {
    const session = new PreparedStatements();
    assert.ok(session.resolve(inspectSql('PREPARE p AS UPDATE t SET a = 1')).ok);
    for (const sql of ['EXPLAIN ANALYZE EXECUTE p', 'CREATE TABLE c AS EXECUTE p']) {
      const r = session.resolve(inspectSql(sql));
      assert.ok(r.ok);
      assert.ok(r.actions.includes('sql.write'), sql);
    }
  });

  test('an unknown prepared statement is denied', () => {
    const r = new PreparedStatements().resolve(inspectSql('EXECUTE p'));
    assert.equal(r.ok, false);
  });
});
