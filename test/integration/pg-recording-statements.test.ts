import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import pg from 'pg';
import type { TestGateway } from '../harness/gateway.ts';
import { startPgRecordingRig, type PgRecordingRig } from '../harness/pg-recording.ts';
import { pgSkip } from '../harness/postgres-server.ts';
import { rewriteEvents } from '../harness/recording-tamper.ts';
import { RawPgClient, fe } from '../harness/pg-raw-client.ts';
import type { SessionInfo, StoredEvent } from '../../src/recording/types.ts';

// One recorded event per PostgreSQL statement exchange (docs/design/recording.md, "Data paths"):
// a session of random allowed, denied and failing statements, simple and extended protocol (pg),
// records for each statement, in order, its masked text, its decision and its outcome, and the
// chain verifies; a changed statement record is detected.

const skip = await pgSkip();

type Kind = 'ok' | 'denied' | 'error';
interface Stmt { readonly kind: Kind; readonly mode: 'simple' | 'extended' | 'named'; readonly word: string; readonly email: boolean }

const stmtArb: fc.Arbitrary<Stmt> = fc.record({
  kind: fc.constantFrom<Kind>('ok', 'ok', 'denied', 'error'),
  mode: fc.constantFrom<Stmt['mode']>('simple', 'extended', 'named'),
  word: fc.stringMatching(/^[a-z]{1,8}$/),
  email: fc.boolean(),
});

/** The value a statement carries: a word, or an email address (recorded as [EMAIL]). */
const value = (s: Stmt): { raw: string; masked: string } =>
  (s.email ? { raw: `${s.word}@example.com`, masked: '[EMAIL]' } : { raw: s.word, masked: s.word });

/** The SQL of a statement; extended ones take the value as $1. */
function sql(s: Stmt): string {
  const lit = `'${value(s).raw}'`;
  const arg = s.mode === 'simple' ? lit : '$1::text';
  if (s.kind === 'denied') return `DELETE FROM notes WHERE body = ${arg}`;
  if (s.kind === 'error') return `SELECT length(${arg}) / 0 AS v`;
  return `SELECT ${arg} AS v`;
}

