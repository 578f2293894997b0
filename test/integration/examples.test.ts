import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runProcess, type ProcessRun } from '../harness/run.ts';
import { globSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { startPgliteServer, type PgliteServer } from '../harness/pglite-server.ts';
import { startDemoModel, type DemoModel } from '../../demo/lib/demo-model.ts';
import { seedSql, sensitiveValues } from '../../demo/lib/seed.ts';
import { PolicyEngine, PolicyLoadError } from '../../src/policy/engine.ts';
import { ReviewRules } from '../../src/policy/review-rules.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { AccessRequest, Facts } from '../../src/policy/request.ts';
import type { Principal } from '../../src/identity/principal.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const PY = '/usr/bin/python3';
const MODEL_KEY = 'examples-test-model-key';

type Run = ProcessRun;

function run(cmd: string, args: readonly string[], env: Record<string, string>): Promise<Run> {
  return runProcess(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30_000 });
}

function assertNoSeed(text: string): void {
  for (const v of sensitiveValues()) assert.ok(!text.includes(v), `an unmasked seeded value reached the client: ${v.slice(0, 3)}…`);
}

describe('examples/ against a real gateway (PGlite database, scripted OpenAI-compatible model)', () => {
  let up: PgliteServer;
  let model: DemoModel;
  let t: TestGateway;
  let env: Record<string, string>;

  before(async () => {
    // Content rules only: a column rule's first catalog lookup on a PGlite upstream waits for the
    // client's own open transaction (PGlite is one backend), which psycopg and SQLAlchemy always
    // open. Column rules are covered by the demo test and the PostgreSQL data-path tests.
    up = await startPgliteServer(seedSql());
    model = await startDemoModel({ apiKey: MODEL_KEY });
    t = await startTestGateway({
      policies: `${TEST_POLICIES}
@id("developers-models") permit (principal in Group::"developers", action == Action::"llm.invoke", resource);`,
      yaml: `
connections:
  - { name: app, type: postgres, url: "${up.url}" }
  - { name: openai, type: llm, provider: openai-compatible, url: "${model.url}", credentials: { api_key: "${MODEL_KEY}" } }
masking:
  rules:
    - { connections: ["*"], direction: both, entities: [EMAIL, CREDIT_CARD, SECRET] }
`,
    });
    const created = await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'], agent: 'report-bot' });
    assert.equal(created.status, 201);
    env = {
      GATEHOUSE_KEY: created.json.key as string, GATEHOUSE_URL: t.url, GATEHOUSE_PG_HOST: t.postgres.host,
      GATEHOUSE_PG_PORT: String(t.postgres.port), GATEHOUSE_PG_DATABASE: 'app', GATEHOUSE_LLM_CONNECTION: 'openai', GATEHOUSE_MODEL: 'any',
    };
  });
  after(async () => {
    await t.close();
    await model.close();
    await up.stop();
  });

  test('langchain-js/agent.ts: the model asks for SQL, the rows come back masked, the model never sees a seeded value', async () => {
    const r = await run(process.execPath, ['--disable-warning=ExperimentalWarning', 'examples/langchain-js/agent.ts', 'List our customers'], env);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\[run_sql\] SELECT id, name, email, phone, card_number, notes FROM customers ORDER BY id\n {2}\[result\] SELECT 6/);
    assert.match(r.out, /"email":"\[EMAIL\]","phone":"\+1 415 555 0142","card_number":"\[CREDIT_CARD\]"/);
    assert.match(r.out, /^answer: The database returned 6 rows:/m);
    assertNoSeed(r.out);
    assertNoSeed(model.received.map((x) => x.body).join('\n'));
    assert.ok(model.received.every((x) => x.authorized), 'the gateway injected the model key');
  });

  test('langchain-js/agent.ts: a DROP TABLE the model asks for is refused by policy, and the agent is told why', async () => {
    const r = await run(process.execPath, ['--disable-warning=ExperimentalWarning', 'examples/langchain-js/agent.ts', 'Drop the customers table'], env);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\[error\] {2}42501 Gatehouse denied sql\.ddl on connection "app": agents-no-writes/);
    assert.match(r.out, /answer: I could not do that\./);
  });

  test('python/psycopg_example.py: masked rows; a write denied with SQLSTATE 42501 naming the policy', async () => {
    const ok = await run(PY, ['examples/python/psycopg_example.py', 'SELECT id, email, card_number FROM customers WHERE id <= 2 ORDER BY id'], env);
    assert.equal(ok.code, 0, ok.err);
    assert.deepEqual(ok.out.trim().split('\n'), ['id | email | card_number', '1 | [EMAIL] | [CREDIT_CARD]', '2 | [EMAIL] | [CREDIT_CARD]']);
    const denied = await run(PY, ['examples/python/psycopg_example.py', 'DELETE FROM customers WHERE id = 1'], env);
    assert.equal(denied.code, 1);
    assert.match(denied.err, /^Gatehouse refused the statement: Gatehouse denied sql\.write on connection "app": agents-no-writes$/m);
  });

  test('python/sqlalchemy_example.py: masked rows; a write denied naming the policy', async () => {
    const ok = await run(PY, ['examples/python/sqlalchemy_example.py', 'SELECT name, notes FROM customers WHERE id = 4'], env);
    assert.equal(ok.code, 0, ok.err);
    assert.deepEqual(ok.out.trim().split('\n'), ['name | notes', 'Katherine Johnson | Asked us to stop calling; use [EMAIL]']);
    const denied = await run(PY, ['examples/python/sqlalchemy_example.py', 'DROP TABLE customers'], env);
    assert.equal(denied.code, 1);
    assert.match(denied.err, /Gatehouse refused the statement: .*agents-no-writes/);
    const usage = await run(PY, ['examples/python/sqlalchemy_example.py'], { GATEHOUSE_KEY: '' });
    assert.equal(usage.code, 2);
  });

  test('every Python example compiles (py_compile)', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'gh-pycache-'));
    try {
      const files = globSync('examples/**/*.py', { cwd: ROOT });
      assert.ok(files.length >= 2);
      const r = await run(PY, ['-m', 'py_compile', ...files], { PYTHONPYCACHEPREFIX: cache });
      assert.equal(r.code, 0, r.err);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

describe('examples/policies: every file passes the schema validation and does what its README says', () => {
  const files = globSync(join(EXAMPLES, 'policies', '*.cedar'));
  const engines = new Map<string, PolicyEngine>();

  test('each *.cedar loads with the PolicyEngine (a broken copy does not: the check can fail)', () => {
    assert.ok(files.length >= 4, 'the four example rules are there');
    for (const f of files) {
      try {
        engines.set(basename(f), PolicyEngine.fromFiles([f]));
      } catch (err) {
        assert.fail(`${basename(f)}: ${err instanceof PolicyLoadError ? err.errors.map((e) => `${e.line ?? '?'}: ${e.message}`).join('; ') : String(err)}`);
      }
    }
    const broken = readFileSync(files[0]!, 'utf8').replace(/context\.(sql|time)\.(\w+)/, 'context.$1.no_such_attribute');
    assert.throws(() => PolicyEngine.fromSources([{ file: 'broken.cedar', text: broken }]), PolicyLoadError);
  });

  test('ddl-review-rule.yaml is a valid configuration fragment whose rule compiles', () => {
    const config = loadConfig({ text: readFileSync(join(EXAMPLES, 'policies', 'ddl-review-rule.yaml'), 'utf8') });
    assert.equal(config.reviews.rules[0]?.name, 'ddl-needs-dba');
    assert.doesNotThrow(() => new ReviewRules(config.reviews.rules));
  });

  const alice: Principal = { kind: 'user', id: 'alice', groups: ['developers'], via: 'api_key' };
  const aliceViaBot: Principal = { ...alice, agent: { id: 'bot', groups: ['agents'] } };
  const db = { kind: 'connection', name: 'app', type: 'postgres', tags: [] } as const;
  const sql = (kinds: string[], more: Partial<NonNullable<Facts['sql']>> = {}): Facts => ({
    sql: { kinds, tables: ['customers'], functions: [], dangerous_functions: [], statements: 1, has_where: true, data_modifying_cte: false, do_block: false, copy_program: false, ...more },
  });
  const decide = (file: string, r: Omit<AccessRequest, 'at'> & { at?: number }): { effect: string; reasons: readonly string[] } => {
    const engine = engines.get(file);
    assert.ok(engine, `${file} loaded`);
    return engine.decide({ at: Date.UTC(2026, 0, 6, 10), ...r }); // a Tuesday, 10:00 UTC
  };

  test('read-only-agents: an agent reads, never writes; a read hiding a write is refused', () => {
    assert.equal(decide('read-only-agents.cedar', { principal: aliceViaBot, action: 'sql.read', resource: db, facts: sql(['select']) }).effect, 'allow');
    assert.deepEqual(decide('read-only-agents.cedar', { principal: aliceViaBot, action: 'sql.write', resource: db, facts: sql(['delete']) }).reasons, ['agents-read-only']);
    assert.deepEqual(decide('read-only-agents.cedar', { principal: aliceViaBot, action: 'sql.read', resource: db, facts: sql(['select'], { data_modifying_cte: true }) }).reasons, ['agents-no-side-effects']);
    // A protected column as a filter is an equality oracle: refused to agents, not to people.
    const oracle = sql(['select'], { protected_filters: ['customers.phone', 'public.customers.phone'] });
    assert.deepEqual(decide('read-only-agents.cedar', { principal: aliceViaBot, action: 'sql.read', resource: db, facts: oracle }).reasons, ['agents-no-protected-oracles']);
    assert.equal(decide('read-only-agents.cedar', { principal: aliceViaBot, action: 'sql.read', resource: db, facts: sql(['select'], { protected_reads: ['customers.phone'] }) }).effect, 'allow');
  });

  test('no-pii-to-external-models: personal data only to "internal" models; secrets to none', () => {
    const llm = (pii: string[], secrets: string[]): Facts => ({ llm: { provider: 'openai', endpoint: '/v1/chat/completions', model: 'm', stream: false, tools: [], secret_types: secrets, pii_types: pii, findings: pii.length + secrets.length } });
    const external = { kind: 'connection', name: 'openai', type: 'llm', attrs: { provider: 'openai' }, tags: [] } as const;
    const internal = { ...external, name: 'local', tags: ['internal'] };
    assert.deepEqual(decide('no-pii-to-external-models.cedar', { principal: alice, action: 'llm.invoke', resource: external, facts: llm(['EMAIL'], []) }).reasons, ['no-pii-to-external-models']);
    assert.deepEqual(decide('no-pii-to-external-models.cedar', { principal: alice, action: 'llm.invoke', resource: internal, facts: llm(['EMAIL'], []) }).reasons, ['default-deny'], 'not forbidden (and not permitted by this file alone)');
    assert.deepEqual(decide('no-pii-to-external-models.cedar', { principal: alice, action: 'llm.invoke', resource: internal, facts: llm([], ['SECRET']) }).reasons, ['no-secrets-to-models']);
  });

  test('ddl-needs-dba-approval: developers may change schemas (then the review rule holds it); dba approves', () => {
    assert.deepEqual(decide('ddl-needs-dba-approval.cedar', { principal: alice, action: 'sql.ddl', resource: db, facts: sql(['create_table']) }), { effect: 'allow', reasons: ['developers-ddl-with-approval'], errors: [] });
    assert.equal(decide('ddl-needs-dba-approval.cedar', { principal: { ...alice, id: 'dana', groups: ['dba'] }, action: 'review.approve', resource: db, facts: {} }).effect, 'allow');
  });

  test('business-hours: a write on Tuesday 10:00 UTC is not forbidden; on Saturday or at 19:00 it is', () => {
    const write = { principal: alice, action: 'sql.write', resource: db, facts: sql(['update']) } as const;
    assert.deepEqual(decide('business-hours.cedar', write).reasons, ['default-deny'], 'not forbidden on a weekday in hours');
    assert.deepEqual(decide('business-hours.cedar', { ...write, at: Date.UTC(2026, 0, 10, 10) }).reasons, ['writes-in-business-hours-only']);
    assert.deepEqual(decide('business-hours.cedar', { ...write, at: Date.UTC(2026, 0, 6, 19) }).reasons, ['writes-in-business-hours-only']);
    assert.deepEqual(decide('business-hours.cedar', { principal: aliceViaBot, action: 'llm.invoke', resource: { kind: 'connection', name: 'openai', type: 'llm', tags: [] }, facts: {}, at: Date.UTC(2026, 0, 11, 3) }).reasons, ['agents-use-models-in-business-hours']);
  });
});
