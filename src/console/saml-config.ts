import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { DOMParser } from '@xmldom/xmldom';
import type { SamlConfig } from '../config/types.ts';
import { GatehouseError, isGatehouseError } from '../kernel/errors.ts';
import { isName } from '../identity/names.ts';
import type { SamlIdp } from './saml-login.ts';

const MAX_METADATA_BYTES = 1024 * 1024;
const MAX_CLOCK_SKEW_MS = 5 * 60_000;
const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

/**
 * The IdP the gateway trusts, from `identity.saml` (and its metadata file, when given). Throws
 * `config_invalid` naming the problem: no usable pinned certificate, a pinned certificate that
 * the metadata does not list, no entity id or SSO URL, a clock skew over 5 minutes, a group map
 * naming an invalid group. Nothing is fetched over the network.
 *
 * @example samlIdp(config.identity.saml, 'https://gatehouse.example.com').entityId
 */
export function samlIdp(c: SamlConfig, publicUrl: string): SamlIdp {
  const bad = (m: string): never => { throw new GatehouseError('config_invalid', `identity.saml: ${m}`); };
  const pinned = pemCertificates(c.idp_certificate, bad);
  if (pinned.length === 0) bad('idp_certificate holds no PEM certificate');
  const meta = c.idp_metadata === undefined ? undefined : readMetadata(c.idp_metadata, bad);
  if (meta) {
    const listed = new Set(meta.certificates.map((x) => x.fingerprint256));
    if (meta.certificates.length > 0 && !pinned.some((p) => listed.has(p.fingerprint256))) {
      bad('the pinned idp_certificate is not among the signing certificates of idp_metadata (a rotated or foreign metadata file?)');
    }
    if (c.idp_entity_id !== undefined && c.idp_entity_id !== meta.entityId) bad('idp_entity_id differs from the entityID of idp_metadata');
  }
  const entityId = c.idp_entity_id ?? meta?.entityId ?? bad('idp_entity_id is required (or idp_metadata)');
  const ssoUrl = c.idp_sso_url ?? meta?.ssoUrl ?? bad('idp_sso_url is required (or idp_metadata with an HTTP-Redirect SingleSignOnService)');
  if (!/^https?:\/\//.test(ssoUrl)) bad('the SSO URL must be http(s)');
  const clockSkewMs = c.clock_skew_ms;
  if (clockSkewMs > MAX_CLOCK_SKEW_MS) bad('clock_skew is at most 5m');
  const groupMap: Record<string, string[]> | undefined = c.group_map === undefined ? undefined : {};
  for (const [k, v] of Object.entries(c.group_map ?? {})) {
    const gs = typeof v === 'string' ? [v] : [...v];
    for (const g of gs) if (!isName(g)) bad(`group_map["${k.slice(0, 64)}"] names an invalid group "${String(g).slice(0, 64)}"`);
    groupMap![k] = gs;
  }
  return {
    name: c.name, entityId, ssoUrl,
    certificates: pinned.map((x) => x.toString()),
    spEntityId: c.sp_entity_id ?? `${publicUrl}/ui/auth/saml/metadata`,
    ...(c.user_attribute !== undefined ? { userAttribute: c.user_attribute } : {}),
    ...(c.groups_attribute !== undefined ? { groupsAttribute: c.groups_attribute } : {}),
    ...(groupMap ? { groupMap } : {}),
    clockSkewMs,
    maxAssertionAgeMs: c.max_assertion_age_ms,
  };
}

function pemCertificates(text: string, bad: (m: string) => never): X509Certificate[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch {
      return bad(`certificate ${i + 1} of idp_certificate does not parse`);
    }
  });
}

interface Metadata { entityId: string; ssoUrl?: string; certificates: X509Certificate[] }

function readMetadata(path: string, bad: (m: string) => never): Metadata {
  let xml: string;
  try {
    if (statSync(path).size > MAX_METADATA_BYTES) bad('idp_metadata is larger than 1 MB');
    xml = readFileSync(path, 'utf8');
  } catch (err) {
    if (isGatehouseError(err)) throw err;
    return bad(`cannot read idp_metadata (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) bad('idp_metadata has a DOCTYPE or entity declaration');
  const fail = (): never => bad('idp_metadata is not well-formed XML');
  const doc = new DOMParser({ errorHandler: { warning: () => undefined, error: fail, fatalError: fail } }).parseFromString(xml, 'text/xml');
  const idps = Array.from(doc.getElementsByTagNameNS(MD, 'IDPSSODescriptor'));
  if (idps.length !== 1) bad(`idp_metadata must describe exactly one identity provider (found ${idps.length})`);
  const idp = idps[0]!;
  const entity = idp.parentNode as unknown as { getAttribute?: (n: string) => string | null; localName?: string };
  const entityId = entity.localName === 'EntityDescriptor' ? entity.getAttribute?.('entityID') ?? '' : '';
  if (entityId === '') bad('idp_metadata has no entityID');
  const sso = Array.from(idp.getElementsByTagNameNS(MD, 'SingleSignOnService')).find((e) => e.getAttribute('Binding') === REDIRECT);
  const certificates: X509Certificate[] = [];
  for (const kd of Array.from(idp.getElementsByTagNameNS(MD, 'KeyDescriptor'))) {
    const use = kd.getAttribute('use');
    if (use !== null && use !== '' && use !== 'signing') continue;
    for (const x of Array.from(kd.getElementsByTagNameNS(DS, 'X509Certificate'))) {
      const b64 = (x.textContent ?? '').replace(/\s+/g, '');
      try {
        certificates.push(new X509Certificate(Buffer.from(b64, 'base64')));
      } catch {
        bad('a signing certificate in idp_metadata does not parse');
      }
    }
  }
  const loc = sso?.getAttribute('Location') ?? undefined;
  return { entityId, ...(loc ? { ssoUrl: loc } : {}), certificates };
}
