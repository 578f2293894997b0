import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startOidcProvider } from '../harness/oidc-provider.ts';

type Provider = Awaited<ReturnType<typeof startOidcProvider>>;

const POLICIES = `
@id("sso-admins")
permit (principal in Group::"platform-admins", action == Action::"admin", resource);

@id("developers-read")
permit (principal in Group::"developers", action == Action::"sql.read", resource);
`;

async function token(url: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

describe('identity through the gateway', () => {
  let idp: Provider;
  let t: TestGateway;
  before(async () => {
    idp = await startOidcProvider({ audience: 'https://gatehouse.test/api', groups: ['platform-admins', 'developers'] });
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'identity:',
        `  issuers: [ { issuer: "${idp.issuer}", audience: "https://gatehouse.test/api", groups_claim: groups } ]`,
        'connections:',
        '  - { name: crm, type: postgres, url: "postgres://app@127.0.0.1:5432/crm" }',
      ].join('\n'),
    });
  });
  after(async () => {
    await t?.close();
    await idp?.stop();
  });

  test('discovery and JWKS of the built-in issuer', async () => {
    const disc = await (await fetch(`${t.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    assert.equal(disc.issuer, t.url);
    assert.equal(disc.jwks_uri, `${t.url}/oauth/jwks`);
    const jwks = await (await fetch(`${t.url}/oauth/jwks`)).json() as { keys: Record<string, unknown>[] };
    assert.ok(jwks.keys.length >= 1);
    for (const k of jwks.keys) {
      assert.equal(k.kty, 'EC');
      assert.equal(k.d, undefined, 'no private key material in the JWKS');
    }
  });

  test('a token from the real OIDC provider is accepted and its groups reach Cedar', async () => {
    const jwt = await idp.getToken();
    const ok = await t.api('GET', '/api/v1/api-keys', undefined, jwt);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const explain = await t.api('POST', '/api/v1/policy/explain', { principal: 'someone', action: 'admin' }, jwt);
    assert.equal(explain.status, 200);
    const audit = await t.api('GET', '/api/v1/audit?kind=policy.decision&limit=5', undefined, jwt);
    const items = audit.json.items as { user?: string; detail: { reasons: string[]; via: string } }[];
    assert.ok(items.some((e) => e.detail.via === 'oidc' && e.detail.reasons.includes('sso-admins')));
  });

  test('client_credentials and RFC 8693 token exchange produce sub and act.sub', async () => {
    const userKey = (await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] })).json.key as string;
    const agentKey = (await t.api('POST', '/api/v1/api-keys', { agent: 'report-bot', groups: ['agents'] })).json.key as string;

    const cc = await token(t.url, { grant_type: 'client_credentials', client_secret: agentKey });
    assert.equal(cc.status, 200, JSON.stringify(cc.body));
    assert.equal(cc.body.token_type, 'Bearer');
    const agentJwt = cc.body.access_token as string;
    assert.equal(decodeJwt(agentJwt).sub, 'report-bot');

    const ex = await token(t.url, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: userKey, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      actor_token: agentJwt, actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    });
    assert.equal(ex.status, 200, JSON.stringify(ex.body));
    const claims = decodeJwt(ex.body.access_token as string);
    assert.equal(claims.sub, 'alice');
    assert.equal((claims.act as { sub: string }).sub, 'report-bot');
    assert.equal(claims.iss, t.url);

    // The delegated token authenticates; alice is no admin, so the admin API says 403, not 401.
    const res = await t.api('GET', '/api/v1/api-keys', undefined, ex.body.access_token as string);
    assert.equal(res.status, 403);
    const audit = await t.api('GET', '/api/v1/audit?kind=policy.decision&user=alice&limit=5');
    const last = (audit.json.items as { user: string; agent?: string }[])[0];
    assert.equal(last?.agent, 'report-bot', 'the audit event records the user and the agent');
  });

  test('token endpoint errors are RFC 6749 JSON', async () => {
    const bad = await token(t.url, { grant_type: 'client_credentials', client_secret: 'ghk_wrongwrongwrongwrongwrongwrongwrong00' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error, 'invalid_client');
    const grant = await token(t.url, { grant_type: 'password', username: 'a', password: 'b' });
    assert.equal(grant.status, 400);
    assert.equal(grant.body.error, 'unsupported_grant_type');
    const notForm = await fetch(`${t.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(notForm.status, 400);
  });
});
