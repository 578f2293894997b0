import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { defaultDetectors, TextMasker } from '../../masking/text-masker.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../../../test/harness/postgres-server.ts';
import { maskBinaryValue, maskNumberArrayText, maskTextValue, TypesNeeded, UnreadableValue, type ValueContext } from './binary-masker.ts';
import { BinaryFormatError, numberText } from './binary-scalars.ts';
import { maskJson } from './json-masking.ts';
import { builtinKind, type TypeKind } from './pg-types.ts';

const masker = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: Buffer.alloc(32, 7) });
const ctx: ValueContext = { scan: (t) => masker.mask(t).text, kindOf: builtinKind };
const ENTITIES = ['bob@example.com', '4111111111111111', '123-45-6789', '4111 1111 1111 1111'];

function leaks(b: Buffer | null): boolean {
  if (b === null) return false;
  const s = `${b.toString('utf8')}${b.toString('latin1')}`;
  return ENTITIES.some((e) => s.includes(e));
}

describe('binary values from a real PostgreSQL (typsend output), masked and re-encoded', { skip: await pgSkip() }, () => {
  let db: TestDatabase;
  let c: pg.Client;
  /** The binary wire format of an SQL expression: its type's send function, called in SQL. */
  const send = async (expr: string): Promise<{ bytes: Buffer; oid: number }> => {
    const t = await c.query<{ fn: string; t: number }>(`SELECT (SELECT typsend::text FROM pg_type WHERE oid = pg_typeof(${expr})) AS fn, pg_typeof(${expr})::oid::int AS t`);
    const fn = t.rows[0]!.fn;
    const b = await c.query<{ b: Buffer }>(`SELECT ${fn}(${expr}) AS b`);
    return { bytes: b.rows[0]!.b, oid: t.rows[0]!.t };
  };
  const kindOf = (oid: number): TypeKind => builtinKind(oid) ?? { kind: 'unknown' };

  before(async () => {
    db = (await getTestPostgres())!;
    c = new pg.Client({ connectionString: db.url });
    await c.connect();
  });
  after(async () => {
    await c.end();
    await db.stop();
  });

  test('text-carrying types are masked in place; numbers that carry an entity become NULL', async () => {
    const cases: [string, 'masked' | 'null' | 'same'][] = [
      [`'mail bob@example.com'::text`, 'masked'], [`'bob@example.com'::varchar(40)`, 'masked'], [`'bob@example.com'::name`, 'masked'],
      [`'{"e":"bob@example.com","n":4111111111111111}'::jsonb`, 'masked'], [`'{"e":"bob@example.com"}'::json`, 'masked'],
      [`convert_to('x bob@example.com y', 'UTF8')`, 'masked'], [`'\\x00ff626f62406578616d706c652e636f6d'::bytea`, 'masked'],
      [`4111111111111111::int8`, 'null'], [`4111111111111111::numeric`, 'null'], [`4111111111111111.00::numeric(20,2)`, 'null'],
      [`4111111111111111::float8`, 'null'], [`'123-45-6789'::text`, 'masked'], [`12345::int8`, 'same'], [`12.5::numeric`, 'same'],
      [`ARRAY['a', 'bob@example.com', NULL]`, 'masked'], [`ARRAY[[4111111111111111, 1], [2, 3]]::int8[]`, 'masked'],
      [`ARRAY[ARRAY['x'], ARRAY['bob@example.com']]`, 'masked'], [`ROW(1, 'bob@example.com', ARRAY['call 123-45-6789'])`, 'masked'],
      [`ROW(ROW('bob@example.com'::text), 4111111111111111::numeric)`, 'masked'], [`ARRAY[ROW('bob@example.com'::text)]`, 'masked'],
      [`to_tsvector('simple', 'write to bob@example.com')`, 'null'], [`int8range(4111111111111111, 4111111111111112)`, 'null'],
      [`gen_random_uuid()`, 'same'], [`true`, 'same'], [`now()`, 'same'], [`'bob@example.com'::text COLLATE "C"`, 'masked'],
      [`B'1010'::varbit`, 'same'], [`ARRAY[true, false]`, 'same'], [`'10.1.2.3'::inet`, 'null'], [`2147483647::int4`, 'same'],
    ];
    for (const [expr, want] of cases) {
      const { bytes, oid } = await send(expr);
      const out = maskBinaryValue(kindOf(oid), bytes, { ...ctx, kindOf: (o) => builtinKind(o) });
      assert.equal(leaks(out), false, expr);
      if (want === 'null') assert.equal(out, null, expr);
      else if (want === 'same') assert.equal(out, bytes, expr);
      else {
        assert.ok(out !== null && out !== bytes, expr);
        // The re-encoded value is readable again and now clean.
        assert.equal(maskBinaryValue(kindOf(oid), out, ctx), out, `${expr} (second pass)`);
      }
    }
  });

  test('numeric: the decoded text is PostgreSQL\'s own', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: 0, max: 12 })), { minLength: 1, maxLength: 20 }),
      async (nums) => {
        const texts = nums.map(([n, scale]) => {
          const s = (n < 0n ? -n : n).toString().padStart(scale + 1, '0');
          return `${n < 0n ? '-' : ''}${scale === 0 ? s : `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`}`;
        });
        const r = await c.query<{ t: string; b: Buffer }>('SELECT x::text AS t, numeric_send(x) AS b FROM unnest($1::numeric[]) x', [texts]);
        for (const row of r.rows) assert.equal(numberText('numeric', row.b), row.t);
      }), { numRuns: 30 });
  });

  test('a type without a known binary layout is never passed: it throws', async () => {
    const { bytes } = await send(`point(1, 2)`);
    assert.throws(() => maskBinaryValue({ kind: 'unknown' }, bytes, ctx), UnreadableValue);
    const rec = await send(`ROW(point(1, 2))`);
    assert.throws(() => maskBinaryValue({ kind: 'record' }, rec.bytes, ctx), TypesNeeded);
    assert.throws(() => maskBinaryValue({ kind: 'record' }, rec.bytes, { ...ctx, kindOf: kindOf }), UnreadableValue);
  });
});

