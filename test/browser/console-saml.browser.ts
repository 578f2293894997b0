import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { startSamlpIdp, type SamlpIdp } from '../harness/samlp-idp.ts';
import { launchBrowser, seriousA11y, shot, traps, watch, type TestBrowser } from './harness.ts';

/**
 * Console sign-in through a SAML identity provider from npm (samlp, not the code under test) in
 * Chromium: the sign-in page's SAML button, the IdP's own page, its auto-posted signed response
 * (from another site: localhost vs 127.0.0.1) to the ACS, back to the inbox signed in with the
 * IdP's user and mapped groups.
 */
describe('web console: SAML sign-in in Chromium', () => {
  let idp: SamlpIdp;
  let t: TestGateway;
  let browser: TestBrowser;

  before(async () => {
    idp = await startSamlpIdp({ acs: () => `${t.url}/ui/auth/saml/acs`, users: { sam: ['eng', 'unmapped'] } });
    t = await startTestGateway({
      env: { SAML_CERT: idp.keys.certPem },
      yaml: ['identity:', '  saml:', '    name: Test IdP', `    idp_entity_id: "${idp.entityId}"`, `    idp_sso_url: "${idp.ssoUrl}"`,
        '    idp_certificate: "${SAML_CERT}"', '    groups_attribute: groups', '    group_map: { eng: [developers] }'].join('\n'),
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await idp?.stop();
  });

  test('sign in at the IdP; the session carries its user and mapped groups; the sign-in page is accessible', async () => {
    const page = await (await browser.context()).newPage();
    const w = watch(page);
    await page.goto(`${t.url}/ui/sessions`);
    const button = page.getByRole('link', { name: 'Sign in with Test IdP (SAML)' });
    await button.waitFor();
    assert.deepEqual(await seriousA11y(page), []);
    await shot(page, 'signin-saml');
    await button.click();
    await page.getByLabel('User name').fill('sam');
    await page.getByRole('button', { name: 'Sign in at the IdP' }).click();
    await page.getByRole('heading', { name: 'Sessions', exact: true }).waitFor({ timeout: 15_000 }).catch(async (e: unknown) => {
      throw new Error(`${page.url()}: ${JSON.stringify((await t.api('GET', '/api/v1/audit?kind=auth.failure')).json)}`, { cause: e });
    });
    assert.match(page.url(), /\/ui\/sessions$/, 'back on the page the sign-in started from');
    assert.match(await page.locator('#who').innerText(), /sam \(saml\)/);
    const me = await page.evaluate<{ user: string; groups: string[]; method: string }>(`fetch('/ui/auth/session').then((r) => r.json())`);
    assert.deepEqual([me.user, me.groups, me.method], ['sam', ['developers'], 'saml']);
    const tr = await traps(page);
    assert.deepEqual(tr.csp, []);
    assert.equal(tr.xss, 0);
    assert.deepEqual(w.errors.filter((e) => !/status of (401|404)/.test(e)), []);

    // Another browser (its own cookie jar) is not signed in by this sign-in.
    const other = await (await browser.context()).newPage();
    await other.goto(`${t.url}/ui/signin`);
    assert.equal(await other.evaluate(`fetch('/ui/auth/session').then((r) => r.status)`), 401);
  });
});
