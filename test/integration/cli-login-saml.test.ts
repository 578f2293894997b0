import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { accepted, startSamlGateway, type SamlGateway } from '../console/saml-kit.ts';

const BIN = fileURLToPath(new URL('../../bin/gatehouse', import.meta.url));

/** The IdP's part, played over HTTP: follow the start URL, sign a response for its request, post it. */
async function playIdp(g: SamlGateway, startUrl: string): Promise<string> {
  const res = await fetch(startUrl, { redirect: 'manual' });
  assert.equal(res.status, 302, await res.clone().text());
  const location = new URL(res.headers.get('location') ?? '');
  const request = inflateRawSync(Buffer.from(location.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
  const requestId = /\sID="([^"]+)"/.exec(request)![1]!;
  const r = await g.post(g.good(requestId).xml);
  assert.equal(r.status, 303);
  return r.location;
}

describe('gatehouse login --saml: the browser signs in at the IdP, the CLI gets a gateway token', () => {
  let g: SamlGateway;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-login-saml-'));
    g = await startSamlGateway('    group_map: { dba: [admins] }');
  });
  after(async () => {
    await g?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the real CLI: loopback redirect, one-time code + PKCE verifier, token saved 0600 and accepted by the API', async () => {
    const configHome = join(dir, 'config');
    const child = spawn(BIN, ['login', '--saml', '--no-browser', '--json', '--gateway', g.t.url], {
      cwd: dir, env: { ...process.env, GATEHOUSE_CONFIG: '', GATEHOUSE_TOKEN: '', XDG_CONFIG_HOME: configHome },
    });
    let out = '';
    let err = '';
    let played: Promise<void> | undefined;
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const start = /open (http:\/\/\S+\/ui\/auth\/saml\/start\S+)/.exec(err)?.[1];
      if (start !== undefined && !played) {
        played = (async () => {
          const back = new URL(await playIdp(g, start));
          assert.equal(back.origin.startsWith('http://127.0.0.1:'), true, back.href);
          assert.equal(back.pathname, '/callback');
          // A callback with another state is refused by the CLI; the real one completes it.
          const wrong = new URL(back);
          wrong.searchParams.set('state', 'not-the-state-of-this-login');
          assert.equal((await fetch(wrong)).status, 400);
          assert.equal((await fetch(back)).status, 200);
        })();
      }
    });
    const code = await new Promise<number>((resolve) => child.on('close', (c) => { resolve(c ?? -1); }));
    await played;
    assert.equal(code, 0, err);
    const result = JSON.parse(out.trim()) as { saved: string; user: string };
    assert.equal(result.user, 'sam@example.com');
    assert.equal(statSync(result.saved).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(result.saved, 'utf8')) as { token: string };
    // The gateway token carries the SAML user's mapped group (admins may list API keys).
    assert.equal((await g.t.api('GET', '/api/v1/api-keys', undefined, saved.token)).status, 200);
    assert.doesNotMatch(err + out, /eyJ/, 'the token is not printed');
  });

  test('the code is one-time and bound to the verifier; the loopback target cannot be chosen freely', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const start = (port: string, ch = challenge): string => `${g.t.url}/ui/auth/saml/start?cli_port=${port}&cli_challenge=${ch}&cli_state=${'s'.repeat(22)}`;
    const exchange = (code: string, v: string): Promise<Response> => fetch(`${g.t.url}/ui/auth/saml/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, code_verifier: v }) });

    let back = new URL(await playIdp(g, start('45678')));
    assert.equal(back.host, '127.0.0.1:45678');
    let code = back.searchParams.get('code')!;
    assert.equal((await exchange(code, randomBytes(32).toString('base64url'))).status, 400, 'another verifier');
    assert.equal((await exchange(code, verifier)).status, 400, 'the code was used up by the failed try');
    back = new URL(await playIdp(g, start('45678')));
    code = back.searchParams.get('code')!;
    const ok = await exchange(code, verifier);
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { user: string }).user, 'sam@example.com');
    assert.equal((await exchange(code, verifier)).status, 400, 'used once');
    // A CLI code is not a console sign-in.
    back = new URL(await playIdp(g, start('45678')));
    const f = await g.finish(`/ui/auth/saml/finish?t=${back.searchParams.get('code')!}`, '');
    assert.equal(f.session, undefined);
    // Ports below 1024 and malformed challenges are refused before any redirect.
    assert.equal((await fetch(start('80'), { redirect: 'manual' })).status, 400);
    assert.equal((await fetch(start('45678', 'short'), { redirect: 'manual' })).status, 400);
    // A console sign-in is not a CLI code.
    const s = await g.start();
    const loc = accepted(await g.post(g.good(s.requestId).xml));
    assert.equal((await exchange(new URL(loc, g.t.url).searchParams.get('t')!, verifier)).status, 400);
  });
});
