import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import { MessageWriter } from '../../src/protocols/postgres/writer.ts';
import { parseDataRow, parseErrorFields } from '../../src/protocols/postgres/backend-messages.ts';
import type { Frame } from '../../src/protocols/postgres/frame-reader.ts';
import { MemoryRecorder } from '../../src/recording/recorder.ts';
import { ALL_SECRETS, leakedIn, MASKING_INIT, MASKING_YAML } from '../fixtures/pg-masking-table.ts';

/** Bind with explicit result format codes (0 text, 1 binary; one code applies to all columns). */
function bindFormats(portal: string, stmt: string, formats: number[]): Buffer {
  const w = new MessageWriter().cstring(portal).cstring(stmt).int16(0).int16(0).int16(formats.length);
  for (const f of formats) w.int16(f);
  return w.frame(0x42);
}

const all = (frames: Frame[]): Buffer => Buffer.concat(frames.map((f) => f.raw));
const rows = (frames: Frame[]): (string | null)[][] => frames.filter((f) => f.type === 0x44).map((f) => parseDataRow(f.body).map((v) => v?.toString('utf8') ?? null));
const errors = (frames: Frame[]): string[] => frames.filter((f) => f.type === 0x45).map((f) => `${parseErrorFields(f.body).get('C')}: ${parseErrorFields(f.body).get('M')}`);

