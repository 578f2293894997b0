import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BYPASS_CORPUS, READ_ONLY_CORPUS, UNPARSEABLE_CORPUS } from '../../../test/fixtures/sql-bypass-corpus.ts';
import { initSqlInspector, SqlInspector } from './inspect.ts';
import { sortActions, type SqlAction } from './types.ts';

// No cache: every run exercises the parser and the walker.
const inspector = new SqlInspector({ cacheEntries: 0 });

// Top-level: the corpus pool below is built while the suites are defined.
await initSqlInspector();

const SQL_TOKENS = [
  'SELECT', 'DELETE', 'FROM', 'WHERE', 'WITH', 'AS', '(', ')', ';', ',', "'", '"', '$$', '$x$', '--', '/*', '*/',
  'E\'\\\'', 'U&"', '\\', '\n', 't', 'x', '1', '*', 'INSERT', 'INTO', 'VALUES', 'UPDATE', 'SET', 'DO', 'COPY',
  'PROGRAM', 'EXPLAIN', 'ANALYZE', 'PREPARE', 'EXECUTE', 'pg_read_file', 'RETURNING', 'FOR', 'UPDATE', '::',
  '\u0000', '\uD800', 'é', '😀',
];

describe('property: inspection never throws', () => {
  test('arbitrary strings (any code point)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
      const r = inspector.inspect(s);
      assert.equal(typeof r.ok, 'boolean');
      if (r.ok) assert.ok(r.actions.length > 0);
    }), { numRuns: 500 });
  });

  test('token soup that looks like SQL', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...SQL_TOKENS), { maxLength: 40 }), fc.boolean(), (tokens, spaced) => {
      const r = inspector.inspect(tokens.join(spaced ? ' ' : ''));
      assert.equal(typeof r.ok, 'boolean');
      if (r.ok) assert.ok(r.actions.length > 0);
    }), { numRuns: 1000 });
  });
});

describe('property: a multi-statement text needs the union of its statements’ actions', () => {
  // Joined with '\n;\n' so that a trailing line comment cannot swallow the separator.
  // Entries with at least one statement (an empty text needs sql.read only because it is empty).
  const pool = [...BYPASS_CORPUS, ...READ_ONLY_CORPUS].filter((e) => {
    const r = inspector.inspect(e.sql);
    return r.ok && r.facts.statements > 0;
  });

  test('the pool is large', () => {
    assert.ok(pool.length > 80, `pool has ${pool.length} entries`);
  });

  test('random concatenations', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: 8 }), (entries) => {
      const r = inspector.inspect(entries.map((e) => e.sql).join('\n;\n'));
      assert.ok(r.ok, r.ok ? '' : r.error);
      const expected = sortActions(entries.flatMap((e): SqlAction[] => [...e.actions]));
      assert.deepEqual(r.actions, expected);
    }), { numRuns: 300 });
  });

  test('an unparseable statement anywhere after valid ones makes the whole text fail', () => {
    fc.assert(fc.property(
      fc.array(fc.constantFrom(...pool), { maxLength: 5 }), fc.constantFrom(...UNPARSEABLE_CORPUS),
      (entries, bad) => {
        const r = inspector.inspect([...entries.map((e) => e.sql), bad.sql].join('\n;\n'));
        assert.equal(r.ok, false);
      },
    ), { numRuns: 200 });
  });
});
