import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, pgSkip, type TestDatabase } from '../harness/postgres-server.ts';

/**
 * Issue 17 item 2, live sessions: revoking an API key ends the PostgreSQL sessions already open
 * with it, or with a token minted from it (FATAL 28000 "credential revoked", audited), on this
 * replica and on another one sharing the store. Other principals' sessions go on.
 */

const skip = await pgSkip();
const WAIT_MS = 10_000;

/** The database URL without its password (Gatehouse takes the password from credentials). */
function split(url: string): { url: string; password: string } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), password };
}

interface Ending { readonly error: (Error & { code?: string; severity?: string }) | undefined; readonly ended: true }

/** Resolves once `c` has ended (with the error it reported first, if any); rejects after `ms`. */
function ending(c: pg.Client, ms = WAIT_MS): Promise<Ending> {
  return new Promise((resolve, reject) => {
    let error: Ending['error'];
    const timer = setTimeout(() => { reject(new Error(`session still open ${ms} ms after the revocation`)); }, ms);
    c.on('error', (e: Error) => { error ??= e; });
    c.once('end', () => { clearTimeout(timer); resolve({ error, ended: true }); });
  });
}

async function connect(port: number, password: string): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, database: 'crm', user: 'alice', password });
  await c.connect();
  assert.equal((await c.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n, 1);
  return c;
}

async function mintToken(url: string, key: string): Promise<string> {
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_secret: key }),
  });
  const body = await res.json() as { access_token?: string };
  assert.equal(res.status, 200, JSON.stringify(body));
  return String(body.access_token);
}

function assertRevoked(e: Ending): void {
  assert.ok(e.error, 'the client must be told why');
  assert.equal(e.error.code, '28000');
  assert.equal(e.error.severity, 'FATAL');
  assert.match(e.error.message, /^credential revoked/);
}

describe('revoking an API key ends its live PostgreSQL sessions (real PostgreSQL, pg)', { skip }, () => {
  let upstream: TestDatabase;
  let store: TestDatabase;
  let a: TestGateway;
  let b: TestGateway;

  before(async () => {
    const up = await getTestPostgres();
    const st = await getTestPostgres();
    if (!up || !st) throw new Error('no PostgreSQL');
    upstream = up;
    store = st;
    const conn = split(upstream.url);
    const yaml = ['connections:', `  - { name: crm, type: postgres, url: "${conn.url}", credentials: { password: "${conn.password || 'unused'}" } }`].join('\n');
    // Two replicas sharing one store: a revocation on A reaches B through the revocation feed.
    a = await startTestGateway({ yaml, storeUrl: store.url });
    b = await startTestGateway({ yaml, storeUrl: store.url });
  });
  after(async () => { await b.close(); await a.close(); await store.stop(); await upstream.stop(); });

  const newKey = async (): Promise<{ key: string; id: string }> => {
    const r = await a.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return { key: String(r.json.key), id: String(r.json.id) };
  };
  const revoke = async (id: string): Promise<void> => {
    const r = await a.api('DELETE', `/api/v1/api-keys/${id}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
  };

  test('sessions of the key and of a token minted from it end; another key\'s session goes on; audited', async () => {
    const doomed = await newKey();
    const other = await newKey();
    const token = await mintToken(a.url, doomed.key);
    const tokenB = await mintToken(b.url, doomed.key); // each replica is its own issuer (its URL)
    const byKey = await connect(a.postgres.port, doomed.key);
    const byToken = await connect(a.postgres.port, token);
    const onB = await connect(b.postgres.port, doomed.key);
    const tokenOnB = await connect(b.postgres.port, tokenB);
    const bystander = await connect(a.postgres.port, other.key);
    try {
      const ends = [ending(byKey), ending(byToken), ending(onB), ending(tokenOnB)];
      await revoke(doomed.id);
      for (const e of await Promise.all(ends)) assertRevoked(e);
      assert.equal((await bystander.query<{ n: number }>('SELECT 2 AS n')).rows[0]?.n, 2, 'another key\'s session is untouched');
      // New authentications with the key or the token are refused too.
      await assert.rejects(connect(b.postgres.port, doomed.key), (e: Error & { code?: string }) => e.code === '28P01' || e.code === '28000');
      await assert.rejects(connect(a.postgres.port, token), (e: Error & { code?: string }) => e.code === '28P01' || e.code === '28000');
      const audit = await a.api('GET', '/api/v1/audit?kind=postgres.session_revoked&limit=50');
      assert.equal(audit.status, 200, JSON.stringify(audit.json));
      const items = (audit.json.items as { kind: string; detail: { key_id?: string } }[]).filter((r) => r.kind === 'postgres.session_revoked' && r.detail.key_id === doomed.id);
      assert.ok(items.length >= 4, `one audit event per ended session on either replica: ${JSON.stringify(items)}`);
    } finally {
      await bystander.end();
      for (const c of [byKey, byToken, onB, tokenOnB]) await c.end().catch(() => undefined);
    }
  });

  test('a session in the middle of a long statement ends too', async () => {
    const doomed = await newKey();
    const c = await connect(b.postgres.port, doomed.key);
    const end = ending(c);
    // pg reports the error to the running query rather than as a client 'error' event.
    const running = c.query('SELECT pg_sleep(30)').then(() => undefined, (e: unknown) => e as Ending['error']);
    await new Promise((r) => setTimeout(r, 100));
    await revoke(doomed.id);
    const e = await end;
    assert.equal(e.ended, true);
    assertRevoked({ error: await running, ended: true });
  });
});
