import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startOidcProvider, type OidcProviderHarness } from '../harness/oidc-provider.ts';

const BIN = fileURLToPath(new URL('../../bin/gatehouse', import.meta.url));
const STACK = /\n\s+at .+:\d+:\d+/;
const AUDIENCE = 'https://gatehouse.test/api';
const CLI_CLIENT = 'gatehouse-cli';

const POLICIES = `
@id("sso-admins")
permit (principal in Group::"platform-admins", action == Action::"admin", resource);
`;

interface CliRun { code: number; out: string; err: string }

/**
 * Runs the real CLI as a child process. When it prints the verification URI, `onVerification`
 * plays the user (once); the run resolves when the CLI exits.
 */
function runCli(args: string[], opts: { cwd: string; env: Record<string, string>; onVerification?: (uri: string) => Promise<void> }): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { cwd: opts.cwd, env: { ...process.env, GATEHOUSE_CONFIG: '', GATEHOUSE_TOKEN: '', ...opts.env } });
    let out = '';
    let err = '';
    let played: Promise<void> | undefined;
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const uri = /\(or open (\S+)\)/.exec(err)?.[1];
      if (uri !== undefined && opts.onVerification && !played) played = opts.onVerification(uri);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      (played ?? Promise.resolve()).then(() => { resolve({ code: code ?? -1, out, err }); }, reject);
    });
  });
}

const lastLine = (s: string): string => s.trimEnd().split('\n').at(-1) ?? '';

