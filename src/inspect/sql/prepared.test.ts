import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initSqlInspector, inspectSql } from './inspect.ts';
import { PreparedStatements } from './prepared.ts';
import type { StatementInfo } from './types.ts';

before(async () => {
  await initSqlInspector();
});

function statementOf(sql: string): StatementInfo {
  const r = inspectSql(sql);
  assert.ok(r.ok && r.statements[0] !== undefined);
  return r.statements[0];
}

describe('PreparedStatements', () => {
  test('an EXECUTE later in the same text sees the PREPARE before it', () => {
    const r = new PreparedStatements().resolve(inspectSql('PREPARE p AS UPDATE t SET a = 1; EXECUTE p'));
    assert.ok(r.ok);
    assert.deepEqual(r.actions, ['sql.read', 'sql.write']);
  });

  test('re-preparing a known name adds a candidate: EXECUTE needs both (the server keeps the first)', () => {
    const s = new PreparedStatements();
    assert.ok(s.resolve(inspectSql('PREPARE p AS DELETE FROM t')).ok);
    assert.ok(s.resolve(inspectSql('DEALLOCATE q; PREPARE p AS SELECT 1')).ok);
    const r = s.resolve(inspectSql('EXECUTE p'));
    assert.ok(r.ok);
    assert.deepEqual(r.actions, ['sql.read', 'sql.write']);
    assert.equal(r.executed.length, 2);
  });

  test('a candidate that is itself an EXECUTE (a Parse of "EXECUTE q") adds what q runs; nesting is bounded', () => {
    const s = new PreparedStatements();
    s.register('q', statementOf('DELETE FROM t'));
    s.register('x', statementOf('EXECUTE q'));
    const r = s.resolve(inspectSql('EXECUTE x'));
    assert.ok(r.ok);
    assert.deepEqual(r.actions, ['sql.read', 'sql.write']);
    assert.equal(r.executed.length, 2);
    s.register('loop', statementOf('EXECUTE loop'));
    const deep = s.resolve(inspectSql('EXECUTE loop'));
    assert.ok(!deep.ok && /nested too deep/.test(deep.error));
  });

  test('forget and clear are the only ways a name goes away', () => {
    const s = new PreparedStatements();
    s.register('a', statementOf('SELECT 1'));
    s.register('b', statementOf('SELECT 2'));
    assert.ok(s.resolve(inspectSql('DEALLOCATE a')).ok);
    assert.ok(s.resolve(inspectSql('EXECUTE a')).ok, 'DEALLOCATE text alone does not forget');
    s.forget('a');
    assert.equal(s.resolve(inspectSql('EXECUTE a')).ok, false);
    s.clear();
    assert.equal(s.size, 0);
    assert.equal(s.resolve(inspectSql('EXECUTE b')).ok, false);
  });

  test('bounded: past the bound a new name is refused and none is forgotten; too many candidates deny', () => {
    const s = new PreparedStatements({ maxNames: 2, maxCandidates: 2 });
    assert.equal(s.register('a', statementOf('DELETE FROM t')), true);
    assert.equal(s.register('b', statementOf('SELECT 1')), true);
    assert.equal(s.register('c', statementOf('SELECT 1')), false);
    assert.equal(s.full('c'), true);
    assert.equal(s.size, 2);
    const refused = s.resolve(inspectSql('PREPARE c AS SELECT 1'));
    assert.ok(!refused.ok && refused.reason === 'too-many-prepared-statements' && /too many prepared statements/.test(refused.error));
    // A known name may be defined again (its candidates add up): the DELETE still counts.
    assert.equal(s.register('a', statementOf('SELECT 1')), true);
    const a = s.resolve(inspectSql('EXECUTE a'));
    assert.ok(a.ok && a.actions.includes('sql.write'));
    for (let i = 0; i < 3; i += 1) s.register('b', statementOf('SELECT 1'));
    assert.equal(s.resolve(inspectSql('EXECUTE b')).ok, false);
  });

  test('forget drops only the candidates registered up to the mark given when the drop was sent', () => {
    const s = new PreparedStatements();
    s.register('p', statementOf('SELECT 1'));
    const mark = s.mark(); // DEALLOCATE p sent
    s.register('p', statementOf('DELETE FROM t')); // PREPARE p sent after it
    s.forget('p', mark); // DEALLOCATE p confirmed
    const r = s.resolve(inspectSql('EXECUTE p'));
    assert.ok(r.ok && r.executed.length === 1 && r.actions.includes('sql.write'));
    s.clear(s.mark());
    assert.equal(s.size, 0);
  });

  test('unregister drops the candidates of definitions that never took effect, by number or by range', () => {
    const s = new PreparedStatements();
    s.register('p', statementOf('DELETE FROM t'));
    const mark = s.mark();
    s.register('p', statementOf('SELECT 1'));
    s.register('q', statementOf('SELECT 1'));
    assert.deepEqual(s.since('p', mark), [mark + 1]);
    s.unregister('p', s.since('p', mark));
    const p = s.resolve(inspectSql('EXECUTE p'));
    assert.ok(p.ok && p.executed.length === 1 && p.actions.includes('sql.write'), 'the earlier definition stays');
    s.unregister(undefined, { from: mark, to: s.mark() });
    assert.equal(s.resolve(inspectSql('EXECUTE q')).ok, false);
    assert.equal(s.size, 1);
  });

  test('a failed inspection stays failed', () => {
    assert.equal(new PreparedStatements().resolve(inspectSql('SELEC 1')).ok, false);
  });
});