describe('result shapes: the rows of each Execute are masked with the shape the server produced', { skip: await pgSkip() }, () => {
  let db: TestDatabase;
  let t: TestGateway;
  let key: string;
  const recorder = new MemoryRecorder();
  const connect = (): Promise<RawPgClient> => RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);

  before(async () => {
    db = (await getTestPostgres())!;
    const pg = await import('pg');
    const c = new pg.default.Client({ connectionString: db.url });
    await c.connect();
    await c.query(MASKING_INIT);
    await c.end();
    t = await startTestGateway({
      recorder,
      yaml: [`connections:\n  - { name: app, type: postgres, url: "${db.url}" }\n  - { name: contentonly, type: postgres, url: "${db.url}" }`,
        MASKING_YAML, '    - { connections: [contentonly], direction: response, entities: [EMAIL], strategy: redact }'].join('\n'),
    });
    key = String((await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] })).json.key);
  });
  after(async () => {
    await t.close();
    await db.stop();
    assert.deepEqual(leakedIn(JSON.stringify(recorder.events)), [], 'the recording holds no protected value');
  });

  test('DEALLOCATE + PREPARE reuse a described statement name: masked, in text and binary', async () => {
    for (const format of [0, 1]) {
      const c = await connect();
      try {
        c.send(fe.parse('s', 'SELECT 1::int4, 2::int4'), fe.describe('S', 's'), fe.sync());
        await c.until(0x5a);
        c.send(fe.query('DEALLOCATE s; PREPARE s AS SELECT email, phone, ssn, card8 FROM customers ORDER BY id'));
        await c.until(0x5a);
        c.send(bindFormats('', 's', [format]), fe.execute(''), fe.sync());
        const got = await c.until(0x5a);
        assert.deepEqual(leakedIn(all(got)), [], `format ${format}`);
        assert.deepEqual(errors(got), []);
        const r = rows(got);
        assert.equal(r.length, 2);
        assert.equal(r[0]![0], '[EMAIL]');
        assert.equal(r[0]![1], '[REDACTED]');
        // No RowDescription reaches a client that did not ask for one.
        assert.equal(got.filter((f) => f.type === 0x54).length, 0);
      } finally { c.close(); }
    }
  });

  test('a portal described by the client, then replaced by a cursor of the same name: masked', async () => {
    const c = await connect();
    try {
      c.send(fe.query('BEGIN'));
      await c.until(0x5a);
      c.send(fe.query('DECLARE cur CURSOR FOR SELECT 1::int4, 2::int4'));
      await c.until(0x5a);
      c.send(fe.describe('P', 'cur'), fe.sync());
      await c.until(0x5a);
      c.send(fe.query('CLOSE cur; DECLARE cur BINARY CURSOR FOR SELECT email, ssn, card, card8, phone, tags, who, doc FROM customers ORDER BY id'));
      await c.until(0x5a);
      c.send(fe.execute('cur'), fe.sync());
      const got = await c.until(0x5a);
      assert.deepEqual(leakedIn(all(got)), []);
      assert.equal(rows(got).length, 2);
      c.send(fe.query('CLOSE cur; DECLARE cur CURSOR FOR SELECT email, ssn FROM customers; FETCH 1 FROM cur'));
      const fetched = await c.until(0x5a);
      assert.deepEqual(leakedIn(all(fetched)), []);
      assert.deepEqual(rows(fetched), [['[EMAIL]', '[US_SSN]']]);
      c.send(fe.query('ROLLBACK'));
      await c.until(0x5a);
    } finally { c.close(); }
  });

  test('the client\'s own Describe right before Execute serves; a stale one does not', async () => {
    const c = await connect();
    try {
      c.send(fe.parse('q', 'SELECT email, phone FROM customers ORDER BY id'), fe.bind('p', 'q'), fe.describe('P', 'p'), fe.execute('p'), fe.sync());
      const got = await c.until(0x5a);
      assert.equal(got.filter((f) => f.type === 0x54).length, 1, 'the client sees its own RowDescription once');
      assert.deepEqual(rows(got), [['[EMAIL]', '[REDACTED]'], ['[EMAIL]', '[REDACTED]']]);
      // Described as an int, then a SQL PREPARE under the unnamed portal's statement name cannot change it,
      // but a Bind of another statement between Describe and Execute does.
      c.send(fe.parse('a', 'SELECT 1::int4'), fe.parse('b', 'SELECT email FROM customers'), fe.bind('', 'a'), fe.describe('P', ''),
        bindFormats('', 'b', [1]), fe.execute(''), fe.sync());
      const swapped = await c.until(0x5a);
      assert.deepEqual(leakedIn(all(swapped)), []);
      assert.deepEqual(rows(swapped).map((r) => r[0]), ['[EMAIL]', '[EMAIL]']);
    } finally { c.close(); }
  });

  test('binary values that cannot be read fail the statement (0A000, column named), and the session goes on', async () => {
    const c = await connect();
    try {
      c.send(fe.parse('', "SELECT point(1, 2) AS pt, 'bob@example.com' AS e"), bindFormats('', '', [1]), fe.execute(''), fe.sync());
      const got = await c.until(0x5a);
      const e = errors(got);
      assert.equal(e.length, 1);
      assert.match(e[0]!, /^0A000: Gatehouse cannot mask column "pt" \(type OID 600\) in binary result format .*text result format/);
      assert.equal(rows(got).length, 0);
      assert.deepEqual(leakedIn(all(got)), []);
      // The same in text format is fine, and the session is usable.
      c.send(fe.query("SELECT point(1, 2) AS pt, 'bob@example.com' AS e"));
      assert.deepEqual(rows(await c.until(0x5a)), [['(1,2)', '[EMAIL]']]);
    } finally { c.close(); }
  });

  test('pipelined: a failed statement withholds the rest of its batch only', async () => {
    const c = await connect();
    try {
      c.send(
        fe.parse('', 'SELECT point(1, 2)'), bindFormats('', '', [1]), fe.execute(''),
        fe.parse('', 'SELECT email FROM customers'), fe.bind('', ''), fe.execute(''), fe.sync(),
        fe.parse('', 'SELECT email FROM customers ORDER BY id'), bindFormats('', '', [1]), fe.execute(''), fe.sync(),
      );
      const first = await c.until(0x5a);
      assert.equal(errors(first).length, 1);
      assert.equal(rows(first).length, 0);
      const second = await c.until(0x5a);
      assert.deepEqual(rows(second), [['[EMAIL]'], ['[EMAIL]']]);
    } finally { c.close(); }
  });

  test('simple protocol, binary cursor and every column: nothing protected leaves', async () => {
    const c = await connect();
    try {
      c.send(fe.query('BEGIN; DECLARE b BINARY CURSOR FOR SELECT * FROM customers; FETCH ALL FROM b; COMMIT'));
      const got = await c.until(0x5a);
      assert.deepEqual(errors(got), []);
      assert.deepEqual(leakedIn(all(got)), []);
      c.send(fe.query('SELECT * FROM customers'));
      const text = await c.until(0x5a);
      assert.deepEqual(leakedIn(all(text)), []);
      for (const s of ALL_SECRETS) assert.ok(!all(text).includes(s));
    } finally { c.close(); }
  });

  test('COPY TO STDOUT in binary format is refused where content rules apply (its values are not text); text COPY is masked', async () => {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'contentonly', key);
    try {
      c.send(fe.query('COPY (SELECT email FROM customers) TO STDOUT (FORMAT binary)'));
      const got = await c.until(0x5a);
      assert.deepEqual(errors(got).map((e) => e.slice(0, 6)), ['0A000:']);
      assert.equal(got.filter((f) => f.type === 0x64).length, 0);
      assert.deepEqual(leakedIn(all(got)), []);
      c.send(fe.query('COPY (SELECT email FROM customers ORDER BY id) TO STDOUT'));
      const text = await c.until(0x5a);
      assert.deepEqual(text.filter((f) => f.type === 0x64).map((f) => f.body.toString()), ['[EMAIL]\n', '[EMAIL]\n']);
    } finally { c.close(); }
  });
});
