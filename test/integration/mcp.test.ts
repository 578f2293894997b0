import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';
import { startFakeLlm, FAKE_OPENAI_KEY, type FakeLlm } from '../harness/fake-llm.ts';
import { startOidcProvider, type OidcProviderHarness } from '../harness/oidc-provider.ts';
import { mcpClient, resultText, type McpTestClient } from '../harness/mcp-client.ts';
import { TOOL_NAMES } from '../../src/protocols/mcp/tools/index.ts';

const POLICIES = `
@id("mcp-tools")
permit (principal, action == Action::"mcp.call", resource);

@id("developers-read-crm")
permit (principal in Group::"developers", action == Action::"sql.read", resource == Connection::"crm");

@id("developers-write-crm")
permit (principal in Group::"developers", action == Action::"sql.write", resource == Connection::"crm");

@id("developers-ddl")
permit (principal in Group::"developers", action == Action::"sql.ddl", resource);

@id("no-drop-via-agents")
forbid (principal, action == Action::"sql.ddl", resource) when { context has agent };

@id("dba-approves")
permit (principal in Group::"dba", action == Action::"review.approve", resource);

@id("developers-use-models")
permit (principal in Group::"developers", action == Action::"llm.invoke", resource);

@id("developers-call-apis")
permit (principal in Group::"developers", action == Action::"http.request", resource);

@id("http-no-delete")
forbid (principal, action == Action::"http.request", resource) when { context has http && context.http.method == "DELETE" };

@id("no-secrets-to-llm")
forbid (principal, action == Action::"llm.invoke", resource)
when { context has llm && !context.llm.secret_types.isEmpty() };
`;

const INIT = `
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card text);
INSERT INTO customers VALUES
  (1, 'Ada', 'ada@example.com', '4111 1111 1111 1111'),
  (2, 'Grace', 'grace@example.org', '5500 0000 0000 0004');
CREATE TABLE items (id int, label text);
`;

const EMAILS = ['ada@example.com', 'grace@example.org'];
const CARDS = ['4111 1111 1111 1111', '5500 0000 0000 0004', '4111111111111111'];
const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';

