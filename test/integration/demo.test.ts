import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runProcess, type ProcessRun } from '../harness/run.ts';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { FAKE_SECRETS } from '../../demo/lib/steps.ts';
import { CUSTOMERS, sensitiveValues } from '../../demo/lib/seed.ts';
import { startFakeLlm, FAKE_OPENAI_KEY, type FakeLlm } from '../harness/fake-llm.ts';
import { getTestPostgres, type TestDatabase } from '../harness/postgres-server.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

type Run = ProcessRun;
interface Summary {
  readonly ok: boolean;
  readonly db: string;
  readonly model: string;
  readonly leaked: number;
  readonly steps: readonly { id: string; ok: boolean; failure?: string; detail: Record<string, unknown> }[];
}

/** Runs `node demo/run.ts <args>` as `npm run demo` does, with `env` on top of a clean environment. */
function runDemo(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const unset = new Set(['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'DEMO_PG_URL', 'DEMO_STEP_DELAY', 'DEMO_OPENAI_MODEL']);
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !unset.has(k)));
  return runProcess(process.execPath, ['--disable-warning=ExperimentalWarning', 'demo/run.ts', ...args], {
    cwd: ROOT, env: { ...base, NO_COLOR: '1', ...env },
  });
}

function summaryOf(r: Run): Summary {
  const last = r.out.trimEnd().split('\n').at(-1) ?? '';
  assert.match(last, /^\{"demo":"gatehouse"/, `the last line is the --json summary; stdout ends with: ${r.out.slice(-2000)}\nstderr: ${r.err}`);
  return JSON.parse(last) as Summary;
}

function step(s: Summary, id: string): Record<string, unknown> {
  const found = s.steps.find((x) => x.id === id);
  assert.ok(found, `step ${id} is in the summary`);
  assert.equal(found.ok, true, `step ${id}: ${found.failure ?? ''}`);
  return found.detail;
}

/** The output between a step's header and the next one. */
function section(out: string, title: string): string {
  const start = out.indexOf(title);
  assert.notEqual(start, -1, `"${title}" is printed`);
  const next = out.indexOf('\n-- ', start + title.length);
  return out.slice(start, next === -1 ? undefined : next);
}

/** Every check on the output of a successful run, whatever the database and model. */
function assertStory(r: Run, s: Summary): void {
  const failed = s.steps.filter((x) => !x.ok).map((x) => `${x.id}: ${x.failure ?? ''}`);
  assert.deepEqual(failed, [], 'every step had its expected outcome');
  assert.equal(r.code, 0, `exit code; stderr: ${r.err}`);
  assert.equal(s.ok, true);
  assert.doesNotMatch(r.err, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  for (const v of sensitiveValues()) assert.ok(!r.out.includes(v), `a seeded value was printed unmasked: ${v.slice(0, 3)}…`);
  assert.equal(s.leaked, 0);

  const read = section(r.out, 'Step 1/5: Read customer records');
  assert.match(read, /SELECT id, name, email, phone, card_number, notes FROM customers/);
  const tableRows = read.match(/^ +\d+ +\| [^|]+\| \[EMAIL\] \| \*{4}\d{4} +\| \*{4}\w{4} +\|/gm) ?? [];
  assert.equal(tableRows.length, CUSTOMERS.length, 'the rows the agent got, each with masked email, phone and card');
  assert.match(read, /sql\.read\s+on crm\s+→ ALLOW \(support-read\)/);
  assert.deepEqual(step(s, 'read'), { rows: CUSTOMERS.length, masked: true, leaked: 0 });

  const drop = section(r.out, 'Step 2/5: DROP TABLE from the agent');
  assert.match(drop, /agent → SQL\s+DROP TABLE customers/);
  assert.match(drop, /ERROR 42501: Gatehouse denied sql\.ddl on connection "crm": agents-no-ddl/);
  assert.match(drop, /the customers table is still there \(6 rows\)/);
  assert.deepEqual(step(s, 'drop'), { blocked: true, sqlstate: '42501', policy: 'agents-no-ddl', tableRows: CUSTOMERS.length });

  const del = section(r.out, 'Step 3/5: DELETE held for review');
  const review = /held the statement: review (rv_\w+) \(rule "crm-writes"\)/.exec(del)?.[1];
  assert.ok(review, 'the DELETE was held with a review id');
  const order = [`held the statement: review ${review}`, `dana (dba)    GET /api/v1/reviews → ${review}: alice via support-agent wants "DELETE FROM customers WHERE id = 5"`, `approved ${review}`, 'agent got     DELETE 1', 'customer 5 is gone'];
  let at = 0;
  for (const o of order) {
    const i = del.indexOf(o, at);
    assert.ok(i >= at, `"${o}" printed, in order`);
    at = i;
  }
  assert.deepEqual(step(s, 'delete'), { review, approvedBy: ['dana'], status: 'executed', executed: true, rowGone: true });

  const secret = section(r.out, 'Step 4/5: API key in a prompt');
  const saw = /model saw\s+(.*)/.exec(secret)?.[1] ?? '';
  assert.match(saw, /OPENAI_API_KEY=\[SECRET\] AWS_ACCESS_KEY_ID=\[SECRET\]/);
  for (const k of FAKE_SECRETS) assert.ok(!saw.includes(k), 'what the model saw has no key');
  const d = step(s, 'secret');
  assert.equal(d.redacted, true);
  assert.equal(d.keyArrived, false);
  for (const k of FAKE_SECRETS) assert.ok(!String(d.modelReceived).includes(k));

  const replay = section(r.out, 'Step 5/5: Replay the recorded sessions');
  assert.match(replay, /gatehouse sessions replay \S+ {3}\(the agent's database session\)/);
  // One `statement` event per PostgreSQL statement: its text, then its decision (docs/design/recording.md).
  assert.match(replay, /#\d+ statement alice\/support-agent\n {6}DROP TABLE customers\n {6}decision: deny: agents-no-ddl/);
  assert.match(replay, /review: support-write-with-review, review:crm-writes/);
  assert.match(replay, /"tag":"DELETE 1"/);
  assert.match(replay, /user: Our nightly export fails with this config: OPENAI_API_KEY=\[SECRET\]/);
  // Each model call is one event naming its exchange: request (its last message), decision, status, answer.
  assert.match(replay, /#\d+ exchange \(exchange \d+\) alice\/support-agent\n {6}POST \/v1\/chat\/completions\n {6}user: Our nightly export/);
  assert.match(replay, /#\d+ exchange \(exchange 1\) alice\/support-agent\n {6}POST [^\n]+\n(?: {6}[^\n]*\n)*? {6}decision: allow[^\n]*\n {6}200\n {6}assistant/);
  assert.equal((replay.match(/hash chain intact/g) ?? []).length, 2);
  assert.deepEqual({ replayed: step(s, 'replay').replayed, intact: step(s, 'replay').intact }, { replayed: 2, intact: 2 });
}

describe('npm run demo, end to end (child process)', () => {
  test('--help explains the flags; an unknown flag is a usage error', async () => {
    const help = await runDemo(['--help']);
    assert.equal(help.code, 0);
    for (const f of ['--quiet', '--json', '--verbose', 'DEMO_STEP_DELAY', 'DEMO_PG_URL', 'OPENAI_API_KEY']) assert.ok(help.out.includes(f), f);
    const bad = await runDemo(['--nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--nope/);
  });

  test('on PGlite with the local demo model: every step has its expected outcome', async () => {
    const r = await runDemo(['--quiet', '--json']);
    const s = summaryOf(r);
    assert.equal(s.db, 'pglite');
    assert.equal(s.model, 'scripted');
    assertStory(r, s);
    assert.match(r.out, /the demo model received: "Our nightly export fails/);
  });

  describe('with OPENAI_API_KEY: the model is an OpenAI-compatible API (here the faithful fake of test/harness)', () => {
    let fake: FakeLlm;
    before(async () => { fake = await startFakeLlm(); });
    after(async () => { await fake.close(); });

    test('the scripted steps still run; the upstream never sees a key, a seeded value or the agent\'s credential', async () => {
      // DEMO_STEP_DELAY=0 instead of --quiet: no pauses either way.
      const r = await runDemo(['--json'], { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: `${fake.url}/v1`, DEMO_STEP_DELAY: '0' });
      const s = summaryOf(r);
      assert.equal(s.model, 'openai');
      assertStory(r, s);
      assert.ok(fake.received.length >= 4, 'one model call per step');
      for (const got of fake.received) {
        assert.equal(got.headers.authorization, `Bearer ${FAKE_OPENAI_KEY}`, 'the vaulted key, injected by the gateway');
        for (const k of FAKE_SECRETS) assert.ok(!got.body.includes(k), 'no key left the gateway');
        for (const v of sensitiveValues()) assert.ok(!got.body.includes(v), 'no seeded value left the gateway');
      }
      assert.ok(fake.received.some((g) => g.body.includes('OPENAI_API_KEY=[SECRET] AWS_ACCESS_KEY_ID=[SECRET]')));
    });
  });
});

const server = await getTestPostgres();
if (server) {
  await server.stop();
  describe('npm run demo with DEMO_PG_URL (a real PostgreSQL server)', () => {
    let db: TestDatabase;
    before(async () => {
      const d = await getTestPostgres();
      if (!d) throw new Error('the PostgreSQL server went away');
      db = d;
    });
    after(async () => { await db.stop(); });

    test('the demo runs on that database, and the approved DELETE really removed customer 5 there', async () => {
      const r = await runDemo(['--quiet', '--json'], { DEMO_PG_URL: db.url });
      const s = summaryOf(r);
      assert.equal(s.db, 'postgres');
      assertStory(r, s);
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const ids = (await c.query<{ id: number }>('SELECT id FROM customers ORDER BY id')).rows.map((x) => x.id);
        assert.deepEqual(ids, [1, 2, 3, 4, 6]);
      } finally {
        await c.end();
      }
    });

    test('a customers table the demo did not create is never touched', async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        await c.query('DROP TABLE IF EXISTS customers; CREATE TABLE customers (id int); INSERT INTO customers VALUES (42)');
        const r = await runDemo(['--quiet'], { DEMO_PG_URL: db.url });
        assert.equal(r.code, 1);
        assert.match(r.err, /already has a customers table the demo did not create/);
        assert.deepEqual((await c.query<{ id: number }>('SELECT id FROM customers')).rows, [{ id: 42 }]);
      } finally {
        await c.end();
      }
    });
  });
}
