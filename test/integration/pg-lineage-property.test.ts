import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import { LINEAGE_INIT, LINEAGE_MASKING, leakFingerprints } from '../fixtures/pg-lineage-db.ts';
import { parseDataRow, parseErrorFields } from '../../src/protocols/postgres/backend-messages.ts';
import type { Frame } from '../../src/protocols/postgres/frame-reader.ts';
import { MessageWriter } from '../../src/protocols/postgres/writer.ts';

/** Text expressions over the row `c` of customers that carry the protected `phone` (`{}` is the hole). */
const LEAVES = [
  'c.phone', 'phone', '(c).phone', 'c::text', 'to_json(c)::text', 'row_to_json(c)::text', '(SELECT x.phone FROM customers x WHERE x.id = c.id)',
  '(SELECT v.p FROM v_phone v WHERE v.id = c.id)', "(SELECT u FROM v_upper w WHERE w.id = c.id)", 'tag(c)', 'c.tag', 'hidden_phone()',
  "(to_jsonb(c) ->> 'phone')", "(SELECT string_agg(phone, '') FROM customers)",
];
/** Text → text wrappers: functions, casts, operators, subqueries, CASE, aggregates in a subquery. */
const WRAPPERS = [
  'upper({})', 'lower({})', 'reverse({})', "{} || ''", "'<' || {}", 'substr({}, 1, 6)', 'substr({}, 5)', "replace({}, '-', '')",
  "translate({}, '0123456789', 'abcdefghij')", "encode(convert_to({}, 'UTF8'), 'base64')", 'md5({})', '{}::varchar', '({} COLLATE "C")',
  "coalesce({}, 'n')", "CASE WHEN {} LIKE '5%' THEN 'five' ELSE 'other' END", "format('%s!', {})", '(SELECT {})', 'ARRAY[{}]::text',
  'to_json({})::text', 'left({}, 8)', 'right({}, 8)', "concat({}, 'a')", "lpad({}, 24, '*')", "split_part({}, '-', 3)", "nullif({}, 'zz')",
  "regexp_replace({}, '([0-9])', '\\1 ', 'g')", 'ROW({})::text', "string_to_array({}, '-')::text", 'quote_literal({})', 'initcap({})',
];
/** Query shapes around an expression `{}` over the alias `c`. */
const SHAPES = [
  'SELECT {} FROM customers c', 'SELECT c.id, {} FROM customers c ORDER BY 1', 'SELECT {} FROM (SELECT * FROM customers) c',
  'WITH w AS (SELECT * FROM customers) SELECT {} FROM customers c JOIN w USING (id)', "SELECT {} FROM customers c UNION ALL SELECT 'k'",
  "SELECT string_agg({}, ',') FROM customers c", 'SELECT array_agg({})::text FROM customers c', 'SELECT json_agg({})::text FROM customers c',
  "SELECT (SELECT string_agg({}, ',') FROM customers c)", 'SELECT l.x FROM customers c, LATERAL (SELECT {} AS x) l',
  'WITH RECURSIVE r(n, v) AS (SELECT 1, {} FROM customers c UNION ALL SELECT n + 1, v || n FROM r WHERE n < 2) SELECT v FROM r',
  'SELECT max({}) OVER (PARTITION BY c.id) FROM customers c', 'SELECT DISTINCT {} FROM customers c', 'SELECT * FROM (VALUES (1)) t(k), LATERAL (SELECT {} FROM customers c) s',
  'SELECT coalesce(NULL, {}) FROM customers c GROUP BY c.id, c.phone, c.name, c.email',
];

type Route = 'simple' | 'extended-text' | 'extended-binary' | 'prepare-execute' | 'cursor';
const ROUTES: Route[] = ['simple', 'extended-text', 'extended-binary', 'prepare-execute', 'cursor'];

function bind(formats: number): Buffer {
  return new MessageWriter().cstring('').cstring('').int16(0).int16(0).int16(1).int16(formats).frame(0x42);
}

async function run(c: RawPgClient, route: Route, sql: string): Promise<Frame[]> {
  const out: Frame[] = [];
  const batch = async (...msgs: Buffer[]): Promise<void> => { c.send(...msgs); out.push(...await c.until(0x5a)); };
  switch (route) {
    case 'simple': await batch(fe.query(sql)); break;
    case 'extended-text': await batch(fe.parse('', sql), bind(0), fe.execute(''), fe.sync()); break;
    case 'extended-binary': await batch(fe.parse('', sql), bind(1), fe.describe('P', ''), fe.execute(''), fe.sync()); break;
    case 'prepare-execute': await batch(fe.query(`PREPARE g AS ${sql}; EXECUTE g; DEALLOCATE g`)); break;
    case 'cursor': await batch(fe.query(`BEGIN; DECLARE k CURSOR FOR ${sql}; FETCH ALL FROM k; CLOSE k; COMMIT`)); break;
  }
  if (out.at(-1)?.body[0] !== 0x49) { c.send(fe.query('ROLLBACK; DEALLOCATE ALL')); await c.until(0x5a); }
  return out;
}

describe('property: generated expressions over a protected column never reach the client', { skip: await pgSkip() }, () => {
  let db: TestDatabase;
  let t: TestGateway;
  let key: string;

  before(async () => {
    db = (await getTestPostgres())!;
    const setup = new pg.Client({ connectionString: db.url });
    await setup.connect();
    await setup.query(LINEAGE_INIT);
    await setup.end();
    t = await startTestGateway({ yaml: ['connections:', `  - { name: app, type: postgres, url: "${db.url}" }`, ...LINEAGE_MASKING].join('\n') });
    key = String((await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key);
  });
  after(async () => {
    await t.close();
    await db.stop();
  });

  test('random nesting of functions, casts, operators, subqueries, CTEs, set operations, whole rows and aggregates', async () => {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
    const fingerprints = leakFingerprints().map((f) => Buffer.from(f, 'latin1'));
    let rowsSeen = 0;
    try {
      await fc.assert(fc.asyncProperty(
        fc.constantFrom(...LEAVES), fc.array(fc.constantFrom(...WRAPPERS), { maxLength: 4 }), fc.constantFrom(...SHAPES), fc.constantFrom(...ROUTES),
        async (leaf, wrappers, shape, route) => {
          const e = wrappers.reduce((inner, w) => w.replaceAll('{}', inner), leaf);
          const sql = shape.replace('{}', e);
          const frames = await run(c, route, sql);
          const bytes = Buffer.concat(frames.map((f) => f.raw));
          for (const f of fingerprints) assert.ok(!bytes.includes(f), `${route}: ${sql} leaked ${f.toString('latin1')}`);
          for (const f of frames) {
            if (f.type === 0x45) assert.notEqual(parseErrorFields(f.body).get('S'), 'FATAL', sql);
            if (f.type !== 0x44) continue;
            // Every column derives from phone, except the id of the second shape.
            const values = parseDataRow(f.body).map((v) => (v === null ? null : v.toString('utf8')));
            const checked = shape.startsWith('SELECT c.id,') ? values.slice(1) : shape.startsWith('SELECT * FROM (VALUES') ? values.slice(1) : values;
            for (const v of checked) assert.ok(v === null || v === '[REDACTED]', `${route}: ${sql} → ${String(v)}`);
            rowsSeen++;
          }
        }), { numRuns: Number(process.env.GATEHOUSE_PROPERTY_RUNS ?? 120) });
    } finally {
      c.close();
    }
    assert.ok(rowsSeen > 50, `too few rows were checked (${rowsSeen}): the property would be vacuous`);
  });
});
