import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { makeIdpKeys } from '../../test/harness/saml-idp.ts';
import { samlIdp } from './saml-config.ts';

const a = makeIdpKeys('idp-a');
const b = makeIdpKeys('idp-b');
const der = (pem: string): string => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
const metadata = (cert: string, entity = 'https://idp.example/md'): string =>
  `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entity}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">`
  + `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${der(cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
  + '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example/post"/>'
  + '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/redirect"/>'
  + '</md:IDPSSODescriptor></md:EntityDescriptor>';

function load(saml: string, files: Record<string, string> = {}): ReturnType<typeof samlIdp> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-samlcfg-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    writeFileSync(join(dir, 'gatehouse.yaml'), `identity:\n  saml:\n${saml}\n`);
    const c = loadConfig({ path: join(dir, 'gatehouse.yaml'), env: { A: a.certPem, B: b.certPem } });
    return samlIdp(c.identity.saml!, 'https://gh.example');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const configError = (fn: () => unknown, pattern: RegExp): void => {
  assert.throws(fn, (e: unknown) => isGatehouseError(e, 'config_invalid') && pattern.test(e.message));
};

test('identity.saml: explicit settings, defaults (SP entity id, skew), group map', () => {
  const idp = load('    idp_entity_id: https://idp.example\n    idp_sso_url: https://idp.example/sso\n    idp_certificate: "${A}"\n    group_map: { eng: [developers, dba], ops: operators }');
  assert.equal(idp.entityId, 'https://idp.example');
  assert.equal(idp.spEntityId, 'https://gh.example/ui/auth/saml/metadata');
  assert.equal(idp.clockSkewMs, 60_000);
  assert.equal(idp.maxAssertionAgeMs, 300_000);
  assert.deepEqual(idp.groupMap, { eng: ['developers', 'dba'], ops: ['operators'] });
  assert.equal(idp.certificates.length, 1);
});

test('identity.saml: metadata gives the entity id and the HTTP-Redirect SSO URL; the pinned certificate must be in it', () => {
  const idp = load('    idp_metadata: md.xml\n    idp_certificate: "${A}"', { 'md.xml': metadata(a.certPem) });
  assert.equal(idp.entityId, 'https://idp.example/md');
  assert.equal(idp.ssoUrl, 'https://idp.example/redirect');
  configError(() => load('    idp_metadata: md.xml\n    idp_certificate: "${B}"', { 'md.xml': metadata(a.certPem) }), /not among the signing certificates/);
  configError(() => load('    idp_metadata: md.xml\n    idp_entity_id: https://other\n    idp_certificate: "${A}"', { 'md.xml': metadata(a.certPem) }), /differs/);
  configError(() => load('    idp_metadata: md.xml\n    idp_certificate: "${A}"', { 'md.xml': `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${metadata(a.certPem)}` }), /DOCTYPE/);
  configError(() => load('    idp_metadata: missing.xml\n    idp_certificate: "${A}"'), /cannot read idp_metadata \(ENOENT\)/);
});

test('identity.saml: fails closed on a missing certificate, entity id or SSO URL, a large skew, a bad group', () => {
  configError(() => load('    idp_entity_id: x\n    idp_sso_url: https://i/sso\n    idp_certificate: "not a pem"'), /no PEM certificate/);
  configError(() => load('    idp_sso_url: https://i/sso\n    idp_certificate: "${A}"'), /idp_entity_id is required/);
  configError(() => load('    idp_entity_id: x\n    idp_certificate: "${A}"'), /idp_sso_url is required/);
  configError(() => load('    idp_entity_id: x\n    idp_sso_url: https://i/sso\n    idp_certificate: "${A}"\n    clock_skew: 10m'), /at most 5m/);
  configError(() => load('    idp_entity_id: x\n    idp_sso_url: https://i/sso\n    idp_certificate: "${A}"\n    group_map: { eng: "has space" }'), /invalid group/);
  const broken = a.certPem.replace(/(-----BEGIN CERTIFICATE-----\n)(.{10})/, '$1AAAAAAAAAA');
  configError(() => load('    idp_entity_id: x\n    idp_sso_url: https://i/sso\n    idp_certificate: "${C}"'.replace('${C}', broken.replace(/\n/g, '\\n'))), /does not parse/);
});
