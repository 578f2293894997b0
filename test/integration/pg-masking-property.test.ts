import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import { MessageWriter } from '../../src/protocols/postgres/writer.ts';
import { parseErrorFields } from '../../src/protocols/postgres/backend-messages.ts';
import type { Frame } from '../../src/protocols/postgres/frame-reader.ts';
import { MemoryRecorder } from '../../src/recording/recorder.ts';
import { CUSTOMER_COLUMNS, leakedIn, MASKING_INIT, MASKING_YAML, SECRET_VALUES } from '../fixtures/pg-masking-table.ts';

/**
 * One output column of a generated SELECT. **Extension point**: column lineage (derived
 * expressions of protected columns: `upper(phone)`, subqueries, UNION, whole-row `c` …) adds its
 * items to {@link SELECT_ITEMS}; every item must leave no protected value and no entity in the
 * bytes a client receives, in every format and protocol below.
 */
export interface SelectItem { readonly sql: string }

/** Bare columns (protected and content-bearing), aliases, and expressions content detectors see through. */
export const SELECT_ITEMS: SelectItem[] = [
  ...CUSTOMER_COLUMNS.map((c) => ({ sql: c })),
  ...CUSTOMER_COLUMNS.map((c) => ({ sql: `customers.${c} AS x_${c}` })),
  { sql: 'phone AS p' }, { sql: 'lower(email)' }, { sql: "email || ' '" }, { sql: 'ARRAY[email, ssn]' }, { sql: 'ROW(email, card8)' },
  { sql: 'card::text' }, { sql: 'card8 + 0' }, { sql: "jsonb_build_object('c', card8)" }, { sql: 'tags[2]' }, { sql: 'who' },
  { sql: "convert_to(ssn, 'UTF8')" }, { sql: 'cards' }, { sql: 'card8::float8' }, { sql: 'card8::numeric(20, 2)' },
];

/** How the statement reaches the server, including the name-reuse sequences of issue 15 item 1. */
type Route = 'simple' | 'simple-binary-cursor' | 'extended' | 'extended-described' | 'deallocate-prepare' | 'cursor-swap' | 'portal-swap';
const ROUTES: Route[] = ['simple', 'simple-binary-cursor', 'extended', 'extended-described', 'deallocate-prepare', 'cursor-swap', 'portal-swap'];

function bind(portal: string, stmt: string, formats: readonly number[]): Buffer {
  const w = new MessageWriter().cstring(portal).cstring(stmt).int16(0).int16(0).int16(formats.length);
  for (const f of formats) w.int16(f);
  return w.frame(0x42);
}

/** Every frame the client receives for one route, up to its last ReadyForQuery. */
async function runRoute(c: RawPgClient, route: Route, select: string, width: number, formats: readonly number[]): Promise<Frame[]> {
  // The decoy an attacker describes first has as many columns as the real statement (so a stale shape would fit).
  const decoy = `SELECT ${Array.from({ length: width }, () => '1::int4').join(', ')}`;
  const out: Frame[] = [];
  const batch = async (...msgs: Buffer[]): Promise<void> => { c.send(...msgs); out.push(...await c.until(0x5a)); };
  switch (route) {
    case 'simple': await batch(fe.query(select)); break;
    case 'simple-binary-cursor': await batch(fe.query(`BEGIN; DECLARE b BINARY CURSOR FOR ${select}; FETCH ALL FROM b; COMMIT`)); break;
    case 'extended': await batch(fe.parse('', select), bind('', '', formats), fe.execute(''), fe.sync()); break;
    case 'extended-described': await batch(fe.parse('', select), bind('', '', formats), fe.describe('P', ''), fe.execute(''), fe.sync()); break;
    case 'deallocate-prepare':
      await batch(fe.parse('s', decoy), fe.describe('S', 's'), fe.sync());
      await batch(fe.query(`DEALLOCATE s; PREPARE s AS ${select}`));
      await batch(bind('', 's', formats), fe.execute(''), fe.sync());
      await batch(fe.query('DEALLOCATE s'));
      break;
    case 'cursor-swap':
      await batch(fe.query(`BEGIN; DECLARE cur CURSOR FOR ${decoy}`));
      await batch(fe.describe('P', 'cur'), fe.sync());
      await batch(fe.query(`CLOSE cur; DECLARE cur ${formats[0] === 1 ? 'BINARY ' : ''}CURSOR FOR ${select}`));
      await batch(fe.execute('cur'), fe.sync());
      await batch(fe.query('COMMIT'));
      break;
    case 'portal-swap':
      await batch(fe.parse('a', decoy), fe.parse('b', select), bind('', 'a', []), fe.describe('P', ''),
        bind('', 'b', formats), fe.execute(''), fe.sync());
      await batch(new MessageWriter().byte(0x53).cstring('a').frame(0x43), new MessageWriter().byte(0x53).cstring('b').frame(0x43), fe.sync());
      break;
  }
  return out;
}

