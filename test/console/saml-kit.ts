import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import type { Logger } from '../../src/kernel/log.ts';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { assertion, b64, makeIdpKeys, response, sign, type AssertionOptions, type IdpKeys } from '../harness/saml-idp.ts';

export const IDP = 'https://idp.example.test/saml';
export const SSO = 'https://idp.example.test/sso';

/** A gateway with `identity.saml` trusting `keys`, and helpers that speak to it like a browser. */
export interface SamlGateway {
  readonly t: TestGateway;
  readonly keys: IdpKeys;
  readonly acs: string;
  readonly sp: string;
  /** Starts a sign-in: the AuthnRequest's id, the browser's state cookie, the RelayState sent. */
  start(next?: string): Promise<{ requestId: string; cookie: string; relay: string; location: URL }>;
  /** A signed assertion for `requestId` (overrides win), wrapped in an unsigned Response. */
  good(requestId: string, over?: Partial<AssertionOptions>): { xml: string; assertionId: string };
  /** POSTs a SAMLResponse (base64 of `xml`) to the ACS; returns the redirect target. */
  post(xml: string, relay?: string, extra?: Record<string, string>): Promise<{ status: number; location: string }>;
  /** Follows a /finish redirect with the browser's state cookie; returns the console cookie, if any. */
  finish(location: string, cookie: string): Promise<{ status: number; location: string; session?: string }>;
  close(): Promise<void>;
}

export async function startSamlGateway(yaml = '', keys: IdpKeys = makeIdpKeys(), log?: Logger): Promise<SamlGateway> {
  const t = await startTestGateway({
    ...(log ? { log } : {}),
    env: { SAML_CERT: keys.certPem },
    yaml: ['identity:', '  saml:', '    name: "Example IdP"', `    idp_entity_id: "${IDP}"`, `    idp_sso_url: "${SSO}"`,
      '    idp_certificate: "${SAML_CERT}"', '    groups_attribute: groups', yaml].join('\n'),
  });
  const acs = `${t.url}/ui/auth/saml/acs`;
  const sp = `${t.url}/ui/auth/saml/metadata`;
  const g: SamlGateway = {
    t, keys, acs, sp,
    async start(next) {
      const res = await fetch(`${t.url}/ui/auth/saml/start${next === undefined ? '' : `?next=${encodeURIComponent(next)}`}`, { redirect: 'manual' });
      assert.equal(res.status, 302, await res.clone().text());
      const location = new URL(res.headers.get('location') ?? '');
      const request = inflateRawSync(Buffer.from(location.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
      const requestId = /\sID="([^"]+)"/.exec(request)?.[1];
      assert.ok(requestId, 'the AuthnRequest has an ID');
      return { requestId, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, relay: location.searchParams.get('RelayState') ?? '', location };
    },
    good(requestId, over = {}) {
      const a = assertion({ issuer: IDP, nameId: 'sam@example.com', inResponseTo: requestId, recipient: acs, audience: sp, attributes: { groups: ['dba', 'ops'] }, ...over });
      const signed = sign(a.xml, a.id, { keys });
      return { xml: response({ issuer: IDP, inResponseTo: requestId, destination: acs, body: signed }).xml, assertionId: a.id };
    },
    async post(xml, relay, extra = {}) {
      const form = new URLSearchParams({ SAMLResponse: b64(xml), ...(relay === undefined ? {} : { RelayState: relay }), ...extra });
      // The IdP's page posts it: a foreign Origin, no cookie (SameSite).
      const res = await fetch(acs, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://idp.example.test' }, body: form });
      return { status: res.status, location: res.headers.get('location') ?? '' };
    },
    async finish(location, cookie) {
      const res = await fetch(new URL(location, t.url), { redirect: 'manual', headers: cookie === '' ? {} : { cookie } });
      const set = res.headers.getSetCookie().find((c) => c.startsWith('gatehouse_console='));
      return { status: res.status, location: res.headers.get('location') ?? '', ...(set ? { session: set.split(';')[0]! } : {}) };
    },
    close: () => t.close(),
  };
  return g;
}

/** Asserts that the ACS refused the response (back to the sign-in page with an error) and returns the message. */
export function refused(r: { status: number; location: string }, pattern?: RegExp): string {
  assert.equal(r.status, 303);
  assert.match(r.location, /^\/ui\/signin\?error=/, `expected a refusal, got ${r.location}`);
  const msg = new URL(r.location, 'http://x').searchParams.get('error') ?? '';
  if (pattern) assert.match(msg, pattern);
  return msg;
}

/** Asserts that the ACS accepted the response (a /finish redirect). */
export function accepted(r: { status: number; location: string }): string {
  assert.equal(r.status, 303);
  assert.match(r.location, /^\/ui\/auth\/saml\/finish\?t=/, `expected acceptance, got ${decodeURIComponent(r.location)}`);
  return r.location;
}
