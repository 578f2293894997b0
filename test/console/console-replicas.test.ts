import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { inflateRawSync } from 'node:zlib';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, type TestDatabase } from '../harness/postgres-server.ts';
import { authorizeAs, startOidcProvider, type OidcProviderHarness } from '../harness/oidc-provider.ts';
import { assertion, b64, makeIdpKeys, response, sign } from '../harness/saml-idp.ts';

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

/**
 * Sign-ins in progress are sealed tokens (the OIDC state, the SAML request id) any replica opens
 * with the shared master key; used-once markers and results waiting for /finish live in the store
 * (migration 012): the identity provider's redirect (OIDC) or POST (SAML) may reach another
 * replica than the one that started the sign-in, and a state or InResponseTo is used once across
 * all replicas. Both gateways are configured with the address of
 * the load balancer in front of them (public_url; never contacted): the redirect URI, the ACS and
 * the SAML audience are the same on both, as in a real deployment.
 */
describe('console sign-ins in progress are shared by replicas through the store (real PostgreSQL)', () => {
  const FRONT = 'http://127.0.0.1:9';
  const IDP = 'https://idp.example.test/saml';
  const keys = makeIdpKeys();
  let store: TestDatabase;
  let op: OidcProviderHarness;
  let a: TestGateway;
  let b: TestGateway;

  before(async () => {
    const st = await getTestPostgres();
    if (!st) throw new Error('no PostgreSQL: set GATEHOUSE_TEST_PG_URL');
    store = st;
    op = await startOidcProvider({ audience: 'https://gatehouse.test', groups: ['dba'], authCode: { clientId: 'gatehouse-console', redirectPath: '/ui/auth/oidc/callback' } });
    const yaml = ['identity:', '  issuers:', `    - { issuer: "${op.issuer}", audience: "https://gatehouse.test", console_client_id: gatehouse-console }`,
      '  saml:', '    name: "Example IdP"', `    idp_entity_id: "${IDP}"`, '    idp_sso_url: "https://idp.example.test/sso"',
      '    idp_certificate: "${SAML_CERT}"', '    groups_attribute: groups'].join('\n');
    const opts = { storeUrl: store.url, serverYaml: `  public_url: "${FRONT}"`, yaml, env: { SAML_CERT: keys.certPem } };
    a = await startTestGateway(opts);
    b = await startTestGateway(opts);
  });
  after(async () => { await b?.close(); await a?.close(); await op?.stop(); await store?.stop(); });

  const rows = async (sql: string): Promise<Record<string, unknown>[]> => {
    const c = new pg.Client({ connectionString: store.url });
    await c.connect();
    try {
      return (await c.query<Record<string, unknown>>(sql)).rows;
    } finally {
      await c.end();
    }
  };
  /** A replica's own address (`t.url` is the shared public URL, the load balancer's). */
  const base = (t: TestGateway): string => `http://${t.gw.http.host}:${t.gw.http.port}`;
  const consoleCookie = (res: Response): string | undefined => res.headers.getSetCookie().find((c) => c.startsWith('gatehouse_console='))?.split(';')[0];
  const whoAmI = async (t: TestGateway, cookie: string): Promise<{ user?: string; method?: string }> =>
    await (await fetch(`${base(t)}/ui/auth/session`, { headers: { cookie } })).json() as { user?: string; method?: string };

  /** Starts an OIDC sign-in on `t`: the state cookie and the provider's redirect back (not followed). */
  const oidcStart = async (t: TestGateway, user: string): Promise<{ cookie: string; back: URL }> => {
    const res = await fetch(`${base(t)}/ui/auth/oidc/start?issuer=0&next=/ui/audit`, { redirect: 'manual' });
    assert.equal(res.status, 302, await res.clone().text());
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    const back = await authorizeAs(res.headers.get('location') ?? '', user);
    assert.equal(`${back.origin}${back.pathname}`, `${FRONT}/ui/auth/oidc/callback`, 'the provider redirects to the shared public URL');
    return { cookie, back };
  };
  const oidcCallback = (t: TestGateway, back: URL, cookie: string): Promise<Response> =>
    fetch(`${base(t)}${back.pathname}${back.search}`, { redirect: 'manual', headers: { cookie } });

  test('OIDC: started on A, the callback completes on B; the same callback replayed on A or B is refused', async () => {
    const { cookie, back } = await oidcStart(a, 'erin');
    const state = back.searchParams.get('state') ?? '';
    assert.ok(state.length >= 32);
    // /start wrote nothing (review 10, F3): the state is the flow, sealed with the shared master key.
    assert.equal((await rows("SELECT * FROM console_signin_flows WHERE kind IN ('oidc', 'oidc_used')")).length, 0, '/start writes nothing');

    const done = await oidcCallback(b, back, cookie);
    assert.equal(done.status, 302);
    assert.equal(done.headers.get('location'), '/ui/audit', 'the destination chosen on A is kept');
    const session = consoleCookie(done);
    assert.ok(session, 'B starts the console session');
    assert.deepEqual(await whoAmI(a, session), { ...(await whoAmI(a, session)), user: 'erin', method: 'oidc' });
    // Used up: a marker keyed by the state's hash, written after the ID token was verified; neither the state nor the verifier is in clear.
    const used = await rows("SELECT * FROM console_signin_flows WHERE kind = 'oidc_used'");
    assert.equal(used.length, 1, 'the flow is used up');
    assert.ok(!JSON.stringify(used).includes(state), 'no state in the table');
    assert.equal(used[0]!.sealed, null);

    for (const t of [a, b]) {
      const replay = await oidcCallback(t, back, cookie);
      assert.equal(replay.status, 302);
      assert.match(replay.headers.get('location') ?? '', /^\/ui\/signin\?error=/, 'a replayed state is refused on every replica');
      assert.equal(consoleCookie(replay), undefined);
    }
  });

  test('OIDC: the same callback sent to A and B at once signs in exactly once', async () => {
    const { cookie, back } = await oidcStart(b, 'fred');
    const both = await Promise.all([oidcCallback(a, back, cookie), oidcCallback(b, back, cookie)]);
    const sessions = both.map(consoleCookie).filter((c) => c !== undefined);
    assert.equal(sessions.length, 1, `one session, got ${both.map((r) => r.headers.get('location')).join(', ')}`);
    assert.equal((await whoAmI(b, sessions[0]!)).user, 'fred');
  });

  /** Starts a SAML sign-in on `t`: the AuthnRequest id, the browser's state cookie, and a signed response for it. */
  const samlStart = async (t: TestGateway, user: string): Promise<{ requestId: string; cookie: string; xml: string }> => {
    const res = await fetch(`${base(t)}/ui/auth/saml/start`, { redirect: 'manual' });
    assert.equal(res.status, 302, await res.clone().text());
    const location = new URL(res.headers.get('location') ?? '');
    const request = inflateRawSync(Buffer.from(location.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
    const requestId = /\sID="([^"]+)"/.exec(request)?.[1] ?? '';
    assert.ok(requestId);
    const acs = `${FRONT}/ui/auth/saml/acs`;
    const x = assertion({ issuer: IDP, nameId: user, inResponseTo: requestId, recipient: acs, audience: `${FRONT}/ui/auth/saml/metadata`, attributes: { groups: ['dba'] } });
    const xml = response({ issuer: IDP, inResponseTo: requestId, destination: acs, body: sign(x.xml, x.id, { keys }) }).xml;
    return { requestId, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, xml };
  };
  const samlPost = async (t: TestGateway, xml: string): Promise<string> => {
    const res = await fetch(`${base(t)}/ui/auth/saml/acs`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://idp.example.test' },
      body: new URLSearchParams({ SAMLResponse: b64(xml) }),
    });
    assert.equal(res.status, 303);
    return res.headers.get('location') ?? '';
  };

  test('SAML: started on A, the IdP posts to B, the finish lands on A; the response replayed to A or B is refused', async () => {
    const s = await samlStart(a, 'sam@example.com');
    const loc = await samlPost(b, s.xml);
    assert.match(loc, /^\/ui\/auth\/saml\/finish\?t=/, decodeURIComponent(loc));
    const token = new URL(loc, FRONT).searchParams.get('t') ?? '';
    const at = await rows("SELECT * FROM console_signin_flows WHERE kind = 'saml_done'");
    assert.equal(at.length, 1);
    assert.ok(!JSON.stringify(at).includes(token), 'no finish token in the table');
    const fin = await fetch(`${base(a)}${loc}`, { redirect: 'manual', headers: { cookie: s.cookie } });
    assert.equal(fin.status, 302);
    const session = consoleCookie(fin);
    assert.ok(session);
    assert.equal((await whoAmI(b, session)).user, 'sam@example.com');
    assert.equal(consoleCookie(await fetch(`${base(b)}${loc}`, { redirect: 'manual', headers: { cookie: s.cookie } })), undefined, 'the finish token is used once');

    for (const t of [a, b]) {
      const again = await samlPost(t, s.xml);
      assert.match(decodeURIComponent(again), /^\/ui\/signin\?error=.*no sign-in in progress/, 'a replayed InResponseTo is refused on every replica');
    }
  });

  /** Rows written to the store since `since` (ms), and all rows: /start must change neither. */
  const writes = async (since: number): Promise<{ since: number; all: number }> => ({
    since: (await rows(`SELECT * FROM console_signin_flows WHERE created_at >= ${since}`)).length,
    all: (await rows('SELECT * FROM console_signin_flows')).length,
  });

  test('review 10 F3: a flood of /start on both replicas (one client address, as behind a proxy) writes nothing and stops no sign-in in progress', async () => {
    const victimOidc = await oidcStart(a, 'gina');
    const victimSaml = await samlStart(b, 'hal@example.com');
    const before = await writes(0);
    const t0 = Date.now();
    // 300 of each kind: three times the old per-address bound, from the address every client shares behind a proxy.
    for (let i = 0; i < 300; i += 10) {
      const batch = await Promise.all(Array.from({ length: 10 }, (_, j) => fetch(`${base((i + j) % 2 ? a : b)}/ui/auth/${j % 2 ? 'saml' : 'oidc'}/start?issuer=0`, { redirect: 'manual' })));
      for (const r of batch) { assert.equal(r.status, 302); await r.arrayBuffer(); }
      const more = await Promise.all(Array.from({ length: 10 }, (_, j) => fetch(`${base((i + j) % 2 ? b : a)}/ui/auth/${j % 2 ? 'oidc' : 'saml'}/start`, { redirect: 'manual' })));
      for (const r of more) { assert.equal(r.status, 302); await r.arrayBuffer(); }
    }
    assert.deepEqual(await writes(t0), { since: 0, all: before.all }, 'no /start wrote to the store');
    // The sign-ins started before the flood complete, on the other replica.
    const done = await oidcCallback(b, victimOidc.back, victimOidc.cookie);
    assert.equal(done.headers.get('location'), '/ui/audit');
    assert.equal((await whoAmI(a, consoleCookie(done) ?? '')).user, 'gina');
    const loc = await samlPost(a, victimSaml.xml);
    assert.match(loc, /^\/ui\/auth\/saml\/finish\?t=/, decodeURIComponent(loc));
    const fin = await fetch(`${base(b)}${loc}`, { redirect: 'manual', headers: { cookie: victimSaml.cookie } });
    assert.equal((await whoAmI(a, consoleCookie(fin) ?? '')).user, 'hal@example.com');
  });

  test('review 10 F5: a callback without the browser\'s cookie, or a response with a bad signature, does not use up the sign-in', async () => {
    const o = await oidcStart(a, 'ivan');
    for (const cookie of ['', 'gatehouse_oidc_state=stolen-state-but-not-the-cookie']) {
      const forged = await oidcCallback(b, o.back, cookie);
      assert.match(forged.headers.get('location') ?? '', /^\/ui\/signin\?error=/);
      assert.equal(consoleCookie(forged), undefined);
    }
    const ok = await oidcCallback(a, o.back, o.cookie);
    assert.equal((await whoAmI(b, consoleCookie(ok) ?? '')).user, 'ivan', 'the genuine callback still signs in');

    const s = await samlStart(a, 'jo@example.com');
    const other = makeIdpKeys();
    const acs = `${FRONT}/ui/auth/saml/acs`;
    const x = assertion({ issuer: IDP, nameId: 'mallory', inResponseTo: s.requestId, recipient: acs, audience: `${FRONT}/ui/auth/saml/metadata` });
    const junk = response({ issuer: IDP, inResponseTo: s.requestId, destination: acs, body: sign(x.xml, x.id, { keys: other }) }).xml;
    assert.match(decodeURIComponent(await samlPost(b, junk)), /^\/ui\/signin\?error=.*signature/, 'a response signed by another key is refused');
    const loc = await samlPost(b, s.xml);
    assert.match(loc, /^\/ui\/auth\/saml\/finish\?t=/, `the genuine response is still accepted: ${decodeURIComponent(loc)}`);
  });

  test('SAML: the same response posted to A and B at once is accepted exactly once', async () => {
    const s = await samlStart(b, 'sue@example.com');
    const both = await Promise.all([samlPost(a, s.xml), samlPost(b, s.xml)]);
    assert.equal(both.filter((l) => l.startsWith('/ui/auth/saml/finish?t=')).length, 1, both.map(decodeURIComponent).join(', '));
    assert.equal(both.filter((l) => l.startsWith('/ui/signin?error=')).length, 1);
  });
});
