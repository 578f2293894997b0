import { createHash, createHmac, createSign, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A SAML identity provider's signing side for tests, written here with node:crypto (not the
 * library under test): it builds responses and assertions directly in exclusive-c14n canonical
 * form (no whitespace between elements, namespace declarations only where exc-c14n renders them,
 * attributes in canonical order, explicit end tags), so the digest is over exactly the bytes it
 * writes, and signs them with RSA-SHA256 (or, for the key-confusion attack, HMAC).
 */

export const NS = {
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
};

export interface IdpKeys { readonly keyPem: string; readonly certPem: string }

/** An RSA key and a self-signed certificate (openssl, no shell). */
export function makeIdpKeys(cn = 'test-idp'): IdpKeys {
  const dir = mkdtempSync(join(tmpdir(), 'gh-saml-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', `/CN=${cn}`,
      '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    return { keyPem: readFileSync(join(dir, 'k.pem'), 'utf8'), certPem: readFileSync(join(dir, 'c.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function escText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');
}

export function escAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;').replace(/\t/g, '&#x9;').replace(/\n/g, '&#xA;').replace(/\r/g, '&#xD;');
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface AssertionOptions {
  id?: string;
  issuer: string;
  nameId: string;
  /** Raw XML placed as NameID content instead of the escaped `nameId` (comment injection). */
  nameIdRaw?: string;
  inResponseTo?: string;
  recipient: string;
  audience: string;
  /** ms since epoch */
  now?: number;
  notBefore?: number;
  notOnOrAfter?: number;
  issueInstant?: number;
  sessionNotOnOrAfter?: number;
  attributes?: Record<string, string[]>;
  method?: string;
}

/** A `saml:Assertion` in canonical form (unsigned). */
export function assertion(o: AssertionOptions): { xml: string; id: string } {
  const now = o.now ?? Date.now();
  const id = o.id ?? `_a${randomBytes(16).toString('hex')}`;
  const nb = iso(o.notBefore ?? now - 30_000);
  const noa = iso(o.notOnOrAfter ?? now + 5 * 60_000);
  const confirmData = `<saml:SubjectConfirmationData${o.inResponseTo === undefined ? '' : ` InResponseTo="${escAttr(o.inResponseTo)}"`} NotOnOrAfter="${noa}" Recipient="${escAttr(o.recipient)}"></saml:SubjectConfirmationData>`;
  const attrs = Object.entries(o.attributes ?? {}).map(([name, vals]) =>
    `<saml:Attribute Name="${escAttr(name)}">${vals.map((v) => `<saml:AttributeValue>${escText(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`).join('');
  const xml = `<saml:Assertion xmlns:saml="${NS.saml}" ID="${id}" IssueInstant="${iso(o.issueInstant ?? now)}" Version="2.0">`
    + `<saml:Issuer>${escText(o.issuer)}</saml:Issuer>`
    + `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">${o.nameIdRaw ?? escText(o.nameId)}</saml:NameID>`
    + `<saml:SubjectConfirmation Method="${o.method ?? 'urn:oasis:names:tc:SAML:2.0:cm:bearer'}">${confirmData}</saml:SubjectConfirmation></saml:Subject>`
    + `<saml:Conditions NotBefore="${nb}" NotOnOrAfter="${noa}"><saml:AudienceRestriction><saml:Audience>${escText(o.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>`
    + `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="_s1"${o.sessionNotOnOrAfter === undefined ? '' : ` SessionNotOnOrAfter="${iso(o.sessionNotOnOrAfter)}"`}><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`
    + (attrs === '' ? '' : `<saml:AttributeStatement>${attrs}</saml:AttributeStatement>`)
    + '</saml:Assertion>';
  return { xml, id };
}

export interface SignOptions {
  keys: IdpKeys;
  /** Sign with HMAC-SHA256 keyed with the certificate's PEM (the key-confusion attack). */
  hmac?: boolean;
}

/**
 * Signs the canonical element `xml` (whose root carries `ID="<id>"` and its own namespace
 * declarations): enveloped signature, exc-c14n, SHA-256 digest, inserted right after the root's
 * first `saml:Issuer` (where the SAML schema puts it).
 */
export function sign(xml: string, id: string, o: SignOptions): string {
  const digest = createHash('sha256').update(xml, 'utf8').digest('base64');
  const sigAlg = o.hmac ? 'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256' : 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
  const signedInfoBody = `<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:CanonicalizationMethod>`
    + `<ds:SignatureMethod Algorithm="${sigAlg}"></ds:SignatureMethod>`
    + `<ds:Reference URI="#${id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></ds:Transform>`
    + `<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:Transform></ds:Transforms>`
    + `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod><ds:DigestValue>${digest}</ds:DigestValue></ds:Reference>`;
  const canonicalSignedInfo = `<ds:SignedInfo xmlns:ds="${NS.ds}">${signedInfoBody}</ds:SignedInfo>`;
  const value = o.hmac
    ? createHmac('sha256', o.keys.certPem).update(canonicalSignedInfo).digest('base64')
    : createSign('RSA-SHA256').update(canonicalSignedInfo).sign(o.keys.keyPem, 'base64');
  const certB64 = o.keys.certPem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
  const signature = `<ds:Signature xmlns:ds="${NS.ds}"><ds:SignedInfo>${signedInfoBody}</ds:SignedInfo><ds:SignatureValue>${value}</ds:SignatureValue>`
    + `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certB64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>`;
  const at = xml.indexOf('</saml:Issuer>');
  if (at < 0) throw new Error('no Issuer to put the signature after');
  const cut = at + '</saml:Issuer>'.length;
  return xml.slice(0, cut) + signature + xml.slice(cut);
}

export interface ResponseOptions {
  id?: string;
  issuer: string;
  inResponseTo?: string;
  destination?: string;
  now?: number;
  /** The assertion(s) and anything else placed after the Status, as XML. */
  body: string;
  /** Extra XML between Issuer and Status (e.g. Extensions). */
  extensions?: string;
}

/** A `samlp:Response` in canonical form (unsigned). */
export function response(o: ResponseOptions): { xml: string; id: string } {
  const id = o.id ?? `_r${randomBytes(16).toString('hex')}`;
  const xml = `<samlp:Response xmlns:samlp="${NS.samlp}"${o.destination === undefined ? '' : ` Destination="${escAttr(o.destination)}"`} ID="${id}"`
    + `${o.inResponseTo === undefined ? '' : ` InResponseTo="${escAttr(o.inResponseTo)}"`} IssueInstant="${iso(o.now ?? Date.now())}" Version="2.0">`
    + `<saml:Issuer xmlns:saml="${NS.saml}">${escText(o.issuer)}</saml:Issuer>`
    + (o.extensions ?? '')
    + `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"></samlp:StatusCode></samlp:Status>`
    + o.body
    + '</samlp:Response>';
  return { xml, id };
}

export const b64 = (xml: string): string => Buffer.from(xml, 'utf8').toString('base64');
