import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';

/** GET with a chosen Host header (fetch does not let a caller set it). */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end();
  });
}

/** A browser-like client: keeps the console cookie, sends the gateway's own Origin. */
async function signIn(t: TestGateway, key: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await fetch(`${t.url}/ui/auth/api-key`, { method: 'POST', headers: { 'content-type': 'application/json', origin: t.url }, body: JSON.stringify({ key }) });
  assert.equal(res.status, 200, await res.clone().text());
  const setCookie = res.headers.get('set-cookie') ?? '';
  const body = await res.json() as { csrf: string };
  return { cookie: setCookie.split(';')[0]!, csrf: body.csrf, setCookie };
}

test('console: served at /ui with a strict CSP, sign-in by API key, cookie + CSRF on the admin API', async () => {
  const t = await startTestGateway();
  try {
    const root = await fetch(`${t.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/ui/');

    const page = await fetch(`${t.url}/ui/inbox`);
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval';/, 'scripts of this origin only; they may compile WebAssembly (the terminal player)');
    assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'|'unsafe-hashes'|nonce-|sha256-/, 'no inline script or style, no JavaScript eval');
    assert.match(csp, /style-src 'self';/);
    for (const name of ['asciinema-player.js', 'asciinema-player.css']) {
      const a = await fetch(`${t.url}/ui/assets/${name}`);
      assert.equal(a.status, 200, `${name} is served from node_modules`);
      assert.ok((await a.arrayBuffer()).byteLength > 10_000);
    }
    assert.match(csp, /frame-ancestors 'none'/);
    const html = await page.text();
    assert.doesNotMatch(html, /<script>|<style|style=/, 'no inline script or style in the page');
    assert.equal((await fetch(`${t.url}/ui/assets/app.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal((await fetch(`${t.url}/ui/assets/nope.js`)).status, 404);
    assert.equal((await fetch(`${t.url}/ui/assets/..%2Fpackage.json`)).status, 404);
    assert.equal(await statusWithHost(`${t.url}/ui/inbox`, 'evil.example'), 421, 'the Host guard applies (DNS rebinding)');

    // Not signed in: the API answers 401; a wrong key is refused and audited.
    assert.equal((await fetch(`${t.url}/ui/auth/session`)).status, 401);
    const bad = await fetch(`${t.url}/ui/auth/api-key`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'ghk_nope' }) });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('set-cookie'), null);
    // A form post (not JSON) cannot sign in: cross-site forms cannot send application/json.
    const form = await fetch(`${t.url}/ui/auth/api-key`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `key=${t.adminKey}` });
    assert.equal(form.status, 415);

    const s = await signIn(t, t.adminKey);
    assert.match(s.setCookie, /HttpOnly/);
    assert.match(s.setCookie, /SameSite=Strict/);
    assert.match(s.setCookie, /Path=\//);
    assert.doesNotMatch(s.setCookie, /Secure/, 'no Secure flag on plain HTTP (the browser would drop it)');
    const me = await fetch(`${t.url}/ui/auth/session`, { headers: { cookie: s.cookie } });
    assert.equal(me.status, 200);
    assert.equal((await me.json() as { user: string }).user, 'admin');

    // Reads with the cookie alone.
    const list = await fetch(`${t.url}/api/v1/api-keys`, { headers: { cookie: s.cookie } });
    assert.equal(list.status, 200);
    // A mutation without the CSRF token is refused; with a wrong one too; with it, it runs.
    const create = (headers: Record<string, string>): Promise<Response> => fetch(`${t.url}/api/v1/api-keys`, {
      method: 'POST', headers: { cookie: s.cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ user: 'carol', groups: ['developers'] }),
    });
    const noCsrf = await create({});
    assert.equal(noCsrf.status, 403);
    assert.equal((await noCsrf.json() as { code: string }).code, 'csrf_failed');
    assert.equal((await create({ 'x-csrf-token': `${s.csrf}x` })).status, 403);
    assert.equal((await create({ 'x-csrf-token': s.csrf, origin: 'https://evil.example' })).status, 403);
    const ok = await create({ 'x-csrf-token': s.csrf, origin: t.url });
    assert.equal(ok.status, 201);
    const carol = await ok.json() as { id: string; key: string };

    // A session is bound to its key: revoking the key ends it at once.
    const c = await signIn(t, carol.key);
    assert.equal((await fetch(`${t.url}/ui/auth/session`, { headers: { cookie: c.cookie } })).status, 200);
    assert.equal((await fetch(`${t.url}/api/v1/api-keys`, { headers: { cookie: c.cookie } })).status, 403, 'carol is not an admin');
    assert.equal((await t.api('DELETE', `/api/v1/api-keys/${carol.id}`)).status, 200);
    assert.equal((await fetch(`${t.url}/ui/auth/session`, { headers: { cookie: c.cookie } })).status, 401);

    // Sign-out ends the session server-side: the old cookie is dead.
    const out = await fetch(`${t.url}/ui/auth/logout`, { method: 'POST', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    assert.equal(out.status, 200);
    assert.equal((await fetch(`${t.url}/api/v1/api-keys`, { headers: { cookie: s.cookie } })).status, 401);
    // A made-up cookie is not a session.
    assert.equal((await fetch(`${t.url}/api/v1/api-keys`, { headers: { cookie: 'gatehouse_console=abc' } })).status, 401);
    // Bearer still works alongside.
    assert.equal((await t.api('GET', '/api/v1/api-keys')).status, 200);
  } finally {
    await t.close();
  }
});
