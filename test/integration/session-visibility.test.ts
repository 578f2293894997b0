import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Io } from '../../src/cli/args.ts';
import { sessionsList } from '../../src/cli/commands/sessions.ts';
import { exchangeEvents } from '../../src/recording/recording.case.ts';
import { StoreRecorder } from '../../src/recording/store-recorder.ts';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { mcpClient, resultText } from '../harness/mcp-client.ts';

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

async function token(url: string, form: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  return await res.json() as Record<string, unknown>;
}

/**
 * Review 10 F1/F2: the "own sessions" grant of the built-in policy and MCP's session tools agree.
 * An agent acting for alice sees only the sessions recorded with alice and that same agent — not
 * alice's own (agent-less) sessions, nor those of another agent acting for her; an agent acting
 * alone owns no session, even one named like a user (Agent::"alice" is not User::"alice"), and
 * what it does is recorded under no user.
 */
describe('own sessions: an agent acting for a user, an agent alone', () => {
  let t: TestGateway;
  const at = Date.now() - 3_600_000;
  let delegated = '';
  let agentAlice = '';
  let aliceKey = '';

  before(async () => {
    t = await startTestGateway({ policies: `${TEST_POLICIES}\n@id("mcp-use") permit (principal, action == Action::"mcp.call", resource);\n` });
    const rec = new StoreRecorder(t.gw.services.db, { clock: t.gw.services.clock, audit: t.gw.services.audit });
    const on = (id: string, n: number, who: { user?: string; agent?: string }): void => {
      for (const e of exchangeEvents(id, at + n * 60_000)) {
        rec.record({ session: e.session, protocol: e.protocol, type: e.type, at: e.at, data: e.data, connection: 'hr', ...who });
      }
    };
    on('s-alice-human', 1, { user: 'alice' });
    on('s-alice-via-report', 2, { user: 'alice', agent: 'report-bot' });
    on('s-alice-via-other', 3, { user: 'alice', agent: 'other-bot' });
    await rec.flush();
    aliceKey = (await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] })).json.key as string;
    const botKey = (await t.api('POST', '/api/v1/api-keys', { agent: 'report-bot', groups: ['agents'] })).json.key as string;
    const botJwt = (await token(t.url, { grant_type: 'client_credentials', client_secret: botKey })).access_token as string;
    delegated = (await token(t.url, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: aliceKey, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      actor_token: botJwt, actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    })).access_token as string;
    assert.ok(delegated, 'token exchange');
    agentAlice = (await t.api('POST', '/api/v1/api-keys', { agent: 'alice', groups: ['agents'] })).json.key as string;
  });
  after(async () => { await t?.close(); });

  const ids = async (tok: string): Promise<string[]> => {
    const r = await t.api('GET', '/api/v1/sessions', undefined, tok);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return (r.json.items as { id: string }[]).map((s) => s.id);
  };
  const status = async (tok: string, id: string, path = ''): Promise<number> => (await t.api('GET', `/api/v1/sessions/${id}${path}`, undefined, tok)).status;

  test('API: alice via report-bot sees only the sessions of alice with report-bot; alice herself sees all hers', async () => {
    assert.deepEqual(await ids(delegated), ['s-alice-via-report']);
    for (const p of ['', '/events', '/verify', '/export']) {
      assert.equal(await status(delegated, 's-alice-via-report', p), 200, p);
      assert.equal(await status(delegated, 's-alice-human', p), 404, `alice's own session is hidden from her agent (${p})`);
      assert.equal(await status(delegated, 's-alice-via-other', p), 404, `another agent's session for alice is hidden (${p})`);
    }
    assert.deepEqual(await ids(aliceKey), ['s-alice-via-other', 's-alice-via-report', 's-alice-human']);
  });

  test('MCP agrees: alice via report-bot lists and gets only her sessions with report-bot', async () => {
    const mcp = await mcpClient(t.url, delegated);
    try {
      const list = (await mcp.call('sessions_list', {})).structuredContent as { sessions: { id: string }[] };
      const listed = list.sessions.map((s) => s.id);
      assert.ok(listed.includes('s-alice-via-report'), JSON.stringify(listed));
      assert.ok(!listed.includes('s-alice-human') && !listed.includes('s-alice-via-other'), JSON.stringify(listed));
      assert.equal((await mcp.call('session_get', { session_id: 's-alice-human' })).isError, true);
      assert.equal((await mcp.call('session_get', { session_id: 's-alice-via-report' })).isError, undefined);
    } finally {
      await mcp.close();
    }
  });

  test('an agent alone named "alice" owns none of User::"alice"\'s sessions (API and MCP), and its MCP session names no user', async () => {
    assert.deepEqual(await ids(agentAlice), []);
    assert.equal(await status(agentAlice, 's-alice-human'), 404);
    const mcp = await mcpClient(t.url, agentAlice);
    try {
      const list = (await mcp.call('sessions_list', {})).structuredContent as { sessions: { id: string }[] };
      assert.deepEqual(list.sessions, []);
      const got = await mcp.call('session_get', { session_id: 's-alice-human' });
      assert.equal(got.isError, true, resultText(got).slice(0, 200));
    } finally {
      await mcp.close();
    }
    // What the agent did over MCP is recorded under the agent, with no user.
    await t.gw.services.recorder.settled?.();
    const mine = (await t.api('GET', '/api/v1/sessions?agent=alice')).json.items as { id: string; user?: string; agent?: string }[];
    assert.ok(mine.length > 0 && mine.every((s) => s.user === undefined && s.agent === 'alice'), JSON.stringify(mine));
    const hers = await ids(aliceKey);
    assert.ok(hers.includes('s-alice-human') && mine.every((s) => !hers.includes(s.id)), 'User::"alice" does not own the agent\'s sessions');
  });
});

