import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { createLogger } from '../../src/kernel/log.ts';
import { assertion, makeIdpKeys, response, sign, type AssertionOptions } from '../harness/saml-idp.ts';
import { accepted, refused, startSamlGateway, IDP, type SamlGateway } from './saml-kit.ts';

/**
 * Attacks on the SAML sign-in, each answered by the real gateway over HTTP. The IdP side signs
 * with a real RSA key (test/harness/saml-idp.ts, node:crypto); every refusal is checked to leave
 * the browser at the sign-in page without a session, and each class has a control case that the
 * same test accepts, so a check that stopped working would fail the test.
 */
describe('SAML sign-in attacks: all refused', () => {
  let g: SamlGateway;
  const logged: string[] = [];
  const other = makeIdpKeys('attacker');

  before(async () => {
    const sink = new PassThrough();
    sink.on('data', (b: Buffer) => logged.push(b.toString('utf8')));
    g = await startSamlGateway('', makeIdpKeys(), createLogger({ level: 'debug', destination: sink }));
  });
  after(async () => {
    await g?.close();
    // Whatever was refused, no assertion, NameID or certificate reached the log.
    const all = logged.join('');
    for (const s of ['Assertion', 'sam@example.com', 'admin@example.com', 'SAMLResponse', 'BEGIN CERTIFICATE']) assert.ok(!all.includes(s), `the log holds "${s}"`);
  });

  /** A signed assertion for the flow, over options. */
  const signedAssertion = (requestId: string, over: Partial<AssertionOptions> = {}): { xml: string; id: string } => {
    const a = assertion({ issuer: IDP, nameId: 'sam@example.com', inResponseTo: requestId, recipient: g.acs, audience: g.sp, ...over });
    return { xml: sign(a.xml, a.id, { keys: g.keys }), id: a.id };
  };
  const wrap = (requestId: string, body: string, extra: { extensions?: string; destination?: string } = {}): string =>
    response({ issuer: IDP, inResponseTo: requestId, destination: extra.destination ?? g.acs, body, ...(extra.extensions ? { extensions: extra.extensions } : {}) }).xml;

  test('control: a well-signed response is accepted', async () => {
    const s = await g.start();
    accepted(await g.post(g.good(s.requestId).xml));
  });

  test('unsigned assertion (unsigned response) and unsigned assertion inside a signed response', async () => {
    const s = await g.start();
    const a = assertion({ issuer: IDP, nameId: 'admin@example.com', inResponseTo: s.requestId, recipient: g.acs, audience: g.sp });
    refused(await g.post(wrap(s.requestId, a.xml)), /signature/);
    const s2 = await g.start();
    const a2 = assertion({ issuer: IDP, nameId: 'admin@example.com', inResponseTo: s2.requestId, recipient: g.acs, audience: g.sp });
    const r = response({ issuer: IDP, inResponseTo: s2.requestId, destination: g.acs, body: a2.xml });
    refused(await g.post(sign(r.xml, r.id, { keys: g.keys })), /signature/);
  });

  test('a signed assertion changed after signing (NameID, groups) is refused', async () => {
    const s = await g.start();
    const a = signedAssertion(s.requestId);
    refused(await g.post(wrap(s.requestId, a.xml.replace('sam@example.com', 'admin@example.com'))), /signature/);
  });

  test('signature wrapping (XSW): wherever the signed assertion and a forged one are put, nobody signs in as the forgery', async () => {
    type Placement = 'evil-first' | 'evil-last' | 'signed-inside-evil' | 'signed-in-extensions' | 'signed-in-signature-object' | 'signed-in-evil-subject';
    await fc.assert(fc.asyncProperty(
      fc.constantFrom<Placement>('evil-first', 'evil-last', 'signed-inside-evil', 'signed-in-extensions', 'signed-in-signature-object', 'signed-in-evil-subject'),
      fc.boolean(), // the forgery takes the signed assertion's ID
      fc.constantFrom('none', 'copy', 'move'), // the forgery gets the signature (copied, or moved off the signed one)
      fc.stringMatching(/^[a-z][a-z0-9.]{0,20}$/), // the forged user
      async (placement, sameId, sig, evilUser) => {
        const s = await g.start();
        const legit = signedAssertion(s.requestId, { nameId: 'sam@example.com' });
        const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(legit.xml)![0];
        const legitXml = sig === 'move' ? legit.xml.replace(signature, '') : legit.xml;
        const evil = assertion({ issuer: IDP, nameId: `${evilUser}@evil.test`, inResponseTo: s.requestId, recipient: g.acs, audience: g.sp, ...(sameId ? { id: legit.id } : {}) });
        const withSig = (xml: string, inner = ''): string => {
          const sigXml = placement === 'signed-in-signature-object' ? signature.replace('</ds:Signature>', `<ds:Object>${inner}</ds:Object></ds:Signature>`) : signature;
          const at = xml.indexOf('</saml:Issuer>') + '</saml:Issuer>'.length;
          return sig === 'none' && placement !== 'signed-in-signature-object' ? xml : xml.slice(0, at) + sigXml + xml.slice(at);
        };
        let xml: string;
        switch (placement) {
          case 'evil-first': xml = wrap(s.requestId, withSig(evil.xml) + legitXml); break;
          case 'evil-last': xml = wrap(s.requestId, legitXml + withSig(evil.xml)); break;
          case 'signed-inside-evil': xml = wrap(s.requestId, withSig(evil.xml).replace(/<\/saml:Assertion>$/, `${legitXml}</saml:Assertion>`)); break;
          case 'signed-in-extensions': xml = wrap(s.requestId, withSig(evil.xml), { extensions: `<samlp:Extensions>${legitXml}</samlp:Extensions>` }); break;
          case 'signed-in-signature-object': xml = wrap(s.requestId, withSig(evil.xml, legitXml)); break;
          case 'signed-in-evil-subject': xml = wrap(s.requestId, withSig(evil.xml).replace('</saml:Subject>', `${legitXml}</saml:Subject>`)); break;
        }
        const r = await g.post(xml);
        if (r.location.startsWith('/ui/auth/saml/finish')) {
          // Never as the forgery; the only acceptable sign-in would be as the signed user.
          const f = await g.finish(r.location, s.cookie);
          const me = await (await fetch(`${g.t.url}/ui/auth/session`, { headers: { cookie: f.session ?? '' } })).json() as { user?: string };
          assert.notEqual(me.user, `${evilUser}@evil.test`);
          assert.fail(`wrapped response accepted (${placement}, sameId=${sameId}, sig=${sig}) as ${me.user}`);
        }
        refused(r);
      },
    ), { numRuns: 40 });
  });

  test('wrong audience, and an assertion for another service provider (Recipient, Destination)', async () => {
    let s = await g.start();
    refused(await g.post(wrap(s.requestId, signedAssertion(s.requestId, { audience: 'https://other-sp.example/metadata' }).xml)), /audience/);
    s = await g.start();
    refused(await g.post(wrap(s.requestId, signedAssertion(s.requestId, { recipient: 'https://other-sp.example/acs' }).xml)), /Recipient/);
    s = await g.start();
    refused(await g.post(wrap(s.requestId, signedAssertion(s.requestId).xml, { destination: 'https://other-sp.example/acs' })), /Destination/);
  });

  test('expired, not yet valid and too old assertions; the clock-skew bound (60s) is honoured both ways', async () => {
    const now = Date.now();
    let s = await g.start();
    refused(await g.post(wrap(s.requestId, signedAssertion(s.requestId, { notBefore: now - 240_000, notOnOrAfter: now - 120_000, issueInstant: now - 200_000 }).xml)), /expired/);
    s = await g.start();
    refused(await g.post(wrap(s.requestId, signedAssertion(s.requestId, { notBefore: now + 600_000, notOnOrAfter: now + 900_000 }).xml)), /not yet valid|expired/);
    s = await g.start();
    refused(await g.post(wrap(s.requestId, signedAssertion(s.requestId, { issueInstant: now - 20 * 60_000, notBefore: now - 20 * 60_000 }).xml)), /expired|not yet valid/);
    // Within the skew: 30 s past NotOnOrAfter is still accepted; 30 s before NotBefore too.
    s = await g.start();
    accepted(await g.post(wrap(s.requestId, signedAssertion(s.requestId, { notBefore: now - 120_000, notOnOrAfter: now - 30_000, issueInstant: now - 60_000 }).xml)));
    s = await g.start();
    accepted(await g.post(wrap(s.requestId, signedAssertion(s.requestId, { notBefore: now + 30_000 }).xml)));
  });

  test('replay: the same response twice, and the same assertion id under a new request', async () => {
    const s = await g.start();
    const good = g.good(s.requestId);
    accepted(await g.post(good.xml));
    refused(await g.post(good.xml), /no sign-in in progress/);
    const s2 = await g.start();
    refused(await g.post(g.good(s2.requestId, { id: good.assertionId }).xml), /used before/);
  });

  test('unsolicited (IdP-initiated) responses and responses to requests never made are refused', async () => {
    const a = assertion({ issuer: IDP, nameId: 'sam@example.com', recipient: g.acs, audience: g.sp }); // no InResponseTo
    const unsolicited = response({ issuer: IDP, destination: g.acs, body: sign(a.xml, a.id, { keys: g.keys }) }).xml;
    refused(await g.post(unsolicited), /unsolicited/);
    refused(await g.post(g.good('_0123456789abcdef0123456789abcdef01234567').xml), /no sign-in in progress/);
    // A response for one request carrying an assertion made for another.
    const s1 = await g.start();
    const s2 = await g.start();
    refused(await g.post(wrap(s2.requestId, signedAssertion(s1.requestId).xml)), /InResponseTo|another request/);
  });

  test('comment injection in the NameID (admin@example.com<!---->.evil.test) is refused', async () => {
    const s = await g.start();
    const signed = signedAssertion(s.requestId, { nameId: 'admin@example.com.evil.test' });
    const injected = signed.xml.replace('admin@example.com.evil.test', 'admin@example.com<!---->.evil.test');
    refused(await g.post(wrap(s.requestId, injected)), /comments/);
  });

  test('XML entity expansion and external entities (XXE), in UTF-8 and UTF-16, are refused before parsing', async () => {
    const s = await g.start();
    const body = signedAssertion(s.requestId).xml;
    const xxe = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>${wrap(s.requestId, body.replace('sam@example.com', '&x;'))}`;
    refused(await g.post(xxe), /DOCTYPE/);
    const laughs = `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>${wrap(s.requestId, body.replace('sam@example.com', '&c;'))}`;
    refused(await g.post(laughs), /DOCTYPE/);
    const form = new URLSearchParams({ SAMLResponse: Buffer.from(`\uFEFF<?xml version="1.0" encoding="UTF-16"?>${xxe.replace(/^<\?xml[^>]*>/, '')}`, 'utf16le').toString('base64') });
    const r = await fetch(g.acs, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    refused({ status: r.status, location: r.headers.get('location') ?? '' });
  });

  test('a response signed with another key (its own certificate in KeyInfo), and an HMAC signature keyed with the IdP certificate', async () => {
    let s = await g.start();
    const a = assertion({ issuer: IDP, nameId: 'admin@example.com', inResponseTo: s.requestId, recipient: g.acs, audience: g.sp });
    refused(await g.post(wrap(s.requestId, sign(a.xml, a.id, { keys: other }))), /signature/);
    s = await g.start();
    const h = assertion({ issuer: IDP, nameId: 'admin@example.com', inResponseTo: s.requestId, recipient: g.acs, audience: g.sp });
    refused(await g.post(wrap(s.requestId, sign(h.xml, h.id, { keys: g.keys, hmac: true }))), /signature/);
  });

  test('RelayState and next cannot redirect off the console', async () => {
    for (const next of ['https://evil.example/', '//evil.example/ui/', '/ui/../\\evil.example', '/ui/auth/saml/start']) {
      const s = await g.start(next);
      const loc = accepted(await g.post(g.good(s.requestId).xml, 'https://evil.example/'));
      const f = await g.finish(loc, s.cookie);
      assert.equal(f.location, '/ui/inbox', `next=${next}`);
    }
  });

  test('bounded: an oversized response, a missing one, a non-form body, a holder-of-key confirmation', async () => {
    let s = await g.start();
    const pad = `<samlp:Extensions>${'x'.repeat(200 * 1024)}</samlp:Extensions>`;
    refused(await g.post(wrap(s.requestId, signedAssertion(s.requestId).xml, { extensions: pad })), /too large/);
    refused(await g.post(''), /no SAMLResponse|not base64/);
    const json = await fetch(g.acs, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: '{}' });
    refused({ status: json.status, location: json.headers.get('location') ?? '' }, /form/);
    s = await g.start();
    refused(await g.post(wrap(s.requestId, signedAssertion(s.requestId, { method: 'urn:oasis:names:tc:SAML:2.0:cm:holder-of-key' }).xml)), /bearer/);
    // The refusals were audited with their reasons (never the assertion).
    const audit = (await g.t.api('GET', '/api/v1/audit?kind=auth.failure&limit=200')).json as { items: { outcome: string; detail: { method: string } }[] };
    const reasons = new Set(audit.items.filter((e) => e.detail.method === 'saml').map((e) => e.outcome));
    for (const r of ['bad_signature', 'wrong_audience', 'wrong_recipient', 'expired', 'replayed', 'unsolicited', 'comment', 'dtd', 'too_large']) assert.ok(reasons.has(r), `audited reason ${r} (have ${[...reasons].join(', ')})`);
  });
});
