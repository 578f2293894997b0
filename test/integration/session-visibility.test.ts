import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Io } from '../../src/cli/args.ts';
import { sessionsList } from '../../src/cli/commands/sessions.ts';
import { exchangeEvents } from '../../src/recording/recording.case.ts';
import { StoreRecorder } from '../../src/recording/store-recorder.ts';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';

/**
 * Who sees which recorded sessions is a policy decision (`session.view` on `Session::"<id>"`,
 * issue 21 §4), through the admin API, the console's cookie and the CLI: an auditor group granted
 * every session of one connection sees those and its own; a reviewer (permitted review.approve)
 * sees only its own; the admin group sees all; another's session is 404 everywhere.
 */
describe('session visibility decided by policy', () => {
  let t: TestGateway;
  const keys: Record<string, string> = {};
  const at = Date.now() - 3_600_000;

  before(async () => {
    t = await startTestGateway({
      policies: `${TEST_POLICIES}
@id("auditors-see-crm")
permit (principal in Group::"auditors", action == Action::"session.view", resource)
when { resource has connection && resource.connection == "crm" };

@id("reviewers-approve")
permit (principal in Group::"reviewers", action == Action::"review.approve", resource);
`,
    });
    const rec = new StoreRecorder(t.gw.services.db, { clock: t.gw.services.clock, audit: t.gw.services.audit });
    const on = (connection: string, id: string, user: string, n: number): void => {
      for (const e of exchangeEvents(id, at + n * 60_000, { user })) rec.record({ ...e, connection });
    };
    on('crm', 's-crm-alice', 'alice', 1);
    on('crm', 's-crm-bob', 'bob', 2);
    on('openai', 's-llm-alice', 'alice', 3);
    on('openai', 's-audrey', 'audrey', 4);
    on('openai', 's-rita', 'rita', 5);
    await rec.flush();
    for (const [user, groups] of [['audrey', ['auditors']], ['rita', ['reviewers']]] as const) {
      const r = await t.api('POST', '/api/v1/api-keys', { user, groups });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      keys[user] = r.json.key as string;
    }
  });
  after(async () => { await t?.close(); });

  const list = async (token: string, query = ''): Promise<string[]> => {
    const r = await t.api('GET', `/api/v1/sessions${query}`, undefined, token);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return (r.json.items as { id: string }[]).map((s) => s.id);
  };
  const status = async (token: string, id: string, path = ''): Promise<number> => (await t.api('GET', `/api/v1/sessions/${id}${path}`, undefined, token)).status;

  test('an auditor of one connection sees all its sessions and its own, nothing else, in the list and each route', async () => {
    assert.deepEqual(await list(keys.audrey!), ['s-audrey', 's-crm-bob', 's-crm-alice']);
    assert.deepEqual(await list(keys.audrey!, '?user=alice'), ['s-crm-alice'], 'filters apply within what policy lets it see');
    assert.deepEqual(await list(keys.audrey!, '?limit=1'), ['s-audrey']);
    for (const p of ['', '/events', '/verify', '/export']) {
      assert.equal(await status(keys.audrey!, 's-crm-bob', p), 200, p);
      assert.equal(await status(keys.audrey!, 's-llm-alice', p), 404, `another connection's session is hidden (${p})`);
    }
    // The decision on one session is audited.
    const audit = (await t.api('GET', '/api/v1/audit?kind=policy.decision&user=audrey')).json as { items: { action: string; resource: string; outcome: string }[] };
    assert.ok(audit.items.some((e) => e.action === 'session.view' && e.resource === 'Session::s-crm-bob' && e.outcome === 'allow'), JSON.stringify(audit.items.slice(0, 3)));
  });

  test('a reviewer is not an auditor: only its own sessions; the admin group sees all', async () => {
    assert.deepEqual(await list(keys.rita!), ['s-rita']);
    assert.deepEqual(await list(keys.rita!, '?user=alice'), []);
    assert.equal(await status(keys.rita!, 's-rita'), 200);
    for (const id of ['s-crm-alice', 's-crm-bob', 's-llm-alice', 's-audrey']) assert.equal(await status(keys.rita!, id), 404);
    assert.deepEqual(await list(t.adminKey), ['s-rita', 's-audrey', 's-llm-alice', 's-crm-bob', 's-crm-alice']);
  });

  test('the console cookie gets the same decisions', async () => {
    const res = await fetch(`${t.url}/ui/auth/api-key`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: keys.audrey }) });
    assert.equal(res.status, 200);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    const get = (p: string): Promise<Response> => fetch(`${t.url}/api/v1/sessions${p}`, { headers: { cookie } });
    assert.deepEqual(((await (await get('')).json()) as { items: { id: string }[] }).items.map((s) => s.id), ['s-audrey', 's-crm-bob', 's-crm-alice']);
    assert.equal((await get('/s-crm-alice')).status, 200);
    assert.equal((await get('/s-llm-alice')).status, 404);
  });

  test('CLI: gatehouse sessions list as the auditor and as the reviewer', async () => {
    const run = async (token: string): Promise<string[]> => {
      const lines: string[] = [];
      const io: Io = { out: (l) => lines.push(l), err: () => undefined, env: { GATEHOUSE_URL: t.url, GATEHOUSE_TOKEN: token }, cwd: t.dir };
      assert.equal(await sessionsList.run(['--json'], io), 0);
      return (JSON.parse(lines[0]!) as { id: string }[]).map((s) => s.id);
    };
    assert.deepEqual(await run(keys.audrey!), ['s-audrey', 's-crm-bob', 's-crm-alice']);
    assert.deepEqual(await run(keys.rita!), ['s-rita']);
  });
});