describe('MCP server at /mcp (SDK client, real PostgreSQL, fake OpenAI upstream, real OIDC provider)', { skip: await pgSkip() }, () => {
  let db: TestDatabase;
  let fake: FakeLlm;
  let idp: OidcProviderHarness;
  let t: TestGateway;
  let aliceKey: string;
  let bobKey: string;
  let alice: McpTestClient;
  let bob: McpTestClient;

  before(async () => {
    const d = await getTestPostgres();
    assert.ok(d, 'pgSkip promised a PostgreSQL server');
    db = d;
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try { await c.query(INIT); } finally { await c.end(); }
    const u = new URL(db.url);
    const password = decodeURIComponent(u.password);
    u.password = '';
    fake = await startFakeLlm();
    idp = await startOidcProvider({ audience: 'https://gatehouse.test/api', groups: ['developers'] });
    t = await startTestGateway({
      policies: POLICIES,
      env: { CRM_PASSWORD: password },
      yaml: [
        'identity:',
        `  issuers: [ { issuer: "${idp.issuer}", audience: "https://gatehouse.test/api", groups_claim: groups } ]`,
        'connections:',
        `  - { name: crm, type: postgres, url: "${u.toString()}", credentials: { password: "\${CRM_PASSWORD}" }, description: "Customer database" }`,
        `  - { name: hr, type: postgres, url: "${u.toString()}", credentials: { password: "\${CRM_PASSWORD}" } }`,
        `  - { name: openai, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`,
        `  - { name: api, type: http, url: "${fake.url}/base", credentials: { bearer: "upstream-bearer-token" } }`,
        'masking:',
        '  rules:',
        '    - { connections: [api], direction: response, entities: [EMAIL], strategy: redact }',
        '    - { connections: [crm], direction: response, entities: [EMAIL, CREDIT_CARD], strategy: redact }',
        '    - { connections: [openai], direction: both, entities: [EMAIL, CREDIT_CARD], strategy: redact }',
        'reviews:',
        '  hold_timeout: 1s',
        '  rules:',
        '    - { name: crm-writes, connections: [crm], actions: [sql.write], kind: command, approvers: [dba] }',
        `    - { name: llm-review, connections: [openai], actions: [llm.invoke], kind: command, approvers: [dba], when: 'context.llm.model == "gpt-review"' }`,
        `    - { name: mcp-describe, connections: [openai], actions: [mcp.call], kind: command, approvers: [dba], when: 'context.mcp.tool == "describe_connection"' }`,
      ].join('\n'),
    });
    const mk = async (body: Record<string, unknown>): Promise<string> => {
      const r = await t.api('POST', '/api/v1/api-keys', body);
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json.key as string;
    };
    aliceKey = await mk({ user: 'alice', agent: 'claude', groups: ['developers'] });
    bobKey = await mk({ user: 'bob', groups: ['dba'] });
    alice = await mcpClient(t.url, aliceKey);
    bob = await mcpClient(t.url, bobKey);
  });

  after(async () => {
    await alice.close();
    await bob.close();
    await t.close();
    await fake.close();
    await idp.stop();
    await db.stop();
  });

  test('an unauthenticated request gets 401 with WWW-Authenticate naming the resource metadata; the metadata document', async () => {
    const res = await fetch(`${t.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(res.status, 401);
    const metadataUrl = `${t.url}/.well-known/oauth-protected-resource/mcp`;
    assert.equal(res.headers.get('www-authenticate'), `Bearer resource_metadata="${metadataUrl}"`);
    const body = await res.json() as { jsonrpc: string; error: { code: number; data: { code: string } } };
    assert.equal(body.jsonrpc, '2.0');
    assert.equal(body.error.data.code, 'unauthenticated');

    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const m = await fetch(t.url + path);
      assert.equal(m.status, 200);
      const doc = await m.json() as Record<string, unknown>;
      assert.equal(doc.resource, `${t.url}/mcp`);
      assert.deepEqual(doc.authorization_servers, [t.url, idp.issuer]);
      assert.deepEqual(doc.bearer_methods_supported, ['header']);
    }
    // The built-in issuer named there publishes its RFC 8414 metadata.
    const as = await fetch(`${t.url}/.well-known/oauth-authorization-server`);
    assert.equal(((await as.json()) as Record<string, unknown>).issuer, t.url);

    // The SDK client without a credential cannot connect.
    const anon = new Client({ name: 'anon', version: '1' });
    await assert.rejects(anon.connect(new StreamableHTTPClientTransport(new URL(`${t.url}/mcp`))), (e: { code?: unknown }) => e.code === 401);

    // A wrong key: 401 with error="invalid_token" in the challenge.
    const bad = await fetch(`${t.url}/mcp`, { method: 'POST', headers: { authorization: 'Bearer ghk_nope', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get('www-authenticate') ?? '', /^Bearer resource_metadata="[^"]+", error="invalid_token"/);
  });

  test('transport faults: foreign Host refused, GET/DELETE 405 with Allow, body over the limit 413, bad JSON -32700', async () => {
    const auth = { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const { request } = await import('node:http');
    const foreign = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${t.url}/mcp`);
      const r = request({ host: u.hostname, port: u.port, path: '/mcp', method: 'POST', headers: { ...auth, host: 'evil.example' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      r.on('error', reject);
      r.end('{}');
    });
    assert.equal(foreign, 421);
    const cross = await fetch(`${t.url}/mcp`, { method: 'POST', headers: { ...auth, origin: 'https://evil.example' }, body: '{}' });
    assert.equal(cross.status, 403);
    for (const method of ['GET', 'DELETE']) {
      const r = await fetch(`${t.url}/mcp`, { method, headers: { authorization: `Bearer ${aliceKey}` } });
      assert.equal(r.status, 405);
      assert.equal(r.headers.get('allow'), 'POST');
    }
    const big = await fetch(`${t.url}/mcp`, { method: 'POST', headers: auth, body: `{"x":"${'a'.repeat(11 * 1024 * 1024)}"}` });
    assert.equal(big.status, 413);
    const junk = await fetch(`${t.url}/mcp`, { method: 'POST', headers: auth, body: '{nope' });
    assert.equal(junk.status, 400);
    assert.equal(((await junk.json()) as { error: { code: number } }).error.code, -32700);
  });

  test('tools/list: every tool, each with an input and an output schema and a description', async () => {
    const { tools } = await alice.client.listTools();
    assert.deepEqual(tools.map((x) => x.name).sort(), [...TOOL_NAMES].sort());
    for (const tool of tools) {
      assert.equal(tool.inputSchema.type, 'object', tool.name);
      assert.equal(tool.outputSchema?.type, 'object', tool.name);
      assert.ok((tool.description ?? '').length > 80, `${tool.name} has a description for an LLM`);
    }
  });

  test('whoami: the principal, its groups, the acting agent and how it authenticated', async () => {
    const r = await alice.call('whoami');
    assert.notEqual(r.isError, true, resultText(r));
    const s = r.structuredContent as Record<string, unknown>;
    assert.equal(s.status, 'ok');
    assert.equal(s.user, 'alice');
    assert.deepEqual(s.groups, ['developers']);
    assert.deepEqual(s.agent, { id: 'claude', groups: [] });
    assert.equal(s.via, 'api_key');
  });

  test('list_connections shows only what policy lets the caller use; describe_connection reads the catalog', async () => {
    const r = await alice.call('list_connections');
    const names = (r.structuredContent as { connections: { name: string; actions: string[] }[] }).connections;
    assert.deepEqual(names.map((c) => c.name), ['api', 'crm', 'openai'], 'hr (no permit for alice) is hidden');
    // sql.ddl is permitted to developers but forbidden when an agent acts: alice acts through claude.
    assert.deepEqual(names.find((c) => c.name === 'crm')?.actions, ['sql.read', 'sql.write']);
    const none = await bob.call('list_connections');
    assert.deepEqual((none.structuredContent as { connections: unknown[] }).connections, []);

    const d = await alice.call('describe_connection', { connection: 'crm' });
    assert.notEqual(d.isError, true, resultText(d));
    const schemas = (d.structuredContent as { schemas: { name: string; tables: { name: string; columns: { name: string; type: string }[] }[] }[] }).schemas;
    const customers = schemas.find((s) => s.name === 'public')?.tables.find((x) => x.name === 'customers');
    assert.deepEqual(customers?.columns.map((c) => `${c.name}:${c.type}`), ['id:integer', 'name:text', 'email:text', 'card:text']);
    const hidden = await alice.call('describe_connection', { connection: 'hr' });
    assert.equal(hidden.isError, true);
    assert.match(resultText(hidden), /not_found/);
  });

  test('query returns masked rows: no email or card number appears unmasked anywhere in the raw answer', async () => {
    const r = await alice.call('query', { connection: 'crm', sql: 'SELECT id, name, email, card FROM customers ORDER BY id' });
    assert.notEqual(r.isError, true, resultText(r));
    const s = r.structuredContent as { results: { command: string; rows: (string | null)[][]; columns: { name: string }[] }[] };
    assert.equal(s.results[0]?.command, 'SELECT 2');
    assert.deepEqual(s.results[0]?.columns.map((c) => c.name), ['id', 'name', 'email', 'card']);
    assert.deepEqual(s.results[0]?.rows.map((row) => row.slice(0, 3)), [['1', 'Ada', '[EMAIL]'], ['2', 'Grace', '[EMAIL]']]);
    assert.equal(s.results[0]?.rows[0]?.[3], '[CREDIT_CARD]');
    const raw = JSON.stringify(r);
    for (const secret of [...EMAILS, ...CARDS]) assert.ok(!raw.includes(secret), `${secret} leaked`);

    // The bytes on the wire (SSE) too.
    const wire = await rawCall(t.url, aliceKey, 'query', { connection: 'crm', sql: 'SELECT * FROM customers' });
    assert.match(wire, /\[EMAIL\]/);
    for (const secret of [...EMAILS, ...CARDS]) assert.ok(!wire.includes(secret), `${secret} leaked on the wire`);
  });

  test('max_rows caps the rows returned and says so', async () => {
    const r = await alice.call('query', { connection: 'crm', sql: 'SELECT g FROM generate_series(1, 5000) g', max_rows: 3 });
    const s = r.structuredContent as { truncated: boolean; results: { rows: unknown[]; row_count: number; command: string }[] };
    assert.equal(s.truncated, true);
    assert.equal(s.results[0]?.rows.length, 3);
    assert.equal(s.results[0]?.row_count, 5000);
    assert.equal(s.results[0]?.command, 'SELECT 5000');
  });

  test('a denied query (DROP TABLE by an agent) is an isError result naming the policy; unparseable SQL is denied', async () => {
    const r = await alice.call('query', { connection: 'crm', sql: 'DROP TABLE customers' });
    assert.equal(r.isError, true);
    assert.match(resultText(r), /policy_denied: .*sql\.ddl.*no-drop-via-agents/);
    const bad = await alice.call('query', { connection: 'crm', sql: 'SELEC * FRM customers' });
    assert.equal(bad.isError, true);
    assert.match(resultText(bad), /could not be parsed/);
    const still = await alice.call('query', { connection: 'crm', sql: 'SELECT count(*) FROM customers' });
    assert.equal((still.structuredContent as { results: { rows: string[][] }[] }).results[0]?.rows[0]?.[0], '2');
    const upstream = await alice.call('query', { connection: 'crm', sql: 'SELECT * FROM nope' });
    assert.equal(upstream.isError, true);
    assert.match(resultText(upstream), /upstream_error: PostgreSQL error 42P01/);
  });

  test('a write under a review rule is pending_approval; a second principal approves; review_wait returns the result once', async () => {
    const insert = "INSERT INTO items VALUES (1, 'approved once')";
    const r = await alice.call('query', { connection: 'crm', sql: insert, justification: 'ticket 7' });
    assert.notEqual(r.isError, true, resultText(r));
    const pending = r.structuredContent as { status: string; review_id: string; message: string };
    assert.equal(pending.status, 'pending_approval');
    assert.match(pending.review_id, /^rv_/);
    assert.match(pending.message, /review_wait/);

    // Still pending: review_wait answers pending_approval again, with progress notifications.
    const progress: number[] = [];
    const early = await alice.call('review_wait', { review_id: pending.review_id, timeout_seconds: 1 }, (p) => progress.push(p.progress));
    assert.equal((early.structuredContent as { status: string }).status, 'pending_approval');
    assert.ok(progress.length >= 1, 'progress notifications were sent while waiting');

    // Listing: the approver sees it, with the masked summary and the justification.
    const listed = await bob.call('reviews_list', { status: 'pending' });
    const item = (listed.structuredContent as { reviews: { id: string; summary: string; justification?: string }[] }).reviews.find((x) => x.id === pending.review_id);
    assert.ok(item);
    assert.match(item.summary, /INSERT INTO items/);
    assert.equal(item.justification, 'ticket 7');

    // Self-approval is refused; bob (dba) approves through MCP.
    const self = await alice.call('review_approve', { review_id: pending.review_id });
    assert.equal(self.isError, true);
    assert.match(resultText(self), /policy_denied: .*own/);
    const ok = await bob.call('review_approve', { review_id: pending.review_id, comment: 'fine' });
    assert.notEqual(ok.isError, true, resultText(ok));
    assert.equal((ok.structuredContent as { review: { status: string } }).review.status, 'approved');

    const done = await alice.call('review_wait', { review_id: pending.review_id });
    assert.notEqual(done.isError, true, resultText(done));
    const s = done.structuredContent as { status: string; tool: string; result: { results: { command: string }[] } };
    assert.equal(s.status, 'ok');
    assert.equal(s.tool, 'query');
    assert.equal(s.result.results[0]?.command, 'INSERT 0 1');

    // Not twice: a second wait says it already ran; re-sending asks for a new review.
    const again = await alice.call('review_wait', { review_id: pending.review_id });
    assert.equal(again.isError, true);
    assert.match(resultText(again), /already ran once/);
    const resend = await alice.call('query', { connection: 'crm', sql: insert, justification: 'ticket 7' });
    const second = resend.structuredContent as { status: string; review_id: string };
    assert.equal(second.status, 'pending_approval');
    assert.notEqual(second.review_id, pending.review_id);
    const count = await alice.call('query', { connection: 'crm', sql: 'SELECT count(*) FROM items' });
    assert.equal((count.structuredContent as { results: { rows: string[][] }[] }).results[0]?.rows[0]?.[0], '1');

    // A denial ends it with the reason.
    const denied = await bob.call('review_deny', { review_id: second.review_id, reason: 'not twice' });
    assert.notEqual(denied.isError, true, resultText(denied));
    const after = await alice.call('review_wait', { review_id: second.review_id });
    assert.equal(after.isError, true);
    assert.match(resultText(after), /denied by user:bob: not twice/);
  });

  test('an OIDC token whose audience is the MCP resource works; a wrong audience is refused; the MCP audience does not open other routes', async () => {
    const mcpToken = await idp.getToken(`${t.url}/mcp`);
    const c = await mcpClient(t.url, mcpToken);
    try {
      const r = await c.call('whoami');
      const s = r.structuredContent as Record<string, unknown>;
      assert.equal(s.via, 'oidc');
      assert.equal(s.user, idp.clientId);
      assert.deepEqual(s.groups, ['developers']);
      const q = await c.call('query', { connection: 'crm', sql: 'SELECT email FROM customers WHERE id = 1' });
      assert.equal((q.structuredContent as { results: { rows: string[][] }[] }).results[0]?.rows[0]?.[0], '[EMAIL]');
      // call_llm reaches /proxy with a token the built-in issuer minted for the same principal
      // (the MCP-audience token itself is not passed on).
      fake.behavior = { reply: 'Hello.', chunk: 5 };
      const before = fake.received.length;
      const llm = await c.call('call_llm', { connection: 'openai', request: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] } });
      assert.notEqual(llm.isError, true, resultText(llm));
      assert.equal(fake.received.length, before + 1);
      assert.ok(!JSON.stringify(fake.received.at(-1)).includes(mcpToken), 'the OIDC token never leaves');
    } finally {
      await c.close();
    }
    // The issuer's configured audience is accepted on /mcp too.
    const apiToken = await idp.getToken('https://gatehouse.test/api');
    const c2 = await mcpClient(t.url, apiToken);
    await c2.close();

    const wrong = await idp.getToken('https://elsewhere.example/mcp');
    const res = await fetch(`${t.url}/mcp`, {
      method: 'POST', headers: { authorization: `Bearer ${wrong}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /resource_metadata=/);
    await assert.rejects(mcpClient(t.url, wrong), (e: { code?: unknown; message?: string }) => e.code === 401 && /invalid_token/.test(e.message ?? ''));

    // A token for the MCP resource is not a token for the admin API.
    assert.equal((await t.api('GET', '/api/v1/reviews', undefined, mcpToken)).status, 401);
    assert.equal((await t.api('GET', '/api/v1/reviews', undefined, apiToken)).status, 200);
  });

  test('call_llm goes through /proxy: personal data is redacted before it leaves, the answer is masked, a secret is denied', async () => {
    fake.behavior = { reply: 'Sure: write to bob@example.com or pay with 4111 1111 1111 1111.', chunk: 5 };
    const before = fake.received.length;
    const r = await alice.call('call_llm', {
      connection: 'openai',
      request: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'My mail is carol@example.com, whom should I write?' }] },
    });
    assert.notEqual(r.isError, true, resultText(r));
    assert.equal(fake.received.length, before + 1);
    const sent = fake.last();
    assert.equal(sent.path, '/v1/chat/completions');
    assert.ok(!sent.body.includes('carol@example.com'), 'the email never reached the upstream');
    assert.match(sent.body, /\[EMAIL\]/);
    const raw = JSON.stringify(r);
    assert.ok(!raw.includes('bob@example.com') && !raw.includes('4111 1111 1111 1111'), raw);
    const s = r.structuredContent as { text: string; http_status: number };
    assert.equal(s.http_status, 200);
    assert.equal(s.text, 'Sure: write to [EMAIL] or pay with [CREDIT_CARD].');

    const secret = await alice.call('call_llm', {
      connection: 'openai', request: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `deploy with ${AWS_KEY}` }] },
    });
    assert.equal(secret.isError, true);
    assert.match(resultText(secret), /policy_denied: .*no-secrets-to-llm/);
    assert.equal(fake.received.length, before + 1, 'the upstream received nothing more');
    assert.ok(!JSON.stringify(secret).includes(AWS_KEY));
  });

  test('call_llm held for review: pending_approval, then after approval review_wait runs it through /proxy once', async () => {
    fake.behavior = { reply: 'reviewed answer', chunk: 5 };
    const before = fake.received.length;
    const args = { connection: 'openai', request: { model: 'gpt-review', messages: [{ role: 'user', content: 'hello' }] } };
    const r = await alice.call('call_llm', args);
    const pending = r.structuredContent as { status: string; review_id: string };
    assert.equal(pending.status, 'pending_approval', resultText(r));
    assert.equal(fake.received.length, before, 'nothing reached the model before approval');
    const ok = await bob.call('review_approve', { review_id: pending.review_id });
    assert.notEqual(ok.isError, true, resultText(ok));
    const done = await alice.call('review_wait', { review_id: pending.review_id });
    assert.notEqual(done.isError, true, resultText(done));
    const s = done.structuredContent as { tool: string; result: { text: string } };
    assert.equal(s.tool, 'call_llm');
    assert.equal(s.result.text, 'reviewed answer');
    assert.equal(fake.received.length, before + 1);
    const review = await t.api('GET', `/api/v1/reviews/${pending.review_id}`, undefined, bobKey);
    assert.equal(review.json.status, 'executed');
  });

  test('http_request goes through /proxy: the vaulted credential is added, the answer masked, DELETE denied by policy', async () => {
    fake.behavior = { reply: 'owner: dana@example.com', chunk: 5 };
    const r = await alice.call('http_request', { connection: 'api', method: 'POST', path: '/v1/items?x=1', json: { label: 'a' } });
    assert.notEqual(r.isError, true, resultText(r));
    const s = r.structuredContent as { http_status: number; json: { method: string; path: string; echo: string; note: string } };
    assert.equal(s.http_status, 200);
    assert.equal(s.json.path, '/base/v1/items?x=1');
    assert.equal(s.json.echo, '{"label":"a"}');
    assert.equal(s.json.note, 'owner: [EMAIL]');
    assert.equal(fake.last().headers.authorization, 'Bearer upstream-bearer-token');
    assert.ok(!JSON.stringify(r).includes('dana@example.com'));
    const del = await alice.call('http_request', { connection: 'api', method: 'DELETE', path: '/v1/items/1' });
    assert.equal(del.isError, true);
    assert.match(resultText(del), /policy_denied: .*http-no-delete/);
  });

  test('a review rule on mcp.call itself holds the tool call; after approval review_wait runs it', async () => {
    const r = await alice.call('describe_connection', { connection: 'openai' });
    const pending = r.structuredContent as { status: string; review_id: string };
    assert.equal(pending.status, 'pending_approval', resultText(r));
    const got = await bob.call('review_get', { review_id: pending.review_id });
    const review = (got.structuredContent as { review: { action: string; rule: string; summary: string } }).review;
    assert.equal(review.action, 'mcp.call');
    assert.equal(review.rule, 'mcp-describe');
    assert.match(review.summary, /describe_connection/);
    assert.notEqual((await bob.call('review_approve', { review_id: pending.review_id })).isError, true);
    const done = await alice.call('review_wait', { review_id: pending.review_id });
    const s = done.structuredContent as { tool: string; result: { type: string; provider: string } };
    assert.equal(s.tool, 'describe_connection', resultText(done));
    assert.equal(s.result.type, 'llm');
    assert.equal(s.result.provider, 'openai');
  });

  test('every tool call is a recorded event of the mcp session, with user and agent; sessions_list and session_get show them', async () => {
    const w = await alice.call('whoami');
    const sessionId = (w.structuredContent as { session: string }).session;
    const list = await alice.call('sessions_list');
    const mine = (list.structuredContent as { sessions: { id: string; protocol: string; user: string; agent: string }[] }).sessions;
    const s = mine.find((x) => x.id === sessionId);
    assert.ok(s, 'the MCP session is listed');
    assert.equal(s.protocol, 'mcp');
    assert.equal(s.user, 'alice');
    assert.equal(s.agent, 'claude');
    assert.ok(mine.every((x) => x.user === 'alice'), 'a principal sees only its own sessions');
    const bobs = (await bob.call('sessions_list')).structuredContent as { sessions: { id: string; user: string }[] };
    assert.ok(bobs.sessions.every((x) => x.user === 'bob' && x.id !== sessionId), 'bob does not see alice\'s sessions');
    assert.equal((await bob.call('session_get', { session_id: sessionId })).isError, true);

    // The admin API sees the same events: each tool call with its decision and response, masked.
    const events: { type: string; user?: string; agent?: string; data: Record<string, unknown> }[] = [];
    let after = 0;
    for (;;) {
      const page = await t.api('GET', `/api/v1/sessions/${sessionId}/events?after=${after}&limit=1000`);
      assert.equal(page.status, 200, JSON.stringify(page.json));
      const items = page.json.items as typeof events & { seq: number }[];
      if (items.length === 0) break;
      events.push(...items);
      after = (items[items.length - 1] as unknown as { seq: number }).seq;
    }
    assert.equal(events[0]?.type, 'session.open');
    const tools = events.filter((e) => e.type === 'request' && typeof e.data.tool === 'string').map((e) => e.data.tool);
    for (const name of ['whoami', 'list_connections', 'query', 'review_wait', 'call_llm']) assert.ok(tools.includes(name), `${name} recorded`);
    assert.ok(events.every((e) => e.user === 'alice' && e.agent === 'claude'));
    const decisions = events.filter((e) => e.type === 'decision');
    assert.ok(decisions.some((e) => e.data.action === 'mcp.call' && e.data.effect === 'allow'));
    assert.ok(decisions.some((e) => e.data.effect === 'deny' && JSON.stringify(e.data.reasons).includes('no-drop-via-agents')));
    assert.ok(events.some((e) => e.type === 'review' && e.data.outcome === 'pending'));
    assert.ok(events.some((e) => e.type === 'response'));
    const text = JSON.stringify(events);
    for (const secret of [...EMAILS, ...CARDS, 'carol@example.com', 'bob@example.com', AWS_KEY]) assert.ok(!text.includes(secret), `${secret} recorded unmasked`);
    const verified = await t.api('GET', `/api/v1/sessions/${sessionId}/verify`);
    assert.equal(verified.json.ok, true);
  });

  test('an Mcp-Session-Id is never adopted: another principal sending it gets a session of its own; a label maps to a generated id', async () => {
    const sessionId = ((await alice.call('whoami')).structuredContent as { session: string }).session;
    const before = (await t.api('GET', `/api/v1/sessions/${sessionId}`)).json.events;
    const stolen = await rawSession(t.url, bobKey, sessionId);
    assert.notEqual(stolen, sessionId);
    const labelled = await rawSession(t.url, bobKey, 'bob-label');
    assert.notEqual(labelled, 'bob-label');
    assert.equal(await rawSession(t.url, bobKey, 'bob-label'), labelled, 'the label continues the session');
    assert.equal(await rawSession(t.url, bobKey, labelled), labelled, 'so does the returned id');
    const open = ((await t.api('GET', `/api/v1/sessions/${labelled}/events`)).json.items as { type: string; data: Record<string, unknown> }[])[0];
    assert.deepEqual(open, { ...open, type: 'session.open', data: { transport: 'mcp', label: 'bob-label' } });
    assert.equal((await t.api('GET', `/api/v1/sessions/${sessionId}`)).json.events, before, 'nothing appended to alice\'s session');
  });
});

/** One whoami tools/call over raw HTTP sending `mcp-session-id: header`; the session id the gateway answers with. */
async function rawSession(base: string, token: string, header: string): Promise<string> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', 'mcp-session-id': header };
  const res = await fetch(`${base}/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'whoami', arguments: {} } }) });
  assert.equal(res.status, 200);
  await res.text();
  return res.headers.get('mcp-session-id') ?? '';
}

/** One tools/call over raw HTTP, returning the response body exactly as sent (SSE). */
async function rawCall(base: string, token: string, name: string, args: Record<string, unknown>): Promise<string> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
  const res = await fetch(`${base}/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args } }) });
  assert.equal(res.status, 200);
  return res.text();
}
