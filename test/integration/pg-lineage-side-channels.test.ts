import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { pgSkip } from '../harness/postgres-server.ts';
import { startLineageRig, type PgRig } from '../harness/pg-rigs.ts';
import { runProcess } from '../harness/run.ts';
import { assertNoPhone } from '../fixtures/pg-lineage-db.ts';

/**
 * Column rules on the PostgreSQL path against channels other than result rows (helper h-pg):
 * what the planner computed into an EXPLAIN, settings a hidden function changed (SHOW,
 * ParameterStatus), functions created after their name was looked up, DO blocks.
 * `customers.phone` is ruled `redact`; the database holds functions that read it, as an
 * application's database may (their bodies are hidden from the lineage analysis).
 */

const POLICIES = `
@id("readers")
permit (principal in Group::"readers", action == Action::"sql.read", resource);
@id("owners")
permit (principal in Group::"owners", action, resource);
`;

/** Functions an application may have: each reads the protected column inside its body. */
const APP_FUNCTIONS = `
CREATE FUNCTION imm_phone() RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT phone FROM customers ORDER BY id LIMIT 1';
CREATE FUNCTION remember_phone() RETURNS int LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM set_config('application_name', (SELECT phone FROM customers ORDER BY id LIMIT 1), false);
  PERFORM set_config('app.last_phone', (SELECT phone FROM customers ORDER BY id LIMIT 1), false);
  RETURN 1;
END $$;
CREATE TABLE events (id int, note text);
CREATE FUNCTION events_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE NOTICE 'audit: contact %', (SELECT phone FROM customers ORDER BY id LIMIT 1); RETURN NEW; END $$;
CREATE TRIGGER events_audit BEFORE INSERT OR UPDATE ON events FOR EACH ROW EXECUTE FUNCTION events_audit();
CREATE PROCEDURE say_phone() LANGUAGE plpgsql AS $$
BEGIN RAISE NOTICE 'phone %', (SELECT phone FROM customers ORDER BY id LIMIT 1); END $$;
`;

const skip = await pgSkip();