/** More byte forms of the card numbers: numeric's base-10000 digits and float8. */
function cardForms(): Buffer[] {
  return SECRET_VALUES.cards.flatMap((card) => {
    const digits = Buffer.alloc(8);
    for (let i = 0; i < 4; i++) digits.writeInt16BE(Number(card.slice(4 * i, 4 * i + 4)), 2 * i);
    const f8 = Buffer.alloc(8);
    f8.writeDoubleBE(Number(card));
    return [digits, f8];
  });
}

describe('property: no protected value or entity reaches a client or the recording, in any format or route', { skip: await pgSkip() }, () => {
  let db: TestDatabase;
  let t: TestGateway;
  let key: string;
  const recorder = new MemoryRecorder();

  before(async () => {
    db = (await getTestPostgres())!;
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(MASKING_INIT);
    await c.end();
    t = await startTestGateway({ recorder, yaml: [`connections:\n  - { name: app, type: postgres, url: "${db.url}" }`, MASKING_YAML].join('\n') });
    key = String((await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key);
  });
  after(async () => {
    await t.close();
    await db.stop();
  });

  test('generated SELECTs × formats × routes', async () => {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
    const extra = cardForms();
    try {
      await fc.assert(fc.asyncProperty(
        fc.uniqueArray(fc.constantFrom(...SELECT_ITEMS), { minLength: 1, maxLength: 6, selector: (i) => i.sql }),
        fc.constantFrom(...ROUTES),
        fc.constantFrom<'text' | 'binary' | 'mixed'>('text', 'binary', 'mixed'),
        fc.constantFrom('', ' WHERE id = 1', ' ORDER BY id DESC', ' LIMIT 1'),
        async (items, route, format, tail) => {
          const select = `SELECT ${items.map((i) => i.sql).join(', ')} FROM customers${tail}`;
          const formats = format === 'text' ? [0] : format === 'binary' ? [1] : items.map((_, i) => i % 2);
          const frames = await runRoute(c, route, select, items.length, formats);
          const bytes = Buffer.concat(frames.map((f) => f.raw));
          assert.deepEqual(leakedIn(bytes), [], `${route} ${format}: ${select}`);
          for (const f of extra) assert.ok(!bytes.includes(f), `${route} ${format}: ${select} (binary number form)`);
          const last = frames.at(-1);
          if (last && last.body[0] !== 0x49) { c.send(fe.query('ROLLBACK')); await c.until(0x5a); }
          // Every error is the gateway's clear refusal or a server error; never a dead session.
          for (const f of frames.filter((x) => x.type === 0x45)) {
            const e = parseErrorFields(f.body);
            assert.notEqual(e.get('S'), 'FATAL', e.get('M') ?? '');
          }
        }), { numRuns: Number(process.env.GATEHOUSE_PROPERTY_RUNS ?? 60) });
    } finally {
      c.close();
    }
    assert.deepEqual(leakedIn(JSON.stringify(recorder.events)), [], 'the recording holds only what clients received');
  });
});
