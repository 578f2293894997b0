import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accepted, refused, startSamlGateway, IDP, type SamlGateway } from './saml-kit.ts';

describe('console: SAML 2.0 sign-in (SP-initiated, signed assertions)', () => {
  let g: SamlGateway;
  before(async () => { g = await startSamlGateway('    group_map: { dba: [dba], ops: [operators] }'); });
  after(async () => { await g?.close(); });

  test('methods, SP metadata and the AuthnRequest', async () => {
    const m = await (await fetch(`${g.t.url}/ui/auth/methods`)).json() as { saml: { name: string } };
    assert.deepEqual(m.saml, { name: 'Example IdP' });
    const md = await fetch(`${g.t.url}/ui/auth/saml/metadata`);
    assert.equal(md.status, 200);
    const xml = await md.text();
    assert.ok(xml.includes(`entityID="${g.sp}"`), xml);
    assert.ok(xml.includes(`Location="${g.acs}"`));
    assert.ok(xml.includes('WantAssertionsSigned="true"'));
    const s = await g.start();
    assert.equal(`${s.location.origin}${s.location.pathname}`, 'https://idp.example.test/sso');
    assert.match(s.cookie, /^gatehouse_saml_state=[A-Za-z0-9_-]{32}$/);
    assert.match(s.relay, /^[A-Za-z0-9_-]{16}$/, 'RelayState is an opaque id, not a URL');
  });

  test('a signed assertion signs in with the NameID and the mapped groups; the session is a normal console session', async () => {
    const s = await g.start('/ui/audit');
    const r = await g.post(g.good(s.requestId).xml, s.relay);
    const f = await g.finish(accepted(r), s.cookie);
    assert.equal(f.status, 302);
    assert.equal(f.location, '/ui/audit');
    assert.ok(f.session, 'a console session cookie is set');
    const me = await (await fetch(`${g.t.url}/ui/auth/session`, { headers: { cookie: f.session } })).json() as { user: string; groups: string[]; method: string };
    assert.deepEqual([me.user, me.groups, me.method], ['sam@example.com', ['dba', 'operators'], 'saml']);
    const audit = (await g.t.api('GET', '/api/v1/audit?kind=console.sign_in')).json as { items: { user: string; detail: { method: string } }[] };
    assert.ok(audit.items.some((e) => e.user === 'sam@example.com' && e.detail.method === 'saml'));
  });

  test('login CSRF: the /finish step needs the cookie of the browser that started the sign-in', async () => {
    const s = await g.start();
    const loc = accepted(await g.post(g.good(s.requestId).xml, s.relay));
    const other = await g.start(); // another browser's (the victim's) cookie
    const f = await g.finish(loc, other.cookie);
    assert.equal(f.session, undefined);
    assert.match(f.location, /^\/ui\/signin\?error=/);
    const none = await g.finish(loc, '');
    assert.equal(none.session, undefined, 'the finish token was used up by the first try');
  });

  test('the IdP session end bounds the console session; a user id that is not a Gatehouse name is refused', async () => {
    const s = await g.start();
    const f = await g.finish(accepted(await g.post(g.good(s.requestId, { sessionNotOnOrAfter: Date.now() + 120_000 }).xml)), s.cookie);
    const me = await (await fetch(`${g.t.url}/ui/auth/session`, { headers: { cookie: f.session! } })).json() as { expires_at: string };
    assert.ok(Date.parse(me.expires_at) <= Date.now() + 121_000, me.expires_at);
    const s2 = await g.start();
    refused(await g.post(g.good(s2.requestId, { nameId: 'sam smith <x>' }).xml), /user id/);
  });

  test('issuer check: the IdP entity id is pinned', async () => {
    const s = await g.start();
    refused(await g.post(g.good(s.requestId, { issuer: `${IDP}/other` }).xml), /another identity provider/);
  });
});