describe('column rules: values leaving through plans, settings, late functions and DO (real PostgreSQL)', { skip }, () => {
  let rig: PgRig;
  let reader: string;
  let owner: string;
  const client = async (key: string): Promise<{ c: pg.Client; seen: string[] }> => {
    const c = new pg.Client({ host: rig.t.postgres.host, port: rig.t.postgres.port, user: 'u', database: 'app', password: key });
    c.on('error', () => undefined);
    const seen: string[] = [];
    c.on('notice', (n) => seen.push(`notice ${n.message} ${n.detail ?? ''} ${n.where ?? ''}`));
    await c.connect();
    // Every ParameterStatus the client receives after startup.
    (c as unknown as { connection: { on(e: string, f: (m: { name?: string; parameterName?: string; parameterValue?: string }) => void): void } })
      .connection.on('message', (m) => { if (m.name === 'parameterStatus') seen.push(`parameter ${m.parameterName ?? ''}=${m.parameterValue ?? ''}`); });
    return { c, seen };
  };
  const run = async (c: pg.Client, sql: string, extended = false): Promise<string> =>
    (extended ? c.query({ text: sql, values: [] }) : c.query(sql)).then(
      (r) => JSON.stringify(Array.isArray(r) ? (r as pg.QueryResult[]).map((x): unknown => x.rows) : r.rows as unknown),
      (e: unknown) => `ERROR ${(e as { code?: string }).code ?? ''} ${(e as Error).message} ${(e as { detail?: string }).detail ?? ''} ${(e as { where?: string }).where ?? ''}`);
  const psql = async (key: string, sql: string): Promise<string> => {
    const env = { ...process.env, PGPASSWORD: key, PGHOST: rig.t.postgres.host, PGPORT: String(rig.t.postgres.port), PGUSER: 'u', PGDATABASE: 'app', PGCONNECT_TIMEOUT: '10' };
    const r = await runProcess('psql', ['-X', '-A', '-t', '-c', sql], { env });
    return `${r.out}\n${r.err}`;
  };

  before(async () => {
    rig = await startLineageRig(POLICIES);
    const admin = new pg.Client({ connectionString: rig.db.url });
    await admin.connect();
    try { await admin.query(APP_FUNCTIONS); } finally { await admin.end(); }
    reader = await rig.key('reader', ['readers']);
    owner = await rig.key('owner', ['owners']);
  });
  after(async () => { await rig.close(); });

  test('EXPLAIN: what the planner folded from a hidden function does not reach the plan text', async () => {
    const { c, seen } = await client(reader);
    try {
      const out: string[] = [];
      for (const extended of [false, true]) {
        out.push(await run(c, 'EXPLAIN VERBOSE SELECT imm_phone()', extended));
        out.push(await run(c, 'EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM orders WHERE imm_phone() IS NOT NULL', extended));
      }
      assertNoPhone([...out, ...seen].join('\n'), 'EXPLAIN of a folded hidden function');
      assert.match(out[0]!, /QUERY PLAN/, 'the plan is still answered (redacted)');
      // A plan of a statement without hidden functions stays readable.
      assert.match(await run(c, 'EXPLAIN (COSTS OFF) SELECT phone FROM customers'), /Seq Scan on customers/);
    } finally { await c.end(); }
    assertNoPhone(await psql(reader, 'EXPLAIN VERBOSE SELECT imm_phone()'), 'psql EXPLAIN');
  });
  test('settings: what a hidden function set does not come back through SHOW, ParameterStatus or pg_settings', async () => {
    const { c, seen } = await client(reader);
    try {
      // A statement prepared before the setting changes is read when it runs.
      await c.query({ name: 'show_early', text: 'SHOW app.last_phone', values: [] }).catch(() => undefined);
      const out: string[] = [];
      out.push(await run(c, 'SELECT remember_phone()'));
      out.push(await run(c, 'SHOW app.last_phone'), await run(c, 'SHOW application_name'), await run(c, 'SHOW app.last_phone', true));
      out.push(await c.query({ name: 'show_early', text: 'SHOW app.last_phone', values: [] }).then((r) => JSON.stringify(r.rows), (e: unknown) => String(e)));
      out.push(await run(c, 'SELECT setting FROM pg_settings WHERE name = $$application_name$$'));
      // The transaction's end reports the session value again (SET LOCAL is undone at COMMIT).
      out.push(await run(c, "BEGIN; SET LOCAL application_name = 'x'; COMMIT"));
      assertNoPhone([...out, ...seen].join('\n'), 'a setting a hidden function changed');
      assert.ok(seen.some((s) => s === 'parameter application_name=[REDACTED]'), seen.join('\n'));
      assert.match(out[1]!, /\[REDACTED\]/);
      // Settings whose values are a fixed set of words stay readable (drivers SHOW them).
      assert.equal(await run(c, 'SHOW standard_conforming_strings'), '[{"standard_conforming_strings":"on"}]');
    } finally { await c.end(); }
    const p = await psql(reader, 'SELECT remember_phone(); SHOW application_name; SHOW app.last_phone');
    assertNoPhone(p, 'psql SHOW');
  });
  test('functions created after their name was looked up are hidden functions (another session or this one)', async () => {
    const { c, seen } = await client(reader);
    const admin = new pg.Client({ connectionString: rig.db.url });
    await admin.connect();
    const out: string[] = [];
    try {
      // The reader's first call fails (no such function) and its answer is cached; the application creates it.
      out.push(await run(c, 'SELECT late_phone()'));
      await admin.query(`CREATE FUNCTION late_phone() RETURNS text LANGUAGE sql STABLE AS 'SELECT phone FROM customers ORDER BY id LIMIT 1'`);
      out.push(await run(c, 'SELECT late_phone()'), await run(c, 'SELECT late_phone()', true), await run(c, 'SELECT late_phone()::int'));
    } finally { await c.end(); await admin.end(); }
    assertNoPhone([...out, ...seen].join('\n'), 'a function created after its lookup');
    assert.match(out[1]!, /\[REDACTED\]/);

    // A principal who may create functions: a new name, and a new overload of a built-in name looked up before.
    const o = await client(owner);
    const mine: string[] = [];
    try {
      mine.push(await run(o.c, 'SELECT pi()'));
      mine.push(await run(o.c, `CREATE FUNCTION pi(int) RETURNS text LANGUAGE sql STABLE AS 'SELECT phone FROM customers ORDER BY id LIMIT 1'`));
      mine.push(await run(o.c, 'SELECT pi(1)'), await run(o.c, 'SELECT pi(1)', true));
      mine.push(await run(o.c, `CREATE FUNCTION own_phone() RETURNS SETOF text LANGUAGE sql STABLE AS 'SELECT phone FROM customers'; SELECT own_phone()`));
      mine.push(await run(o.c, 'SELECT * FROM own_phone()'));
    } finally { await o.c.end(); }
    assertNoPhone([...mine, ...o.seen].join('\n'), 'a function the session created');
    assert.match(mine[2]!, /\[REDACTED\]/);
  });
  test('DO blocks and procedures (code Gatehouse cannot see) are refused on a connection with column rules', async () => {
    const { c, seen } = await client(owner);
    const out: string[] = [];
    try {
      const read = 'DECLARE p text; BEGIN SELECT phone INTO p FROM customers ORDER BY id LIMIT 1;';
      for (const body of [`${read} RAISE NOTICE 'v %', p; END`, `${read} RAISE EXCEPTION 'v %', p; END`,
        `${read} PERFORM set_config('application_name', p, false); END`, `${read} PERFORM set_config('app.p', p, false); END`]) {
        out.push(await run(c, `DO $do$ ${body} $do$`), await run(c, `DO $do$ ${body} $do$`, true));
      }
      out.push(await run(c, 'SHOW app.p'), await run(c, 'CALL say_phone()'), await run(c, 'CALL say_phone()', true));
    } finally { await c.end(); }
    assertNoPhone([...out, ...seen].join('\n'), 'a DO block or procedure');
    assert.match(out[0]!, /^ERROR 42501 .*DO block/);
    assert.match(out[9]!, /^ERROR 42501 .*procedure/);
    assertNoPhone(await psql(owner, `DO $$ BEGIN RAISE NOTICE '%', (SELECT phone FROM customers LIMIT 1); END $$`), 'psql DO');
  });
  test('a value from a hidden function is not written where no column rule follows it', async () => {
    const { c, seen } = await client(owner);
    const out: string[] = [];
    try {
      const digits = "regexp_replace(imm_phone(), '\\D', '', 'g')";
      out.push(await run(c, 'INSERT INTO orders VALUES (900, 1, 0)'));
      out.push(await run(c, `UPDATE orders SET total = substr(${digits}, 1, 9)::int WHERE id = 900`));
      out.push(await run(c, `INSERT INTO orders SELECT 901, 1, substr(${digits}, 4)::int`, true));
      out.push(await run(c, `WITH w AS (UPDATE orders SET total = substr(${digits}, 4)::int WHERE id = 900 RETURNING 1) SELECT 1`));
      out.push(await run(c, `SELECT set_config('app.x', imm_phone(), false)`), await run(c, 'SHOW app.x'));
      out.push(await run(c, 'SELECT id, total FROM orders WHERE id >= 900 ORDER BY id'));
    } finally { await c.end(); }
    assertNoPhone([...out, ...seen].join('\n'), 'a hidden function written to a table');
    assert.ok(!/8675309|1234567/.test(out.join('\n')), out.join('\n'));
    assert.match(out[1]!, /^ERROR 42501 .*function whose body Gatehouse cannot see/);
  });
  test('a write runs its table\'s triggers (hidden code): their notice and error texts are withheld', async () => {
    const { c, seen } = await client(owner);
    const out: string[] = [];
    try {
      out.push(await run(c, "INSERT INTO events VALUES (1, 'a')"), await run(c, "INSERT INTO events VALUES (2, 'b')", true));
      out.push(await run(c, "UPDATE events SET note = 'c' WHERE id = 1"), await run(c, "INSERT INTO events VALUES (3, 'x') RETURNING id"));
      out.push(await run(c, 'SELECT count(*) FROM events'));
    } finally { await c.end(); }
    assertNoPhone([...out, ...seen].join('\n'), 'a trigger fired by a write');
    assert.equal(out[4], '[{"count":"3"}]', 'the writes still ran');
    assert.ok(seen.some((s) => s.includes('Gatehouse withheld')), seen.join('\n'));
  });
});
