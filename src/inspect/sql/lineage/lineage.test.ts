import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadModule, parseSync } from 'libpg-query';
import { placePlan, planOutputs, protectedFacts, type ColumnDecision } from './decide.ts';
import { statementLineage } from './statement.ts';
import { memoryCatalog } from './test-catalog.ts';
import { LineageUnknownError, type SourceColumn } from './types.ts';

await loadModule();
const catalog = memoryCatalog(
  {
    'public.customers': ['id', 'name', 'phone', 'email'],
    'public.orders': ['id', 'customer_id', 'total'],
    'crm.customers': ['id', 'phone'],
    'public.customers_2024': ['id', 'name', 'phone', 'email'],
    'pg_catalog.pg_stats': ['tablename', 'attname', 'most_common_vals'],
    'pg_catalog.pg_settings': ['name', 'setting'],
    'public.contacts': ['id', 'phone'],
  },
  {
    'public.v_phone': { columns: ['id', 'p'], sql: 'SELECT id, phone AS p FROM public.customers' },
    'public.v_upper': { columns: ['u'], sql: 'SELECT upper(phone) AS u FROM customers' },
    'public.v_v': { columns: ['id', 'p'], sql: 'SELECT * FROM v_phone' },
  },
  ['leak', 'customer_tag'],
  { 'public.customers_2024': ['public.customers'] },
  undefined,
  { 'public.contacts': ['public.customers'] },
);

const protection = (c: SourceColumn): 'partial' | undefined => (c.table === 'customers' && c.column === 'phone' ? 'partial' : undefined);

function decisions(sql: string, width?: number): string[] {
  const l = statementLineage(parseSync(sql).stmts![0]!.stmt, catalog);
  assert.ok(l.outputs, `no outputs for ${sql}`);
  const plan = planOutputs(l.outputs, protection);
  const placed: ColumnDecision<'partial'>[] = width === undefined ? plan.entries.map((e) => e.decision) : placePlan(plan, width);
  return placed.map((d) => d.kind);
}

function unknown(sql: string): void {
  assert.throws(() => statementLineage(parseSync(sql).stmts![0]!.stmt, catalog), LineageUnknownError, sql);
}

