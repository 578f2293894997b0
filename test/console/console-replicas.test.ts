import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, type TestDatabase } from '../harness/postgres-server.ts';

/** API-key sign-in from a browser-like client: the console cookie and the CSRF token. */
async function signIn(t: TestGateway, key: string): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${t.url}/ui/auth/api-key`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) });
  assert.equal(res.status, 200, await res.clone().text());
  return { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: ((await res.json()) as { csrf: string }).csrf };
}

const status = async (t: TestGateway, cookie: string): Promise<number> => (await fetch(`${t.url}/ui/auth/session`, { headers: { cookie } })).status;

describe('console sessions are shared by replicas through the store (real PostgreSQL)', () => {
  let store: TestDatabase;
  let a: TestGateway;
  let b: TestGateway;

  before(async () => {
    const st = await getTestPostgres();
    if (!st) throw new Error('no PostgreSQL: set GATEHOUSE_TEST_PG_URL');
    store = st;
    a = await startTestGateway({ storeUrl: store.url });
    b = await startTestGateway({ storeUrl: store.url });
  });
  after(async () => { await b?.close(); await a?.close(); await store?.stop(); });

  test('a session started on A works on B (reads and CSRF-checked writes); signing out on B ends it on A', async () => {
    const s = await signIn(a, a.adminKey);
    assert.equal(await status(b, s.cookie), 200);
    const create = (t: TestGateway, csrf: string): Promise<Response> => fetch(`${t.url}/api/v1/api-keys`, {
      method: 'POST', headers: { cookie: s.cookie, 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ user: 'dora', groups: ['developers'] }),
    });
    assert.equal((await create(b, 'wrong')).status, 403, 'the CSRF check holds on the other replica');
    const made = await create(b, s.csrf);
    assert.equal(made.status, 201);
    const dora = await made.json() as { id: string; key: string };

    // The store holds only the cookie's hash.
    const c = new pg.Client({ connectionString: store.url });
    await c.connect();
    try {
      const rows = (await c.query<Record<string, unknown>>('SELECT * FROM console_sessions')).rows;
      assert.ok(rows.length >= 1);
      const token = s.cookie.split('=')[1]!;
      assert.ok(!JSON.stringify(rows).includes(token), 'no cookie value in the table');
    } finally {
      await c.end();
    }

    // A key revoked through A ends the session it signed in on B.
    const d = await signIn(b, dora.key);
    assert.equal(await status(a, d.cookie), 200);
    assert.equal((await a.api('DELETE', `/api/v1/api-keys/${dora.id}`)).status, 200);
    assert.equal(await status(b, d.cookie), 401);

    const out = await fetch(`${b.url}/ui/auth/logout`, { method: 'POST', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    assert.equal(out.status, 200);
    assert.equal(await status(a, s.cookie), 401);
    assert.equal(await status(b, s.cookie), 401);
  });

  test('a made-up or expired cookie is no session anywhere', async () => {
    assert.equal(await status(a, 'gatehouse_console=abc'), 401);
    const s = await signIn(a, a.adminKey);
    const c = new pg.Client({ connectionString: store.url });
    await c.connect();
    try {
      await c.query('UPDATE console_sessions SET expires_at = $1', [Date.now() - 1]);
    } finally {
      await c.end();
    }
    assert.equal(await status(b, s.cookie), 401);
    assert.equal(await status(a, s.cookie), 401);
  });
});
