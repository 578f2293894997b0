import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { TestGateway } from '../harness/gateway.ts';
import { startPgRecordingRig, type PgRecordingRig } from '../harness/pg-recording.ts';
import { pgSkip } from '../harness/postgres-server.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import type { StoredEvent } from '../../src/recording/types.ts';

// Review (session 12, commit 12b35c5): results pair with statements by batch and Execute order,
// not by portal. An extended batch that binds two portals and then executes them records the
// first portal's rows under the second statement's text (and the first statement without result).

const skip = await pgSkip();

describe('review: PostgreSQL statement records pair each result with the statement its portal ran', { skip }, () => {
  let rig: PgRecordingRig | undefined;
  let t: TestGateway;
  let key: string;

  before(async () => {
    rig = await startPgRecordingRig({ setupSql: 'CREATE TABLE IF NOT EXISTS notes (body text)' });
    ({ t, key } = rig);
  });
  after(async () => {
    await rig?.close();
  });

  async function closedSession(): Promise<StoredEvent[]> {
    const sessions = t.gw.services.sessions;
    for (let i = 0; i < 200; i++) {
      await t.gw.services.recorder.flush?.();
      await t.gw.services.recorder.settled?.();
      const [s] = await sessions.list({ connection: 'app', limit: 1 });
      if (s?.closedAt !== undefined) {
        const events: StoredEvent[] = [];
        for await (const e of sessions.allEvents(s.id)) events.push(e);
        return events;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the session was not recorded');
  }

  test('two portals bound, then executed: each statement record carries its own rows', async () => {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
    try {
      c.send(
        fe.parse('s1', "SELECT 'one' AS v"), fe.bind('p1', 's1'),
        fe.parse('s2', "SELECT 'two' AS w"), fe.bind('p2', 's2'),
        fe.execute('p1'), fe.execute('p2'), fe.sync(),
      );
      await c.until(0x5a);
    } finally { c.close(); }
    const events = await closedSession();
    const stmts = events.filter((e) => e.type === 'statement').map((e) => e.data);
    const one = stmts.find((d) => d.name === 's1');
    const two = stmts.find((d) => d.name === 's2');
    assert.ok(one && two, JSON.stringify(stmts));
    // A record that carries a result must carry the result of *its* statement.
    if (two.sample !== undefined) assert.deepEqual(two.sample, [['two']], `s2's record holds the rows of p1 (s1): ${JSON.stringify(two)}`);
    if (one.sample !== undefined) assert.deepEqual(one.sample, [['one']]);
    if (two.columns !== undefined) assert.deepEqual(two.columns, ['w']);
    // Executed in the order bound: each result pairs with its own statement (none left to a `response`).
    assert.deepEqual([one.sample, two.sample], [[['one']], [['two']]], JSON.stringify(stmts));
  });

  test('a named statement bound twice, portals executed in bind order: params pair with their rows', async () => {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
    try {
      c.send(fe.parse('n', 'SELECT $1::text AS v'), fe.sync());
      await c.until(0x5a);
      c.send(fe.bind('pa', 'n', ['alpha']), fe.bind('pb', 'n', ['beta']), fe.execute('pa'), fe.execute('pb'), fe.sync());
      await c.until(0x5a);
    } finally { c.close(); }
    const events = await closedSession();
    const binds = events.filter((e) => e.type === 'statement' && e.data.message === 'bind').map((e) => e.data);
    for (const d of binds) {
      if (d.sample !== undefined) assert.deepEqual(d.sample, [[(d.params as string[])[0]]], `a Bind's record holds another portal's rows: ${JSON.stringify(d)}`);
    }
  });

  test('a multi-statement Query whose second statement fails: the error is recorded (the first result was rolled back)', async () => {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
    try {
      c.send(fe.query("SELECT 'first' AS v; SELECT 1/0"));
      await c.until(0x5a);
    } finally { c.close(); }
    const events = await closedSession();
    const all = JSON.stringify(events.map((e) => [e.type, e.data]));
    // The statement record says "SELECT 1 (1 rows)" and nothing records the 22012 that failed
    // (and, in the Query's implicit transaction, undid) it: a `DELETE …; SELECT 1/0` reads as a
    // DELETE that happened.
    assert.ok(all.includes('22012'), `the server error of the Query is not recorded: ${all}`);
  });

  // Review (session 16): an ErrorResponse was paired with the batch's next execution whatever
  // message it answered. A Parse (or Describe) the server rejects, pipelined before the Execute of
  // another statement, recorded that statement as failed with the Parse's SQLSTATE — a statement
  // that never ran — and the Parse as if nothing had happened.
  async function batch(...frames: Buffer[]): Promise<StoredEvent[]> {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
    try {
      c.send(fe.parse('ok', "SELECT 'fine' AS v"), fe.sync());
      await c.until(0x5a);
      c.send(...frames, fe.sync());
      const got = await c.until(0x5a);
      assert.ok(got.some((f) => f.type === 0x45), `the batch was expected to fail: ${got.map((f) => c.describe(f)).join(' ')}`);
    } finally { c.close(); }
    return closedSession();
  }
  const okStatement = (events: StoredEvent[]) => events.filter((e) => e.type === 'statement' && e.data.message === 'bind' && e.data.name === 'ok').map((e) => e.data);

  test('a pipelined Parse the server rejects: its SQLSTATE is not recorded as the result of the statement executed after it', async () => {
    const events = await batch(fe.parse('bad', 'SELECT 1::gatehouse_no_such_type'), fe.bind('p', 'ok'), fe.execute('p'));
    const ok = okStatement(events);
    assert.equal(ok.length, 1, JSON.stringify(events.map((e) => [e.type, e.data])));
    assert.equal(ok[0]!.error, undefined, `a statement that never ran is recorded as failed: ${JSON.stringify(ok[0])}`);
    assert.equal(ok[0]!.rows, undefined, JSON.stringify(ok[0]));
    const errors = events.filter((e) => e.type === 'response' && e.data.error === '42704');
    assert.equal(errors.length, 1, `the Parse's SQLSTATE is recorded once, on its own: ${JSON.stringify(events.map((e) => [e.type, e.data]))}`);
  });

  test('a Describe of an unknown statement before an Execute: the error is not the executed statement\'s', async () => {
    const events = await batch(fe.bind('p', 'ok'), fe.describe('S', 'gatehouse_unknown'), fe.execute('p'));
    const ok = okStatement(events);
    assert.equal(ok.length, 1, JSON.stringify(events.map((e) => [e.type, e.data])));
    assert.equal(ok[0]!.error, undefined, JSON.stringify(ok[0]));
    assert.ok(events.some((e) => e.type === 'response' && e.data.error === '26000'), JSON.stringify(events.map((e) => [e.type, e.data])));
  });

  test('a Bind the server rejects (its parameter): the error is recorded on its own statement', async () => {
    const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
    try {
      c.send(fe.parse('', 'SELECT $1::int AS n'), fe.bind('', '', ['not a number']), fe.execute(''), fe.sync());
      await c.until(0x5a);
    } finally { c.close(); }
    const events = await closedSession();
    const stmt = events.filter((e) => e.type === 'statement' && e.data.message === 'parse');
    assert.equal(stmt.length, 1, JSON.stringify(events.map((e) => [e.type, e.data])));
    assert.equal(stmt[0]!.data.error, '22P02', JSON.stringify(stmt[0]!.data));
  });

  // Random batches in which one message fails at the server — a Parse or Describe of no
  // execution's own, or a statement's own Bind or Execute — among executions that succeed.
  type Step = { readonly k: 'ok' | 'badparse' | 'baddescribe' | 'badbind' | 'divzero' };
  const OWN: Record<string, { name: string; code: string }> = { badbind: { name: 'int', code: '22P02' }, divzero: { name: 'div', code: '22012' } };
  const CODE: Record<string, string> = { badparse: '42704', baddescribe: '26000', badbind: '22P02', divzero: '22012' };

  test('property: a server error is recorded once, on the statement whose message it answers or on its own; none on a statement that did not run', async () => {
    const stepArb = fc.record({ k: fc.constantFrom('ok', 'ok', 'badparse', 'baddescribe', 'badbind', 'divzero') }) as fc.Arbitrary<Step>;
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 8 }), async (steps) => {
      const frames: Buffer[] = [];
      let n = 0;
      const values: string[] = [];
      for (const st of steps) {
        if (st.k === 'ok') { const v = `v${n++}`; values.push(v); frames.push(fe.bind('', 'txt', [v]), fe.execute('')); }
        else if (st.k === 'badparse') frames.push(fe.parse(`bp${n++}`, 'SELECT 1::gatehouse_no_such_type'));
        else if (st.k === 'baddescribe') frames.push(fe.describe('S', 'gatehouse_unknown'));
        else if (st.k === 'badbind') frames.push(fe.bind('', 'int', ['x']), fe.execute(''));
        else frames.push(fe.bind('', 'div', ['0']), fe.execute(''));
      }
      const first = steps.findIndex((st) => st.k !== 'ok');
      const ran = new Set(steps.slice(0, first < 0 ? steps.length : first).filter((st) => st.k === 'ok').map((_, i) => values[i]!));
      const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
      try {
        c.send(fe.parse('txt', 'SELECT $1::text AS v'), fe.parse('int', 'SELECT $1::int AS n'), fe.parse('div', 'SELECT 1 / $1::int AS q'), fe.sync());
        await c.until(0x5a);
        c.send(...frames, fe.sync());
        await c.until(0x5a);
      } finally { c.close(); }
      const events = await closedSession();
      const trace = JSON.stringify(events.map((e) => [e.type, e.data]));
      const withError = events.filter((e) => (e.type === 'statement' || e.type === 'response') && e.data.error !== undefined);
      if (first < 0) { assert.equal(withError.length, 0, trace); } else {
        const k = steps[first]!.k;
        assert.equal(withError.length, 1, `one error recorded: ${trace}`);
        const e = withError[0]!;
        assert.equal(e.data.error, CODE[k], trace);
        const own = OWN[k];
        if (own) { assert.equal(e.type, 'statement', trace); assert.equal(e.data.name, own.name, trace); }
        else assert.equal(e.type, 'response', trace);
      }
      const sampled = events.filter((e) => e.type === 'statement' && e.data.name === 'txt' && e.data.sample !== undefined)
        .map((e) => String((e.data.sample as string[][])[0]![0]));
      assert.deepEqual(sampled.sort(), [...ran].sort(), `the statements that ran, and only they, carry their rows: ${trace}`);
    }), { numRuns: 25 });
  });

  // Random pipelines in one batch: Parse/Bind over named and unnamed statements and portals, each
  // Bind with a parameter of its own (the distinguishable result), then Executes in any order.
  type Act = { readonly bind: true; readonly stmt: string; readonly portal: string } | { readonly bind: false; readonly pick: number };
  const actArb: fc.Arbitrary<Act> = fc.oneof(
    fc.record({ bind: fc.constant(true as const), stmt: fc.constantFrom('', 'sa', 'sb'), portal: fc.constantFrom('', 'pa', 'pb', 'pc') }),
    fc.record({ bind: fc.constant(false as const), pick: fc.nat(7) }),
  );

  test('property: every recorded statement carries exactly its own portal\'s result; each result is recorded once', async () => {
    await fc.assert(fc.asyncProperty(fc.array(actArb, { minLength: 1, maxLength: 10 }), async (acts) => {
      const frames: Buffer[] = [];
      const prepared = new Set<string>();
      const open = new Map<string, string>();
      const named = new Set<string>(); // named portals live until the transaction ends, executed or not
      const executed: string[] = [];
      let n = 0;
      for (const a of acts) {
        if (a.bind) {
          if (named.has(a.portal)) continue; // a named portal bound twice is the server's error
          if (a.portal !== '') named.add(a.portal);
          if (a.stmt === '' || !prepared.has(a.stmt)) frames.push(fe.parse(a.stmt, 'SELECT $1::text AS v'));
          if (a.stmt !== '') prepared.add(a.stmt);
          const value = `v${n++}`;
          open.delete(a.portal);
          open.set(a.portal, value);
          frames.push(fe.bind(a.portal, a.stmt, [value]));
        } else {
          const portals = [...open.keys()];
          if (portals.length === 0) continue;
          const portal = portals[a.pick % portals.length]!;
          frames.push(fe.execute(portal));
          executed.push(open.get(portal)!);
          open.delete(portal);
        }
      }
      const c = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
      try {
        c.send(...frames, fe.sync());
        const got = await c.until(0x5a);
        assert.ok(!got.some((f) => f.type === 0x45), got.map((f) => c.describe(f)).join(' '));
      } finally { c.close(); }
      const events = await closedSession();
      const results: string[] = [];
      for (const e of events) {
        const d = e.data;
        if (e.type === 'statement') {
          assert.equal(d.error, undefined, JSON.stringify(d));
          if (d.sample !== undefined) {
            assert.deepEqual(d.sample, [[(d.params as string[])[0]]], `a statement record holds another portal's rows: ${JSON.stringify(events.map((x) => x.data))}`);
            results.push(String((d.sample as string[][])[0]![0]));
          }
        } else if (e.type === 'response' && d.sample !== undefined) {
          results.push(String((d.sample as string[][])[0]![0]));
        }
      }
      assert.deepEqual(results.sort(), [...executed].sort(), 'each executed portal\'s result recorded exactly once');
    }), { numRuns: 20 });
  });
});