describe('column lineage', () => {
  before(async () => { await loadModule(); });

  it('a bare reference keeps the rule; clean columns stay clean', () => {
    assert.deepEqual(decisions('SELECT id, phone, name FROM customers'), ['clean', 'rule', 'clean']);
    assert.deepEqual(decisions('SELECT c.phone FROM customers c'), ['rule']);
    assert.deepEqual(decisions('SELECT p FROM (SELECT phone AS p FROM customers) s'), ['rule']);
    assert.deepEqual(decisions('WITH x AS (SELECT phone FROM customers) SELECT phone FROM x'), ['rule']);
  });

  it('every expression over a protected column is derived (redacted whole)', () => {
    for (const e of [
      "phone || ''", 'upper(phone)', 'phone::varchar', 'phone COLLATE "C"', "coalesce(phone, 'x')",
      "CASE WHEN phone LIKE '5%' THEN 1 ELSE 0 END", 'substr(phone, 1, 3)', "replace(phone, '-', '')",
      'reverse(phone)', "translate(phone, '0123456789', 'abcdefghij')", "encode(phone::bytea, 'base64')",
      'length(phone)', 'ROW(phone)', '(c).phone', 'c', 'to_json(c)', 'c.*::text', 'array[phone]', 'customer_tag(c)',
      "format('%s', phone)", 'md5(phone)', "phone = '555'", 'c.customer_tag',
    ]) assert.deepEqual(decisions(`SELECT ${e} FROM customers c`), ['redact'], e);
  });

  it('aggregates, windows and subqueries carry their inputs', () => {
    for (const sql of [
      'SELECT array_agg(phone) FROM customers', "SELECT string_agg(phone, ',') FROM customers",
      'SELECT json_agg(c) FROM customers c', 'SELECT (SELECT phone FROM customers LIMIT 1)',
      "SELECT EXISTS (SELECT 1 FROM customers WHERE phone = '555')", 'SELECT ARRAY(SELECT phone FROM customers)',
      'SELECT row_number() OVER (ORDER BY phone) FROM customers', 'SELECT rank() OVER w FROM customers WINDOW w AS (ORDER BY phone)',
      'SELECT max(id) FILTER (WHERE phone > \'5\') FROM customers', "SELECT (SELECT count(*) FROM customers c2 WHERE c2.phone < c.phone) FROM customers c",
      'SELECT x FROM customers, LATERAL (SELECT phone AS x) l', 'SELECT unnest FROM unnest(ARRAY(SELECT phone FROM customers))',
      'SELECT * FROM json_each((SELECT to_json(c) FROM customers c LIMIT 1))', 'SELECT u FROM v_upper',
      'SELECT leak()', "SELECT query_to_xml('select phone from customers', true, false, '')",
      'SELECT most_common_vals FROM pg_stats',
    ]) assert.ok(decisions(sql, 1).every((d) => d !== 'clean'), sql);
  });

  it('set operations, CTEs (recursive too) and VALUES', () => {
    assert.deepEqual(decisions('SELECT id, name FROM customers UNION SELECT id, phone FROM customers'), ['clean', 'redact']);
    assert.deepEqual(decisions("SELECT 'a' UNION ALL SELECT phone FROM customers"), ['redact']);
    assert.deepEqual(decisions('WITH RECURSIVE r(n, p) AS (SELECT 1, \'\'::text UNION ALL SELECT n + 1, (SELECT phone FROM customers LIMIT 1) FROM r WHERE n < 3) SELECT n, p FROM r'), ['clean', 'redact']);
    assert.deepEqual(decisions('WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r'), ['clean']);
    assert.deepEqual(decisions('SELECT * FROM (VALUES (1, (SELECT phone FROM customers LIMIT 1))) v(a, b)'), ['clean', 'redact']);
  });

  it('stars, whole rows, joins with USING and NATURAL', () => {
    assert.deepEqual(decisions('SELECT * FROM customers'), ['clean', 'clean', 'rule', 'clean']);
    assert.deepEqual(decisions('SELECT o.*, c.* FROM orders o JOIN customers c ON c.id = o.customer_id'), ['clean', 'clean', 'clean', 'clean', 'clean', 'rule', 'clean']);
    assert.deepEqual(decisions('SELECT * FROM customers JOIN orders USING (id)'), ['clean', 'clean', 'rule', 'clean', 'clean', 'clean']);
    assert.deepEqual(decisions('SELECT * FROM customers NATURAL JOIN customers_2024'), ['clean', 'clean', 'redact', 'clean']);
    assert.deepEqual(decisions('SELECT x.* FROM customers AS x(a, b, c)'), ['clean', 'clean', 'rule', 'clean']);
    assert.deepEqual(decisions('SELECT c FROM customers AS x(a, b, c)'), ['rule']);
  });

  it('views are expanded; partitions inherit their parent\'s rule; unqualified names union every schema', () => {
    assert.deepEqual(decisions('SELECT * FROM v_phone'), ['clean', 'rule']);
    assert.deepEqual(decisions('SELECT p FROM v_v'), ['rule']);
    assert.deepEqual(decisions('SELECT phone FROM customers_2024'), ['rule']);
    assert.deepEqual(decisions('SELECT id, phone FROM crm.customers'), ['clean', 'rule']);
    // A parent's read may return a descendant's rows: the child's rule covers the parent's column.
    assert.deepEqual(decisions('SELECT id, phone FROM contacts'), ['clean', 'rule']);
    assert.deepEqual(decisions('SELECT upper(phone) FROM ONLY contacts'), ['redact']);
    assert.deepEqual(decisions('DELETE FROM contacts WHERE id = 1 RETURNING phone'), decisions('DELETE FROM customers WHERE id = 1 RETURNING phone'));
    assert.deepEqual(decisions('SELECT c FROM contacts c'), ['redact']);
  });

  it('RETURNING, cursors, PREPARE, COPY', () => {
    assert.deepEqual(decisions("UPDATE customers SET name = 'x' WHERE id = 1 RETURNING upper(phone)"), ['redact']);
    assert.deepEqual(decisions('DECLARE k CURSOR FOR SELECT phone || \'\' FROM customers'), ['redact']);
    assert.deepEqual(decisions('PREPARE p AS SELECT id, phone FROM customers'), ['clean', 'rule']);
    assert.deepEqual(decisions('COPY (SELECT phone FROM customers) TO STDOUT'), ['rule']);
    assert.deepEqual(decisions('COPY customers TO STDOUT'), ['clean', 'clean', 'rule', 'clean']);
    const fetch = statementLineage(parseSync('FETCH 10 FROM k').stmts![0]!.stmt, catalog);
    assert.equal(fetch.fetches, 'k');
    // MOVE computes the cursor's rows too (an error may quote them): it names the cursor like FETCH.
    assert.equal(statementLineage(parseSync('MOVE ALL IN k').stmts![0]!.stmt, catalog).fetches, 'k');
  });

  it('facts: protected columns read and filtered on', () => {
    const l = statementLineage(parseSync("SELECT id FROM customers WHERE phone = '555' ORDER BY name").stmts![0]!.stmt, catalog);
    assert.deepEqual(protectedFacts(l, protection), { reads: [], filters: ['public.customers.phone'] });
    const m = statementLineage(parseSync('SELECT phone FROM customers c JOIN orders o ON o.customer_id = c.id').stmts![0]!.stmt, catalog);
    assert.deepEqual(protectedFacts(m, protection).reads, ['public.customers.phone']);
    assert.deepEqual(protectedFacts(m, protection).filters, [], 'a bare reference is no oracle');
  });

  it('facts: a derived output and a row-producing argument are oracles, so they count as filters', () => {
    const facts = (sql: string): string[] => protectedFacts(statementLineage(parseSync(sql).stmts![0]!.stmt, catalog), protection).filters;
    for (const sql of [
      "SELECT id, 1 / (phone = '555')::int FROM customers",
      "SELECT id, unnest(CASE WHEN phone LIKE '5%' THEN ARRAY[1, 2] ELSE ARRAY[1] END) FROM customers",
      "SELECT id, pg_sleep(CASE WHEN phone LIKE '5%' THEN 1 ELSE 0 END) FROM customers",
      'SELECT c.id FROM customers c, generate_series(1, length(c.phone)) g',
      'SELECT c FROM customers c',
    ]) assert.deepEqual(facts(sql), ['public.customers.phone'], sql);
  });

  it('sinks: written rows, notification payloads and settings carry their lineage', () => {
    const sinks = (sql: string): string[] => {
      const l = statementLineage(parseSync(sql).stmts![0]!.stmt, catalog);
      return [...(l.sinks?.sources.keys() ?? [])].filter((k) => k.endsWith('.phone'));
    };
    for (const sql of [
      'INSERT INTO orders SELECT id, id, length(phone) FROM customers', "UPDATE customers SET name = upper(phone)",
      'CREATE TABLE t AS SELECT phone FROM customers', 'SELECT phone INTO t FROM customers', "SELECT pg_notify('c', phone) FROM customers",
      "SELECT set_config('x.y', phone, false) FROM customers",
      'WITH x AS (INSERT INTO orders SELECT id, id, length(phone) FROM customers RETURNING 1) SELECT 1',
    ]) assert.ok(sinks(sql).length > 0, sql);
    for (const sql of ["UPDATE customers SET phone = '1' WHERE id = 1", 'INSERT INTO orders VALUES (1, 2, 3)', "SELECT pg_notify('c', name) FROM customers"]) {
      assert.deepEqual(sinks(sql), [], sql);
    }
  });

  it('unknown lineage throws (the caller denies when protected data may be involved)', () => {
    unknown('SELECT nosuch FROM customers');
    unknown('SELECT * FROM nosuch');
    unknown('CREATE INDEX i ON customers (phone)');
  });

  it('an EXPLAIN plan is opaque when the statement calls a hidden function (the planner may fold it into a constant)', () => {
    assert.deepEqual(decisions('EXPLAIN VERBOSE SELECT leak()'), ['redact']);
    assert.deepEqual(decisions('EXPLAIN SELECT id FROM orders WHERE leak() IS NOT NULL'), ['redact']);
    assert.deepEqual(decisions('EXPLAIN SELECT phone, upper(phone) FROM customers'), ['clean']);
  });

  it('SHOW is opaque unless the setting holds one of a fixed set of words (a hidden function may have set it)', () => {
    assert.deepEqual(decisions('SHOW application_name'), ['redact']);
    assert.deepEqual(decisions('SHOW app.last_phone'), ['redact']);
    assert.deepEqual(decisions('SHOW TIME ZONE'), ['redact']);
    assert.deepEqual(decisions('SHOW ALL', 3), ['redact', 'redact', 'redact']);
    assert.deepEqual(decisions('SHOW standard_conforming_strings'), ['clean']);
    assert.deepEqual(decisions('SHOW TRANSACTION ISOLATION LEVEL'), ['clean']);
    assert.deepEqual(decisions("SELECT setting FROM pg_settings WHERE name = 'x'"), ['redact']);
  });

  it('places a plan with a spread against the real width', () => {
    assert.deepEqual(decisions('SELECT phone, * FROM generate_series(1, 3) g, customers', 6), ['redact', 'clean', 'clean', 'clean', 'rule', 'clean']);
    assert.deepEqual(decisions('SELECT phone || \'\', * FROM json_each(\'{}\') j', 3), ['clean', 'clean', 'clean']);
    assert.deepEqual(decisions('SELECT id, * FROM customers c, json_each(to_json(c)) j', 7), ['redact', 'clean', 'clean', 'rule', 'clean', 'redact', 'redact']);
  });
});