test('text format: bytea hex (also inside array and record literals) is decoded, scanned and re-encoded', () => {
  const hex = Buffer.from('mail bob@example.com').toString('hex');
  for (const text of [`\\x${hex}`, `{"\\\\x${hex}"}`, `(1,"\\\\x${hex}")`]) {
    const out = maskTextValue(text, ctx.scan);
    assert.ok(!out.includes(hex), text);
    assert.ok(out.includes(Buffer.from('mail [EMAIL]').toString('hex')), text);
  }
  assert.equal(maskTextValue('\\x00ff', ctx.scan), '\\x00ff');
});

test('malformed binary values throw a format error, never return unread bytes', () => {
  const kinds: TypeKind[] = ['array', 'record', 'hstore', 'tsvector', 'versioned'].map((k) => ({ kind: k }) as TypeKind)
    .concat([{ kind: 'number', codec: 'numeric' }, { kind: 'number', codec: 'int8' }, { kind: 'render', codec: 'inet' }, { kind: 'range', subtype: 25 }]);
  fc.assert(fc.property(fc.constantFrom(...kinds), fc.uint8Array({ maxLength: 64 }), (kind, bytes) => {
    const v = Buffer.from(bytes);
    try {
      const out = maskBinaryValue(kind, v, ctx);
      assert.ok(out === null || Buffer.isBuffer(out));
    } catch (e) {
      assert.ok(e instanceof BinaryFormatError || e instanceof UnreadableValue || e instanceof TypesNeeded, String(e));
    }
  }), { numRuns: 2000 });
});

test('JSON stays JSON: a number carrying an entity becomes a string, other numbers keep their digits', () => {
  assert.equal(maskJson('{"n": 4111111111111111, "big": 123456789012345678901234567890.5, "e": "bob@example.com"}', ctx.scan),
    '{"n":"[CREDIT_CARD]","big":123456789012345678901234567890.5,"e":"[EMAIL]"}');
  assert.equal(maskJson('{"mail": "bob@example.com"}', ctx.scan), '{"mail": "[EMAIL]"}');
  assert.equal(maskJson('not json 4111111111111111', ctx.scan), 'not json [CREDIT_CARD]');
  assert.equal(maskNumberArrayText('{{1,4111111111111111.00},{NULL,2}}', ctx.scan), '{{1,NULL},{NULL,2}}');
});

test('short integers are proven clean only when every detector is built in (a user pattern may match them)', async () => {
  const { planColumns, RowMasker } = await import('./row-masker.ts');
  const { customDetector } = await import('../../masking/detectors/custom.ts');
  const f = { name: 'n', tableOid: 0, attnum: 0, typeOid: 23, typeSize: 4, typeMod: -1, format: 0 };
  const row = (s: string): Buffer => { const b = Buffer.from(s); const h = Buffer.alloc(6); h.writeInt16BE(1); h.writeInt32BE(b.length, 2); return Buffer.concat([h, b]); };
  const custom = new TextMasker({ detectors: [...defaultDetectors(), customDetector({ pattern: '\\b1234\\b', entity: 'SECRET', maxLength: 64 })], strategy: 'redact', hashKey: Buffer.alloc(32, 7) });
  const builtin = new RowMasker(planColumns([f], [], [undefined], true), masker, Buffer.alloc(32, 1));
  const withCustom = new RowMasker(planColumns([f], [], [undefined], true), custom, Buffer.alloc(32, 1));
  assert.equal(builtin.mask(row('1234')), undefined);
  assert.notEqual(withCustom.mask(row('1234')), undefined, 'a user pattern matching the number: it is masked (NULL)');
  const ssn = new RowMasker(planColumns([{ ...f, name: 'ssn' }], [], [undefined], true), masker, Buffer.alloc(32, 1));
  assert.notEqual(ssn.mask(row('123456789')), undefined, 'a 9-digit int is still scanned (an SSN in a column named ssn)');
});
