import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BYPASS_CORPUS, READ_ONLY_CORPUS, UNPARSEABLE_CORPUS } from '../../../test/fixtures/sql-bypass-corpus.ts';
import { initSqlInspector, SqlInspector } from './inspect.ts';
import { literalTemplate } from './literal-template.ts';

before(async () => {
  await initSqlInspector();
});

describe('literalTemplate', () => {
  test('numeric literals are blanked; digits of names, parameters, strings and quoted names are kept', () => {
    assert.equal(literalTemplate("SELECT t1.c2, $1 FROM t1 WHERE id = 42 AND x > 1.5e3 AND s = 'a 7' AND \"q 9\" = 0")?.key,
      "SELECT t1.c2, $1 FROM t1 WHERE id = \0 AND x > \0.\0e3 AND s = 'a 7' AND \"q 9\" = \0");
    assert.equal(literalTemplate('SELECT abalance FROM pgbench_accounts WHERE aid = 7;')?.key, literalTemplate('SELECT abalance FROM pgbench_accounts WHERE aid = 123456;')?.key);
  });

  test('texts the scan cannot lex with certainty, or without a literal, get no template', () => {
    for (const sql of [
      'SELECT 1 -- c', 'SELECT /* c */ 1', "SELECT E'\\x41', 1", "SELECT 'a\\' , 1", 'SELECT $$x$$, 1', 'SELECT $a$x$a$, 1',
      "SELECT B'101', 1", "SELECT X'1F', 1", "SELECT N'x', 1", "SELECT U&'d\\0061', 1", 'SELECT U&"d", 1', "SELECT 'é', 1",
      'SELECT 1\u0000', "SELECT 'unterminated, 1", 'SELECT * FROM t', "SELECT 'only 1 string'",
      'SELECT 0x1F', 'SELECT 0o17', 'SELECT 0b101', 'SELECT 1_000', 'SELECT 123abc', 'SELECT 1$',
    ]) assert.equal(literalTemplate(sql), undefined, sql);
  });
});

/** A fresh inspector with no cache at all: the reference every cached answer must equal. */
const reference = (): SqlInspector => new SqlInspector({ cacheEntries: 0, templateEntries: 0 });

describe('the literal-template cache answers exactly what parsing would', () => {
  test('every corpus statement, then variants with other numbers, through one caching inspector', () => {
    const cached = new SqlInspector();
    const corpus = [...BYPASS_CORPUS, ...READ_ONLY_CORPUS, ...UNPARSEABLE_CORPUS].map((e) => e.sql);
    const numbers = fc.oneof(fc.nat().map(String), fc.constantFrom('0', '7', '2147483648', '99999999999999999999'), fc.double({ min: 0, max: 1e6, noNaN: true }).map((d) => String(d)));
    fc.assert(fc.property(fc.constantFrom(...corpus), fc.array(numbers, { minLength: 8, maxLength: 8 }), (sql, values) => {
      cached.inspect(sql);
      let k = 0;
      const variant = sql.replace(/(?<![A-Za-z0-9_$.'"])\d+/g, () => String(values[k++ % values.length]));
      assert.deepEqual(cached.inspect(variant), reference().inspect(variant), variant);
    }), { numRuns: 400 });
  });

  test('a variant reuses the facts object (so session decision memos hit) with its own statement range', () => {
    const cached = new SqlInspector();
    const a = cached.inspect('SELECT abalance FROM pgbench_accounts WHERE aid = 7;');
    const b = cached.inspect('  SELECT abalance FROM pgbench_accounts WHERE aid = 1234567 ;');
    const c = cached.inspect('SELECT abalance FROM pgbench_accounts WHERE aid = 1234567;');
    assert.ok(a.ok && c.ok && b.ok);
    assert.equal(c.facts, a.facts);
    assert.deepEqual(c, reference().inspect('SELECT abalance FROM pgbench_accounts WHERE aid = 1234567;'));
    assert.notEqual(b.facts, a.facts); // leading spaces: another template
  });

  test('numbers never stand in for what decides: names, strings, operators and statement count', () => {
    const cached = new SqlInspector();
    const pairs: [string, string][] = [
      ['SELECT * FROM t1 WHERE a = 1', 'SELECT * FROM t2 WHERE a = 1'],
      ["SET client_encoding = 'UTF8'", "SET client_encoding = 'SJIS'"],
      ["SELECT set_config('application_name', 'x', false), 1", "SELECT set_config('role', 'x', false), 1"],
      ['SELECT 1 # 2', 'SELECT # 2'],
      ['SELECT 1; SELECT 2', 'SELECT 1'],
    ];
    for (const [seen, other] of pairs) {
      cached.inspect(seen);
      assert.deepEqual(cached.inspect(other), reference().inspect(other), other);
    }
  });
});