describe('PostgreSQL recording: one event per statement exchange', { skip }, () => {
  let rig: PgRecordingRig | undefined;
  let t: TestGateway;
  let key: string;

  before(async () => {
    // An agent's key: writes are forbidden (agents-no-writes), reads allowed.
    rig = await startPgRecordingRig({
      setupSql: 'CREATE TABLE notes (body text)',
      yaml: ['masking:', '  rules:', '    - { connections: [app], direction: both, entities: [EMAIL], strategy: redact }'],
    });
    ({ t, key } = rig);
  });
  after(async () => {
    await rig?.close();
  });

  /** Runs the statements on one connection; the session as recorded once closed. */
  async function run(stmts: readonly Stmt[]): Promise<{ info: SessionInfo; events: StoredEvent[] }> {
    const c = new pg.Client({ host: t.postgres.host, port: t.postgres.port, user: 'dev', database: 'app', password: key });
    c.on('error', () => undefined);
    await c.connect();
    const names = new Set<string>();
    for (const s of stmts) {
      const text = sql(s);
      const q = s.mode === 'simple' ? { text } : { text, values: [value(s).raw], ...(s.mode === 'named' ? { name: `n_${s.kind}` } : {}) };
      if (s.mode === 'named') names.add(`n_${s.kind}`);
      const r = await c.query(q).then(() => 'ok', (e: unknown) => (e as { code?: string }).code);
      assert.equal(r, s.kind === 'ok' ? 'ok' : s.kind === 'denied' ? '42501' : '22012', text);
    }
    await c.end();
    return recorded();
  }

  /** The next session recorded and closed (sessions run one at a time here). */
  async function recorded(): Promise<{ info: SessionInfo; events: StoredEvent[] }> {
    const sessions = t.gw.services.sessions;
    for (let i = 0; i < 200; i++) {
      await t.gw.services.recorder.flush?.();
      await t.gw.services.recorder.settled?.();
      const [s] = await sessions.list({ connection: 'app', limit: 1 });
      if (s?.closedAt !== undefined && !seen.has(s.id)) {
        seen.add(s.id);
        const events: StoredEvent[] = [];
        for await (const e of sessions.allEvents(s.id)) events.push(e);
        return { info: s, events };
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the session was not recorded');
  }
  const seen = new Set<string>();

  test('each statement in order: its masked text, decision and outcome; the chain verifies', async () => {
    await fc.assert(fc.asyncProperty(fc.array(stmtArb, { minLength: 1, maxLength: 8 }), async (stmts) => {
      const { info, events } = await run(stmts);
      assert.deepEqual(events.map((e) => e.type), ['session.open', ...stmts.map(() => 'statement'), 'session.close'], 'one event per statement');
      const prepared = new Set<string>();
      stmts.forEach((s, i) => {
        const d = events[i + 1]!.data;
        const v = value(s);
        const name = `n_${s.kind}`;
        // A named statement already prepared (and not denied) is only bound again: name and parameters, no new decision.
        const rebind = s.mode === 'named' && prepared.has(name);
        if (s.mode === 'named' && s.kind !== 'denied') prepared.add(name);
        if (rebind) {
          assert.equal(d.message, 'bind');
          assert.equal(d.name, name);
          assert.equal(d.statement, undefined);
          assert.equal(d.effect, undefined);
        } else {
          assert.equal(d.message, s.mode === 'simple' ? 'query' : 'parse');
          assert.equal(d.statement, sql(s).replace(v.raw, v.masked), 'the masked text');
          assert.equal(d.effect, s.kind === 'denied' ? 'deny' : 'allow');
          if (s.kind === 'denied') assert.deepEqual(d.reasons, ['agents-no-writes']);
          if (s.mode !== 'simple') assert.equal(d.name, s.mode === 'named' ? name : '');
        }
        if (s.mode !== 'simple' && s.kind !== 'denied') assert.deepEqual(d.params, [v.masked], 'the Bind parameters, masked');
        if (s.kind === 'ok') {
          assert.equal(d.tag, 'SELECT 1');
          assert.equal(d.rows, 1);
          assert.deepEqual(d.columns, ['v']);
          assert.deepEqual(d.sample, [[v.masked]], 'the row as the client received it');
        } else if (s.kind === 'error') {
          assert.equal(d.error, '22012');
          assert.equal(d.tag, undefined);
        } else {
          assert.equal(d.rows, undefined);
          assert.equal(d.error, undefined);
        }
        for (const raw of [v.raw]) if (s.email) assert.ok(!JSON.stringify(d).includes(raw), 'nothing unmasked');
      });
      const decided = stmts.filter((s, i) => events[i + 1]!.data.effect !== undefined);
      const expect = (['allow', 'deny'] as const).filter((e) => decided.some((s) => (s.kind === 'denied') === (e === 'deny')));
      assert.deepEqual(info.decisions, expect, 'the session row flags');
      assert.deepEqual(await t.gw.services.sessions.verify(info.id), { ok: true, events: events.length });
    }), { numRuns: 12 });
  });

  test('a changed statement record is detected', async () => {
    const { info, events } = await run([{ kind: 'ok', mode: 'extended', word: 'abc', email: false }, { kind: 'denied', mode: 'simple', word: 'x', email: true }]);
    assert.deepEqual(await t.gw.services.sessions.verify(info.id), { ok: true, events: events.length });
    await rewriteEvents(t.gw.services.db, info.id, (es) => es.map((e) => (e.seq === 2 ? { ...e, text: e.text.replace('"rows":1', '"rows":0') } : e)));
    assert.deepEqual(await t.gw.services.sessions.verify(info.id), { ok: false, seq: 2, reason: 'changed' });
    await rewriteEvents(t.gw.services.db, info.id, (es) => es.filter((e) => e.seq !== 3));
    const r = await t.gw.services.sessions.verify(info.id);
    assert.equal(r.ok, false);
  });

  test('pipelined statements pair with their own results; what cannot wait is recorded in the order sent', async () => {
    const raw = await RawPgClient.connect(t.postgres.host, t.postgres.port, 'dev', 'app', key);
    // Two statements in one extended batch, sent at once: each record has its own result.
    raw.send(fe.parse('', 'SELECT 1 AS a'), fe.bind('', ''), fe.execute(''), fe.parse('', 'SELECT $1::text AS b'), fe.bind('', '', ['two']), fe.execute(''), fe.sync());
    await raw.until(0x5a);
    // A denial behind a statement still running: that one is recorded first, its result follows.
    raw.send(fe.parse('', 'SELECT 3 AS c'), fe.bind('', ''), fe.execute(''), fe.parse('', "DELETE FROM notes WHERE body = 'x'"), fe.bind('', ''), fe.execute(''), fe.sync());
    await raw.until(0x5a);
    // A Query of two statements: the first result in its record, the second a response.
    raw.send(fe.query('SELECT 4 AS d; SELECT 5 AS e'));
    await raw.until(0x5a);
    // Parsed and described, never executed: recorded at the Sync.
    raw.send(fe.parse('p1', 'SELECT 6 AS f'), fe.describe('S', 'p1'), fe.sync());
    await raw.until(0x5a);
    raw.send(fe.bind('', 'p1'), fe.execute(''), fe.sync());
    await raw.until(0x5a);
    raw.close();
    const { info, events } = await recorded();
    const brief = events.map((e) => ({
      type: e.type, ...(e.data.statement === undefined ? {} : { statement: e.data.statement }), ...(e.data.effect === undefined ? {} : { effect: e.data.effect }),
      ...(e.data.sample === undefined ? {} : { sample: e.data.sample }), ...(e.data.params === undefined ? {} : { params: e.data.params }),
    }));
    assert.deepEqual(brief, [
      { type: 'session.open' },
      { type: 'statement', statement: 'SELECT 1 AS a', effect: 'allow', sample: [['1']], params: [] },
      { type: 'statement', statement: 'SELECT $1::text AS b', effect: 'allow', sample: [['two']], params: ['two'] },
      { type: 'statement', statement: 'SELECT 3 AS c', effect: 'allow', params: [] },
      { type: 'statement', statement: "DELETE FROM notes WHERE body = 'x'", effect: 'deny' },
      { type: 'response', sample: [['3']] },
      { type: 'statement', statement: 'SELECT 4 AS d; SELECT 5 AS e', effect: 'allow', sample: [['4']] },
      { type: 'response', sample: [['5']] },
      { type: 'statement', statement: 'SELECT 6 AS f', effect: 'allow' },
      { type: 'statement', sample: [['6']], params: [] },
      { type: 'session.close' },
    ]);
    assert.deepEqual(await t.gw.services.sessions.verify(info.id), { ok: true, events: events.length });
  });
});
