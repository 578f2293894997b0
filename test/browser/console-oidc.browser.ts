import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startOidcProvider, type OidcProviderHarness } from '../harness/oidc-provider.ts';
import { launchBrowser, shot, traps, watch, type TestBrowser } from './harness.ts';

/**
 * Console sign-in through a real OpenID provider (oidc-provider) in Chromium: authorization code
 * with PKCE, the provider's own sign-in page, back to the inbox signed in with the IdP's groups.
 */
describe('web console: OIDC sign-in in Chromium', () => {
  let op: OidcProviderHarness;
  let t: TestGateway;
  let browser: TestBrowser;

  before(async () => {
    op = await startOidcProvider({ audience: 'https://gatehouse.test', groups: ['dba'], authCode: { clientId: 'gatehouse-console', redirectPath: '/ui/auth/oidc/callback' } });
    t = await startTestGateway({
      yaml: ['identity:', '  issuers:', `    - { issuer: "${op.issuer}", audience: "https://gatehouse.test", console_client_id: gatehouse-console }`].join('\n'),
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await op?.stop();
  });

  test('sign in with the identity provider; the session carries its user and groups; a forged callback is refused', async () => {
    const page = await (await browser.context()).newPage();
    const w = watch(page);
    await page.goto(`${t.url}/ui/inbox`);
    await page.getByRole('link', { name: `Sign in with ${new URL(op.issuer).host}` }).click();
    await page.locator('input[name=login]').fill('erin', { timeout: 10_000 }).catch(async (e: unknown) => { throw new Error(`${page.url()}: ${JSON.stringify((await t.api('GET', '/api/v1/audit?kind=auth.failure')).json)}`, { cause: e }); });
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('heading', { name: 'Reviews' }).waitFor();
    assert.match(page.url(), /\/ui\/inbox$/);
    assert.match(await page.locator('#who').innerText(), /erin \(oidc\)/);
    const me = await page.evaluate<{ user: string; groups: string[]; method: string }>(`fetch('/ui/auth/session').then((r) => r.json())`);
    assert.deepEqual([me.user, me.groups, me.method], ['erin', ['dba'], 'oidc']);
    await shot(page, 'signin-oidc');
    const tr = await traps(page);
    assert.deepEqual(tr.csp, []);
    assert.deepEqual(w.errors.filter((e) => !/status of (401|404)/.test(e)), []);

    // A callback with a state this browser did not start is refused (no session).
    const forged = await fetch(`${t.url}/ui/auth/oidc/callback?state=abc&code=def`, { redirect: 'manual' });
    assert.equal(forged.status, 302);
    assert.match(forged.headers.get('location') ?? '', /^\/ui\/signin\?error=/);
    assert.equal(forged.headers.get('set-cookie'), null);
  });
});
