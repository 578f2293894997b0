import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { assertion, response, sign } from '../harness/saml-idp.ts';
import { accepted, refused, startSamlGateway, IDP, type SamlGateway } from './saml-kit.ts';

/**
 * Red-team attacks on the SAML sign-in beyond saml-attacks.test.ts, against the real gateway with
 * responses signed by a real RSA key: CDATA splitting of a signed NameID (exc-c14n turns CDATA
 * into text, so the digest still matches), two signed assertions in one response, and the
 * one-time code of `gatehouse login --saml` (reuse, a wrong verifier, the other endpoint).
 */
describe('SAML sign-in red team', () => {
  let g: SamlGateway;
  before(async () => { g = await startSamlGateway('    group_map: { dba: [dba], ops: [operators] }'); });
  after(async () => { await g?.close(); });

  const signed = (requestId: string, nameId: string, groups: string[] = ['dba']): { xml: string; id: string } => {
    const a = assertion({ issuer: IDP, nameId, inResponseTo: requestId, recipient: g.acs, audience: g.sp, attributes: { groups } });
    return { xml: sign(a.xml, a.id, { keys: g.keys }), id: a.id };
  };
  const wrap = (requestId: string, body: string): string => response({ issuer: IDP, inResponseTo: requestId, destination: g.acs, body }).xml;
  const session = async (cookie: string): Promise<{ user: string; groups: string[] }> =>
    await (await fetch(`${g.t.url}/ui/auth/session`, { headers: { cookie } })).json() as { user: string; groups: string[] };

  test('CDATA splitting a signed NameID verifies (exc-c14n) but does not truncate the user id: the whole signed text is the user', async () => {
    const s = await g.start();
    const a = signed(s.requestId, 'admin@example.com.evil.test');
    const split = a.xml.replace('admin@example.com.evil.test', 'admin@example.com<![CDATA[.evil.test]]>');
    assert.notEqual(split, a.xml);
    const r = await g.post(wrap(s.requestId, split), s.relay);
    const f = await g.finish(accepted(r), s.cookie);
    assert.ok(f.session);
    assert.equal((await session(f.session)).user, 'admin@example.com.evil.test');
  });

  test('two signed assertions in one response (the second for another user and group) are refused', async () => {
    const s = await g.start();
    const mine = signed(s.requestId, 'sam@example.com');
    const admin = signed(s.requestId, 'admin@example.com', ['ops']);
    for (const body of [mine.xml + admin.xml, admin.xml + mine.xml]) {
      refused(await g.post(wrap(s.requestId, body), s.relay));
    }
  });

  test('gatehouse login --saml code: bound to the verifier, used once, never a browser session', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const state = randomBytes(18).toString('base64url');
    const flow = async (): Promise<string> => {
      const res = await fetch(`${g.t.url}/ui/auth/saml/start?cli_port=40000&cli_challenge=${challenge}&cli_state=${state}`, { redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('set-cookie'), null, 'the CLI flow sets no browser cookie');
      const loc = new URL(res.headers.get('location') ?? '');
      const req = inflateRawSync(Buffer.from(loc.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
      const id = /\sID="([^"]+)"/.exec(req)?.[1] ?? '';
      const r = await g.post(g.good(id).xml);
      assert.equal(r.status, 303);
      const back = new URL(r.location);
      assert.equal(back.origin, 'http://127.0.0.1:40000', 'the code goes only to the loopback port');
      assert.equal(back.searchParams.get('state'), state);
      return back.searchParams.get('code') ?? '';
    };
    const token = (code: string, v: string) => fetch(`${g.t.url}/ui/auth/saml/token`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, code_verifier: v }),
    });
    // A stolen code without the verifier is refused, and burns the code.
    const c1 = await flow();
    assert.equal((await token(c1, 'x'.repeat(43))).status, 400);
    assert.equal((await token(c1, verifier)).status, 400, 'a refused exchange used the code up');
    // The right verifier exchanges it once.
    const c2 = await flow();
    const ok = await token(c2, verifier);
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(((await ok.json()) as { user: string }).user, 'sam@example.com');
    assert.equal((await token(c2, verifier)).status, 400, 'the code is used once');
    // A CLI code is not a browser sign-in (/finish refuses it even with some cookie).
    const c3 = await flow();
    const f = await g.finish(`/ui/auth/saml/finish?t=${c3}`, 'gatehouse_saml_state=x');
    assert.equal(f.session, undefined);
    // And a browser finish token is not a CLI code.
    const s = await g.start();
    const loc = accepted(await g.post(g.good(s.requestId).xml, s.relay));
    const t = new URL(loc, g.t.url).searchParams.get('t') ?? '';
    assert.equal((await token(t, verifier)).status, 400);
  });
});

describe('SAML sign-in red team: flooding /start', () => {
  let g: SamlGateway;
  before(async () => { g = await startSamlGateway(); });
  after(async () => { await g?.close(); });

  test('a flood of unauthenticated /ui/auth/saml/start does not lock out a sign-in started after it', async () => {
    const first = await g.start();
    for (let i = 0; i < 1100; i += 50) {
      await Promise.all(Array.from({ length: 50 }, async () => {
        const res = await fetch(`${g.t.url}/ui/auth/saml/start`, { redirect: 'manual' });
        assert.equal(res.status, 302, 'a new sign-in can always start');
        await res.arrayBuffer();
      }));
    }
    const s = await g.start();
    const f = await g.finish(accepted(await g.post(g.good(s.requestId).xml, s.relay)), s.cookie);
    assert.ok(f.session, 'the sign-in started after the flood completes');
    // Nothing is kept at /start (review 10), so nothing was dropped either: the sign-in started before the flood completes too.
    assert.ok((await g.finish(accepted(await g.post(g.good(first.requestId).xml, first.relay)), first.cookie)).session, 'the sign-in started before the flood completes');
  });
});