/**
 * MCP's session tools decide with the admin API's policy path (src/enforce/session-view.ts): an
 * auditor granted `session.view` by a policy file sees through MCP what it sees through the API;
 * a user does not see another's session; an agent does not see another agent's.
 */
describe('MCP session tools: the same session.view decisions as the API', () => {
  let t: TestGateway;
  const keys: Record<string, string> = {};
  const at = Date.now() - 3_600_000;

  before(async () => {
    t = await startTestGateway({
      policies: `${TEST_POLICIES}
@id("auditors-see-crm")
permit (principal in Group::"auditors", action == Action::"session.view", resource)
when { resource has connection && resource.connection == "crm" };

@id("mcp-use") permit (principal, action == Action::"mcp.call", resource);
`,
    });
    const rec = new StoreRecorder(t.gw.services.db, { clock: t.gw.services.clock, audit: t.gw.services.audit });
    const on = (connection: string, id: string, n: number, who: { user?: string; agent?: string }): void => {
      for (const e of exchangeEvents(id, at + n * 60_000)) {
        rec.record({ session: e.session, protocol: e.protocol, type: e.type, at: e.at, data: e.data, connection, ...who });
      }
    };
    on('crm', 's-crm-alice', 1, { user: 'alice' });
    on('crm', 's-crm-bob', 2, { user: 'bob' });
    on('openai', 's-llm-alice', 3, { user: 'alice' });
    on('openai', 's-other-bot', 4, { agent: 'other-bot' });
    await rec.flush();
    for (const [who, body] of [
      ['audrey', { user: 'audrey', groups: ['auditors'] }], ['bob', { user: 'bob', groups: ['developers'] }], ['bot', { agent: 'report-bot', groups: ['agents'] }],
    ] as const) {
      const r = await t.api('POST', '/api/v1/api-keys', body);
      assert.equal(r.status, 201, JSON.stringify(r.json));
      keys[who] = r.json.key as string;
    }
  });
  after(async () => { await t?.close(); });

  const viaMcp = async (key: string, use: (mcp: Awaited<ReturnType<typeof mcpClient>>) => Promise<void>): Promise<void> => {
    const mcp = await mcpClient(t.url, key);
    try {
      await use(mcp);
    } finally {
      await mcp.close();
    }
  };
  const listed = async (mcp: Awaited<ReturnType<typeof mcpClient>>, args: Record<string, unknown> = {}): Promise<string[]> => {
    const r = await mcp.call('sessions_list', args);
    assert.notEqual(r.isError, true, resultText(r).slice(0, 300));
    return (r.structuredContent as { sessions: { id: string }[] }).sessions.map((s) => s.id);
  };

  test('an auditor granted session.view by a policy file sees the crm sessions through MCP, and nothing else of others', async () => {
    await viaMcp(keys.audrey!, async (mcp) => {
      const ids = await listed(mcp);
      assert.ok(ids.includes('s-crm-alice') && ids.includes('s-crm-bob'), JSON.stringify(ids));
      assert.ok(!ids.includes('s-llm-alice') && !ids.includes('s-other-bot'), JSON.stringify(ids));
      assert.deepEqual(await listed(mcp, { connection: 'crm' }), ['s-crm-bob', 's-crm-alice'], 'filters narrow within what policy shows');
      const got = await mcp.call('session_get', { session_id: 's-crm-bob' });
      assert.notEqual(got.isError, true, resultText(got).slice(0, 300));
      assert.equal((got.structuredContent as { session: { id: string } }).session.id, 's-crm-bob');
      const hidden = await mcp.call('session_get', { session_id: 's-llm-alice' });
      assert.equal(hidden.isError, true);
      assert.match(resultText(hidden), /^not_found: /);
    });
    // session_get's decision is audited, as the API's is.
    const audit = (await t.api('GET', '/api/v1/audit?kind=policy.decision&user=audrey')).json as { items: { action: string; resource: string; outcome: string }[] };
    assert.ok(audit.items.some((e) => e.action === 'session.view' && e.resource === 'Session::s-crm-bob' && e.outcome === 'allow'), JSON.stringify(audit.items.slice(0, 3)));
  });

  test('a user does not see another user\'s session through MCP', async () => {
    await viaMcp(keys.bob!, async (mcp) => {
      const ids = await listed(mcp);
      assert.ok(ids.includes('s-crm-bob'), JSON.stringify(ids));
      assert.ok(!ids.includes('s-crm-alice') && !ids.includes('s-llm-alice') && !ids.includes('s-other-bot'), JSON.stringify(ids));
      assert.equal((await mcp.call('session_get', { session_id: 's-crm-alice' })).isError, true);
      assert.notEqual((await mcp.call('session_get', { session_id: 's-crm-bob' })).isError, true);
    });
  });

  test('an agent does not see another agent\'s session through MCP', async () => {
    await viaMcp(keys.bot!, async (mcp) => {
      const ids = await listed(mcp);
      assert.ok(!ids.includes('s-other-bot'), JSON.stringify(ids));
      assert.equal((await mcp.call('session_get', { session_id: 's-other-bot' })).isError, true);
    });
  });

  test('sessions_list pages with before; a malformed before is a validation error', async () => {
    await viaMcp(keys.audrey!, async (mcp) => {
      assert.deepEqual(await listed(mcp, { before: new Date(at + 2 * 60_000).toISOString() }), ['s-crm-alice']);
      const bad = await mcp.call('sessions_list', { before: 'yesterday' });
      assert.equal(bad.isError, true);
      assert.match(resultText(bad), /^validation_failed: /);
    });
  });
});
