import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';

describe('admin API', () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway({
      yaml: [
        'connections:',
        '  - { name: crm, type: postgres, url: "postgres://app@127.0.0.1:5432/crm", credentials: { password: "hunter2-config-secret" } }',
      ].join('\n'),
    });
  });
  after(async () => { await t.close(); });

  test('health, readiness and metrics answer without credentials', async () => {
    assert.deepEqual(await (await fetch(`${t.url}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${t.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { checks: unknown }).checks, { store: 'ok', policies: 'ok' });
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /gatehouse_http_requests_total/);
  });

  test('unauthenticated and bad credentials get 401 problem+json and are audited', async () => {
    const none = await fetch(`${t.url}/api/v1/api-keys`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(((await none.json()) as { code: string }).code, 'unauthenticated');
    const bad = await t.api('GET', '/api/v1/api-keys', undefined, 'ghk_notarealkeynotarealkeynotarealkey0000');
    assert.equal(bad.status, 401);
    assert.equal(bad.json.code, 'invalid_credential');
    const audit = await t.api('GET', '/api/v1/audit?kind=auth.failure');
    const items = audit.json.items as { kind: string; detail: Record<string, unknown> }[];
    assert.ok(items.length >= 2);
    assert.ok(!JSON.stringify(items).includes('notarealkey'), 'the credential must not be in the audit log');
  });

  test('Host and Origin are checked (DNS rebinding, cross-site)', async () => {
    const { request } = await import('node:http');
    const status = (headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
      const req = request(`${t.url}/api/v1/api-keys`, { headers: { authorization: `Bearer ${t.adminKey}`, ...headers } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(await status({ host: 'attacker.example:8080' }), 421);
    assert.equal(await status({ origin: 'https://attacker.example' }), 403);
    assert.equal(await status({}), 200);
  });

  test('API keys: create (shown once), list without secrets, revoke effective at once', async () => {
    const created = await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'], expires: '24h' });
    assert.equal(created.status, 201);
    const key = created.json.key as string;
    assert.match(key, /^ghk_[0-9A-Za-z]{32,}$/);
    const list = await t.api('GET', '/api/v1/api-keys');
    assert.ok(!JSON.stringify(list.json).includes(key));
    assert.ok((list.json.items as { id: string }[]).some((k) => k.id === created.json.id));
    // alice is not an admin: policy denies her the admin API, naming the reason.
    const denied = await t.api('GET', '/api/v1/api-keys', undefined, key);
    assert.equal(denied.status, 403);
    assert.equal(denied.json.code, 'policy_denied');
    assert.match(String(denied.json.detail), /default-deny/);
    const revoked = await t.api('DELETE', `/api/v1/api-keys/${String(created.json.id)}`);
    assert.equal(revoked.status, 200);
    const after = await t.api('GET', '/api/v1/api-keys', undefined, key);
    assert.equal(after.status, 401);
    const bad = await t.api('POST', '/api/v1/api-keys', { groups: ['x'] });
    assert.equal(bad.status, 400);
  });

  test('connections: config ones read-only, API ones CRUD, credentials never returned', async () => {
    const list = await t.api('GET', '/api/v1/connections');
    const crm = (list.json.items as Record<string, unknown>[]).find((c) => c.name === 'crm');
    assert.deepEqual(crm?.credentials, ['password']);
    assert.equal(crm?.source, 'config');
    assert.ok(!JSON.stringify(list.json).includes('hunter2'));
    assert.equal((await t.api('DELETE', '/api/v1/connections/crm')).json.code, 'read_only');

    const body = { name: 'analytics', type: 'postgres', url: 'postgres://reader@127.0.0.1:5432/analytics', credentials: { password: 'api-secret-value' } };
    const created = await t.api('POST', '/api/v1/connections', body);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.json.source, 'api');
    assert.equal((await t.api('POST', '/api/v1/connections', body)).status, 409);
    const patched = await t.api('PATCH', '/api/v1/connections/analytics', { description: 'BI replica' });
    assert.equal(patched.json.description, 'BI replica');
    assert.deepEqual(patched.json.credentials, ['password'], 'credentials are kept by a patch without them');
    assert.ok(!JSON.stringify(patched.json).includes('api-secret-value'));
    const invalid = await t.api('POST', '/api/v1/connections', { name: 'Bad Name', type: 'llm', url: 'ftp://x', extra: 1 });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.json.code, 'validation_failed');
    assert.match(String(invalid.json.detail), /name/);
    const interp = await t.api('POST', '/api/v1/connections', { name: 'leak', type: 'http', url: 'http://127.0.0.1/', description: '${HOME} ${file:/etc/hostname}' });
    assert.equal(interp.status, 201, JSON.stringify(interp.json));
    assert.equal(interp.json.description, '${HOME} ${file:/etc/hostname}', 'API input is never interpolated');
    assert.equal((await t.api('DELETE', '/api/v1/connections/analytics')).status, 200);
    assert.equal((await t.api('GET', '/api/v1/connections/analytics')).status, 404);
  });

  test('malformed JSON is 400, unknown route 404, wrong method 405', async () => {
    const res = await fetch(`${t.url}/api/v1/api-keys`, { method: 'POST', headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' }, body: '{nope' });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { code: string }).code, 'invalid_json');
    assert.equal((await t.api('GET', '/api/v1/nothing')).status, 404);
    const m = await t.api('PUT', '/api/v1/api-keys');
    assert.equal(m.status, 405);
    assert.match(m.headers.get('allow') ?? '', /GET/);
  });

  test('policy explain: allow and deny with reasons, SQL facts from the real parser', async () => {
    const allow = await t.api('POST', '/api/v1/policy/explain', { principal: 'alice', groups: ['developers'], action: 'sql.read', connection: 'crm', sql: 'SELECT * FROM customers' });
    assert.equal(allow.json.effect, 'allow');
    assert.deepEqual(allow.json.reasons, ['developers-read']);
    const deny = await t.api('POST', '/api/v1/policy/explain', { principal: 'alice', groups: ['developers'], agent: 'bot', action: 'sql.write', connection: 'crm', sql: 'DELETE FROM customers' });
    assert.equal(deny.json.effect, 'deny');
    assert.deepEqual(deny.json.reasons, ['agents-no-writes']);
    const nobody = await t.api('POST', '/api/v1/policy/explain', { principal: 'mallory', action: 'sql.read', connection: 'crm' });
    assert.equal(nobody.json.effect, 'deny');
    assert.deepEqual(nobody.json.reasons, ['default-deny']);
    // The statement decides the actions, as on the data path: a DELETE explained as sql.read is a write.
    const asRead = await t.api('POST', '/api/v1/policy/explain', { principal: 'alice', groups: ['developers'], agent: 'bot', action: 'sql.read', connection: 'crm', sql: 'DELETE FROM orders' });
    assert.equal(asRead.json.effect, 'deny', 'the gateway denies this DELETE, so explain must too');
    assert.deepEqual(asRead.json.actions, ['sql.write']);
    assert.deepEqual(asRead.json.reasons, ['agents-no-writes']);
    const multi = await t.api('POST', '/api/v1/policy/explain', { principal: 'alice', groups: ['developers'], connection: 'crm', sql: 'SELECT 1; DELETE FROM orders' });
    assert.equal(multi.status, 200, 'action may be left out with sql');
    assert.deepEqual(multi.json.actions, ['sql.read', 'sql.write']);
    assert.deepEqual((multi.json.decisions as { action: string; effect: string }[]).map((d) => [d.action, d.effect]), [['sql.read', 'allow'], ['sql.write', 'allow']]);
    assert.equal((await t.api('POST', '/api/v1/policy/explain', { principal: 'a', action: 'fly', connection: 'crm' })).status, 400);
    assert.equal((await t.api('POST', '/api/v1/policy/explain', { principal: 'a', action: 'sql.read', connection: 'nope' })).status, 404);
  });

  test('audit log records decisions and mutations with identity, and verifies', async () => {
    const audit = await t.api('GET', '/api/v1/audit?limit=500');
    const items = audit.json.items as { kind: string; user?: string; action?: string; outcome: string }[];
    assert.ok(items.some((e) => e.kind === 'policy.decision' && e.user === 'admin' && e.outcome === 'allow'));
    assert.ok(items.some((e) => e.kind === 'policy.decision' && e.user === 'alice' && e.outcome === 'deny'));
    assert.ok(items.some((e) => e.kind === 'admin.mutation' && e.action === 'api_key.create'));
    const v = await t.api('GET', '/api/v1/audit/verify');
    assert.equal(v.json.ok, true);
  });

  test('the OpenAPI document describes exactly the routes the router serves', async () => {
    const { buildAdminRouter } = await import('../../src/api/admin.ts');
    const doc = await (await fetch(`${t.url}/api/openapi.json`)).json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.equal(doc.openapi, '3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).filter((k) => k !== 'parameters').map((m) => `${m.toUpperCase()} ${p}`)).sort();
    const served = buildAdminRouter().list().map((r) => `${r.method} ${r.pattern.replace(/:(\w+)/g, '{$1}')}`).sort();
    assert.deepEqual(documented, served);
  });
});