describe('gatehouse login: OIDC device authorization grant against a real provider', () => {
  let idp: OidcProviderHarness;
  let idpOpaque: OidcProviderHarness;
  let t: TestGateway;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-login-'));
    idp = await startOidcProvider({ audience: AUDIENCE, groups: ['platform-admins'], device: { clientId: CLI_CLIENT } });
    // A provider whose access tokens are opaque: the CLI must keep the id_token instead.
    idpOpaque = await startOidcProvider({ audience: AUDIENCE, groups: ['platform-admins'], device: { clientId: CLI_CLIENT, accessTokenFormat: 'opaque' } });
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'identity:',
        '  issuers:',
        `    - { issuer: "${idp.issuer}", audience: "${AUDIENCE}", groups_claim: groups }`,
        `    - { issuer: "${idpOpaque.issuer}", audience: [ "${AUDIENCE}", "${CLI_CLIENT}" ], groups_claim: groups }`,
      ].join('\n'),
    });
  });
  after(async () => {
    await t?.close();
    await idp?.stop();
    await idpOpaque?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh working directory and config home (no admin key anywhere: only the login can authenticate). */
  function workspace(name: string, gatehouseYaml?: string): { cwd: string; configHome: string; tokenFile: string } {
    const cwd = mkdtempSync(join(dir, `${name}-`));
    if (gatehouseYaml !== undefined) writeFileSync(join(cwd, 'gatehouse.yaml'), gatehouseYaml);
    const configHome = join(cwd, 'config');
    return { cwd, configHome, tokenFile: join(configHome, 'gatehouse', 'token.json') };
  }

  async function decisionsFor(user: string): Promise<{ user?: string; detail: { via: string; reasons: string[] } }[]> {
    const audit = await t.api('GET', '/api/v1/audit?kind=policy.decision&limit=50');
    assert.equal(audit.status, 200, JSON.stringify(audit.json));
    return (audit.json.items as { user?: string; detail: { via: string; reasons: string[] } }[]).filter((e) => e.user === user);
  }

  test('login from the local config: the access token is saved 0600, API commands use it, logout forgets it', async () => {
    const ws = workspace('config', [
      'identity:',
      `  issuers: [ { issuer: "${idp.issuer}", audience: "${AUDIENCE}", groups_claim: groups, cli_client_id: ${CLI_CLIENT} } ]`,
    ].join('\n'));
    const env = { XDG_CONFIG_HOME: ws.configHome };

    const login = await runCli(['login', '--no-browser', '--json'], { cwd: ws.cwd, env, onVerification: (uri) => idp.approveDevice(uri, 'alice') });
    assert.equal(login.code, 0, login.err);
    assert.match(login.err, /enter the code: [A-Z]{4}-[A-Z]{4}/);
    const result = JSON.parse(login.out) as { saved: string; expires_at: string; user: string };
    assert.equal(result.saved, ws.tokenFile);
    assert.equal(result.user, 'alice');
    assert.ok(Date.parse(result.expires_at) > Date.now());

    assert.equal(statSync(ws.tokenFile).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(ws.tokenFile, 'utf8')) as { token_type: string; token: string; issuer: string; client_id: string };
    assert.equal(saved.token_type, 'access_token');
    assert.equal(saved.issuer, idp.issuer);
    assert.equal(saved.client_id, CLI_CLIENT);
    assert.ok(!login.out.includes(saved.token) && !login.err.includes(saved.token), 'the token is never printed');

    // No GATEHOUSE_TOKEN, no admin key file: the gateway sees alice through the saved token.
    const list = await runCli(['keys', 'list', '--json'], { cwd: ws.cwd, env: { ...env, GATEHOUSE_URL: t.url } });
    assert.equal(list.code, 0, list.err);
    assert.ok(Array.isArray(JSON.parse(list.out)));
    const seen = await decisionsFor('alice');
    assert.ok(seen.some((e) => e.detail.via === 'oidc' && e.detail.reasons.includes('sso-admins')), JSON.stringify(seen));

    // A token file others may read is refused, not used; an expired login is skipped with a hint.
    chmodSync(ws.tokenFile, 0o644);
    const exposed = await runCli(['keys', 'list'], { cwd: ws.cwd, env: { ...env, GATEHOUSE_URL: t.url } });
    assert.equal(exposed.code, 1);
    assert.match(exposed.err, /may be read by others \(mode 644\)/);
    chmodSync(ws.tokenFile, 0o600);
    const original = readFileSync(ws.tokenFile, 'utf8');
    writeFileSync(ws.tokenFile, JSON.stringify({ ...JSON.parse(original) as object, expires_at: new Date(Date.now() - 60_000).toISOString() }));
    const expired = await runCli(['keys', 'list'], { cwd: ws.cwd, env: { ...env, GATEHOUSE_URL: t.url } });
    assert.equal(expired.code, 1);
    assert.match(expired.err, /the login of alice expired at .*; run `gatehouse login` or set GATEHOUSE_TOKEN/);
    writeFileSync(ws.tokenFile, original);

    const logout = await runCli(['logout'], { cwd: ws.cwd, env });
    assert.equal(logout.code, 0, logout.err);
    assert.equal(existsSync(ws.tokenFile), false);
    const after = await runCli(['keys', 'list'], { cwd: ws.cwd, env: { ...env, GATEHOUSE_URL: t.url } });
    assert.equal(after.code, 1);
    assert.match(after.err, /run `gatehouse login` or set GATEHOUSE_TOKEN/);
    assert.doesNotMatch(after.err, STACK);
  });

  test('an opaque access token: the id_token is kept, and the gateway accepts it for the CLI client audience', async () => {
    const ws = workspace('flags');
    const env = { XDG_CONFIG_HOME: ws.configHome, GATEHOUSE_OIDC_CLIENT_ID: CLI_CLIENT };
    const login = await runCli(['login', '--issuer', idpOpaque.issuer, '--scope', 'openid groups', '--no-browser'], {
      cwd: ws.cwd, env, onVerification: (uri) => idpOpaque.approveDevice(uri, 'bob'),
    });
    assert.equal(login.code, 0, login.err);
    assert.match(login.out, /logged in as bob \(id token, expires .+\); saved to /);
    const saved = JSON.parse(readFileSync(ws.tokenFile, 'utf8')) as { token_type: string };
    assert.equal(saved.token_type, 'id_token');

    const list = await runCli(['keys', 'list'], { cwd: ws.cwd, env: { ...env, GATEHOUSE_URL: t.url } });
    assert.equal(list.code, 0, list.err);
    assert.ok((await decisionsFor('bob')).some((e) => e.detail.via === 'oidc'));
  });

  test('the user presses Abort: exit 1 with a one-line reason, nothing saved', async () => {
    const ws = workspace('denied');
    const login = await runCli(['login', '--issuer', idp.issuer, '--client-id', CLI_CLIENT, '--no-browser'], {
      cwd: ws.cwd, env: { XDG_CONFIG_HOME: ws.configHome }, onVerification: (uri) => idp.denyDevice(uri),
    });
    assert.equal(login.code, 1);
    assert.match(lastLine(login.err), /^gatehouse login: the sign-in was denied at the identity provider \(access_denied\)$/);
    assert.doesNotMatch(login.err, STACK);
    assert.equal(existsSync(ws.tokenFile), false);
  });

  test('the device code expires before anyone signs in: exit 1, nothing saved', async () => {
    const shortLived = await startOidcProvider({ audience: AUDIENCE, groups: [], device: { clientId: CLI_CLIENT, codeTtlS: 1 } });
    try {
      const ws = workspace('expired');
      const login = await runCli(['login', '--no-browser'], {
        cwd: ws.cwd, env: { XDG_CONFIG_HOME: ws.configHome, GATEHOUSE_OIDC_ISSUER: shortLived.issuer, GATEHOUSE_OIDC_CLIENT_ID: CLI_CLIENT },
      });
      assert.equal(login.code, 1);
      assert.match(lastLine(login.err), /^gatehouse login: the code expired before the sign-in was completed/);
      assert.doesNotMatch(login.err, STACK);
      assert.equal(existsSync(ws.tokenFile), false);
    } finally {
      await shortLived.stop();
    }
  });

  test('usage and configuration errors are one line: no issuer is exit 2; plain http off loopback is refused', async () => {
    const ws = workspace('usage');
    const none = await runCli(['login', '--no-browser'], { cwd: ws.cwd, env: { XDG_CONFIG_HOME: ws.configHome } });
    assert.equal(none.code, 2);
    assert.match(none.err, /no issuer: pass --issuer/);
    const insecure = await runCli(['login', '--issuer', 'http://idp.example.com', '--client-id', CLI_CLIENT, '--no-browser'], { cwd: ws.cwd, env: { XDG_CONFIG_HOME: ws.configHome } });
    assert.equal(insecure.code, 1);
    assert.match(insecure.err, /must use https/);
    assert.doesNotMatch(insecure.err + none.err, STACK);
  });
});
