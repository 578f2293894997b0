import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SAML, ValidateInResponseTo, generateServiceProviderMetadata, type CacheItem, type CacheProvider, type Profile } from '@node-saml/node-saml';
import { DOMParser, type XmlDocument } from '@xmldom/xmldom';
import type { Clock } from '../kernel/clock.ts';
import { GatehouseError, isGatehouseError, type ErrorCode } from '../kernel/errors.ts';
import { readBody, readJson } from '../http/body.ts';
import { sendJson } from '../http/problem.ts';
import { isName, MAX_GROUPS } from '../identity/names.ts';
import type { Principal } from '../identity/principal.ts';
import { readCookie } from './sessions.ts';
import type { ConsoleSurface } from './surface.ts';
import type { ExternalSignIn, SignInOffer } from './external.ts';
import { bindingHash, type SignInFlows } from './signin-flows.ts';

/** One SAML 2.0 identity provider, as the gateway trusts it (see {@link samlSettings}). */
export interface SamlIdp {
  /** Shown on the sign-in button. */
  readonly name: string;
  /** The IdP's entity id: the signed assertion's `Issuer` must equal it. */
  readonly entityId: string;
  /** Where AuthnRequests go (HTTP-Redirect binding). */
  readonly ssoUrl: string;
  /** Pinned signing certificates (PEM). Only these verify a response. */
  readonly certificates: readonly string[];
  /** This gateway's entity id (the audience assertions must name). */
  readonly spEntityId: string;
  /** Attribute holding the user id; undefined: the NameID. */
  readonly userAttribute?: string;
  /** Attribute holding the groups; undefined: no groups from the IdP. */
  readonly groupsAttribute?: string;
  /** IdP value → Gatehouse groups. When set, only mapped values become groups. */
  readonly groupMap?: Readonly<Record<string, readonly string[]>>;
  /** Clock skew tolerated on every time check (bounded to 5 min by the config). */
  readonly clockSkewMs: number;
  /** An assertion older than this (from its IssueInstant) is refused. */
  readonly maxAssertionAgeMs: number;
}

export interface SamlLoginDeps {
  readonly clock: Clock;
  /** The gateway's public base URL: the ACS URL is `<publicUrl>/ui/auth/saml/acs`. */
  readonly publicUrl: string;
  readonly tls: boolean;
  /** Mints a Gatehouse token for `gatehouse login --saml` (the built-in issuer). */
  readonly issueToken: (p: Principal, expiresAt: number) => Promise<{ access_token: string; expires_in: number }>;
  /** Where flows in progress live (the store: the IdP's POST and the finish may reach any replica). */
  readonly flows: SignInFlows;
}

/** A SAMLResponse larger than this (decoded) is refused before it is parsed. */
export const MAX_SAML_RESPONSE_BYTES = 128 * 1024;
const FLOW_TTL_MS = 10 * 60_000;
const FINISH_TTL_MS = 60_000;
/** Used request-id markers kept (one per verified response, each until its request expires): refused past it. */
const MAX_USED = 50_000;
const MAX_NEXT_CHARS = 256;
/** Verified sign-ins waiting for their finish step (each lives a minute). */
const MAX_DONE = 10_000;
const MAX_SEEN_ASSERTIONS = 50_000;
/** Where the browser may go after sign-in: a console page other than a sign-in route. */
const NEXT = /^\/ui\/[A-Za-z0-9/_?=&.%-]*$/;
const MAX_SESSION_MS = 8 * 3_600_000;
const STATE_COOKIE = 'gatehouse_saml_state';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

interface Flow {
  /** SHA-256 of the random value bound to the browser (its cookie). */
  readonly binding: string;
  readonly next: string;
  /** `gatehouse login --saml`: the loopback port and the S256 challenge of its verifier. */
  readonly cli?: { readonly port: number; readonly challenge: string; readonly state: string };
  /** The AuthnRequest's IssueInstant (node-saml checks InResponseTo against it). */
  readonly created: string;
  /** When the request id stops being accepted (ms since the epoch). */
  readonly expiresAt: number;
}

interface Done { readonly principal: Principal; readonly binding: string; readonly next: string; readonly cli?: { readonly challenge: string } }

/** Refusal reasons that are not "the response is not a valid credential", with their registry code. */
const SAML_REASON_CODES: Readonly<Partial<Record<string, ErrorCode>>> = {
  bad_request: 'bad_request', dtd: 'bad_request', comment: 'bad_request', too_large: 'payload_too_large', busy: 'too_many_requests',
};

/**
 * Why a SAML response was refused: `reason`, a stable code for the audit log (never the
 * assertion), and `code`, the registry code (a response that is no valid sign-in is an
 * `invalid_credential`; a malformed post `bad_request`, an oversized one `payload_too_large`,
 * too many sign-ins at once `too_many_requests`).
 */
export class SamlRefused extends Error {
  override readonly name = 'SamlRefused';
  readonly reason: string;
  readonly code: ErrorCode;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
    this.code = SAML_REASON_CODES[reason] ?? 'invalid_credential';
  }
}

/**
 * Console (and `gatehouse login --saml`) sign-in with SAML 2.0, SP-initiated only.
 *
 * The AuthnRequest goes out by HTTP-Redirect; the response comes back by HTTP-POST to the ACS.
 * `@node-saml/node-saml` (≥ 5.1, which reads only the signed bytes) verifies the signature
 * against the pinned certificates with the assertion itself required to be signed, the
 * audience, the validity window and `InResponseTo`. On top of it, this class refuses: a response
 * with a DOCTYPE, entity, comment or processing instruction; more than
 * {@link MAX_SAML_RESPONSE_BYTES}; an Issuer other than the IdP's entity id; a bearer
 * confirmation whose Recipient is not our ACS, whose InResponseTo is not the request's, or that
 * has no NotOnOrAfter; a Destination other than our ACS; an assertion id seen before (replay
 * cache until its NotOnOrAfter); an unsolicited response (IdP-initiated sign-in is off). The
 * request id is self-authenticating — `_` + a token sealed with the master key
 * ({@link SignInFlows.sealToken}) holding the browser binding's hash, destination, CLI parameters
 * and expiry — so /start writes nothing; it is usable once, used up only after the response
 * was verified ({@link SignInFlows.consume}), so nobody can cancel a sign-in by posting junk for it. RelayState is an opaque random id, never a URL: after sign-in the
 * browser goes only to a `/ui/` page chosen when the flow started.
 *
 * The ACS is a cross-site POST (no SameSite cookie comes with it), so it does not sign in: it
 * redirects to `/ui/auth/saml/finish`, a top-level GET that carries the Lax cookie set when this
 * browser started the flow; only then does the session start (no login CSRF).
 *
 * The used request ids, the verified results waiting for their finish step and the assertion ids
 * seen are kept in the store ({@link SignInFlows}), written only after a verified response: any
 * replica may receive the IdP's POST or the finish, and each is used once across all of them.
 */
export class SamlLogin implements ExternalSignIn {
  readonly #idp: SamlIdp;
  readonly #deps: SamlLoginDeps;
  readonly #saml: SAML;
  // node-saml's request-id cache, only while it makes or checks one message (the store keeps the
  // flows): request id → created (ISO).
  readonly #pending = new Map<string, string>();
  #queue: Promise<unknown> = Promise.resolve();
  #nextId = '';

  constructor(idp: SamlIdp, deps: SamlLoginDeps) {
    this.#idp = idp;
    this.#deps = deps;
    const pending = this.#pending;
    const cache: CacheProvider = {
      saveAsync: (key: string, value: string): Promise<CacheItem | null> => {
        if (pending.has(key)) return Promise.resolve(null);
        pending.set(key, value);
        return Promise.resolve({ value, createdAt: Date.now() });
      },
      getAsync: (key: string) => Promise.resolve(pending.get(key) ?? null),
      removeAsync: (key: string | null) => {
        if (key === null) return Promise.resolve(null);
        const v = pending.get(key) ?? null;
        pending.delete(key);
        return Promise.resolve(v);
      },
    };
    this.#saml = new SAML({
      callbackUrl: this.acsUrl,
      entryPoint: idp.ssoUrl,
      issuer: idp.spEntityId,
      audience: idp.spEntityId,
      idpCert: [...idp.certificates],
      idpIssuer: idp.entityId,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      acceptedClockSkewMs: idp.clockSkewMs,
      maxAssertionAgeMs: idp.maxAssertionAgeMs,
      validateInResponseTo: ValidateInResponseTo.always,
      requestIdExpirationPeriodMs: FLOW_TTL_MS,
      cacheProvider: cache,
      generateUniqueId: () => this.#nextId,
      identifierFormat: null,
      disableRequestedAuthnContext: true,
      signatureAlgorithm: 'sha256',
    });
  }

  get acsUrl(): string { return `${this.#deps.publicUrl}/ui/auth/saml/acs`; }

  methods(): SignInOffer { return { saml: { name: this.#idp.name } }; }

  /** Handles a `/ui/auth/saml/…` route; undefined when the path is not one. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, ui: ConsoleSurface): Promise<string | undefined> {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/ui/auth/saml/metadata' && method === 'GET') { this.#metadata(res); return path; }
    if (path === '/ui/auth/saml/start' && method === 'GET') { await this.#start(req, res, url); return path; }
    if (path === '/ui/auth/saml/acs' && method === 'POST') { await this.#acs(req, res, ui); return path; }
    if (path === '/ui/auth/saml/finish' && method === 'GET') { await this.#finish(req, res, url, ui); return path; }
    if (path === '/ui/auth/saml/token' && method === 'POST') { await this.#token(req, res, ui); return path; }
    return undefined;
  }

  /** The SP metadata to register at the IdP (entity id, ACS, signed assertions wanted). */
  #metadata(res: ServerResponse): void {
    const xml = generateServiceProviderMetadata({
      issuer: this.#idp.spEntityId, callbackUrl: this.acsUrl, wantAssertionsSigned: true, identifierFormat: null,
    });
    res.writeHead(200, { 'content-type': 'application/samlmetadata+xml', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(xml);
  }

  async #start(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const next = url.searchParams.get('next') ?? '';
    const cli = cliParams(url);
    const binding = randomBytes(24).toString('base64url');
    // No store write (an unauthenticated /start costs no one anything): the request id carries the
    // flow, sealed. node-saml checks InResponseTo against when the request was made, on its own
    // (wall) clock, as it stamps the IssueInstant; the id is made first, so that instant is now.
    const created = new Date().toISOString();
    const id = `_${this.#deps.flows.sealToken('saml', {
      b: bindingHash(binding), x: next.length <= MAX_NEXT_CHARS && NEXT.test(next) && !next.startsWith('/ui/auth/') ? next : '/ui/inbox',
      c: created, ...(cli ? { cli } : {}),
    }, FLOW_TTL_MS)}`;
    const { target } = await this.#serial(async () => {
      this.#nextId = id;
      try {
        // RelayState is an opaque id (never a URL): the destination after sign-in is kept in the request id.
        return { target: await this.#saml.getAuthorizeUrlAsync(randomBytes(12).toString('base64url'), undefined, {}) };
      } finally {
        this.#pending.delete(id);
      }
    });
    const headers: Record<string, string> = { location: target, 'cache-control': 'no-store' };
    // Lax: the cookie must come back on the top-level GET to /finish after the IdP's POST.
    if (!cli) headers['set-cookie'] = `${STATE_COOKIE}=${binding}; Path=/ui/auth/saml; HttpOnly; SameSite=Lax; Max-Age=${FLOW_TTL_MS / 1000}${this.#deps.tls ? '; Secure' : ''}`;
    res.writeHead(302, headers);
    res.end();
  }

  async #acs(req: IncomingMessage, res: ServerResponse, ui: ConsoleSurface): Promise<void> {
    let result: { flow: Flow; principal: Principal };
    try {
      const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (ct !== 'application/x-www-form-urlencoded') throw new SamlRefused('bad_request', 'the SAML response must be posted as a form (HTTP-POST binding)');
      // base64 grows by 4/3; the form encoding of '+', '/' and '=' by up to 3×.
      const body = await readBody(req, MAX_SAML_RESPONSE_BYTES * 4 + 4096).catch((e: unknown) => {
        throw isGatehouseError(e, 'payload_too_large') ? new SamlRefused('too_large', 'the SAML response is too large') : e;
      });
      const form = new URLSearchParams(body.toString('latin1'));
      result = await this.#serial(() => this.validate(form.get('SAMLResponse') ?? ''));
    } catch (err) {
      const reason = err instanceof SamlRefused ? err.reason : 'invalid_response';
      await ui.auditSignIn(req, 'saml', reason);
      const message = err instanceof SamlRefused ? err.message : 'the SAML response was refused';
      res.writeHead(303, { location: `/ui/signin?error=${encodeURIComponent(`SAML sign-in failed: ${message}.`)}`, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    const { flow, principal } = result;
    const token = randomBytes(24).toString('base64url');
    const done: Done = { principal, binding: flow.binding, next: flow.next, ...(flow.cli ? { cli: { challenge: flow.cli.challenge } } : {}) };
    await this.#deps.flows.put('saml_done', token, { ttlMs: FINISH_TTL_MS, max: MAX_DONE, data: { ...done } });
    if (flow.cli) {
      await ui.auditSignIn(req, 'saml', 'ok', principal);
      const back = new URL(`http://127.0.0.1:${flow.cli.port}/callback`);
      back.search = new URLSearchParams({ code: token, state: flow.cli.state }).toString();
      res.writeHead(303, { location: back.href, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    res.writeHead(303, { location: `/ui/auth/saml/finish?t=${token}`, 'cache-control': 'no-store' });
    res.end();
  }

  async #finish(req: IncomingMessage, res: ServerResponse, url: URL, ui: ConsoleSurface): Promise<void> {
    const token = url.searchParams.get('t') ?? '';
    const done = await this.#takeDone(token); // one use, on every replica
    const bound = readCookie(req.headers.cookie, STATE_COOKIE);
    if (!done || done.cli || bound === undefined || !same(bindingHash(bound), done.binding)) {
      await ui.auditSignIn(req, 'saml', 'invalid_state');
      res.writeHead(302, { location: `/ui/signin?error=${encodeURIComponent('SAML sign-in failed: this browser did not start that sign-in, or it took too long; try again.')}`, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    await ui.startSession(res, done.principal, 'saml');
    res.appendHeader('set-cookie', `${STATE_COOKIE}=; Path=/ui/auth/saml; HttpOnly; SameSite=Lax; Max-Age=0`);
    await ui.auditSignIn(req, 'saml', 'ok', done.principal);
    res.writeHead(302, { location: done.next, 'cache-control': 'no-store' });
    res.end();
  }

  /** `gatehouse login --saml`: the one-time code and the PKCE verifier → a Gatehouse token. */
  async #token(req: IncomingMessage, res: ServerResponse, ui: ConsoleSurface): Promise<void> {
    const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (ct !== 'application/json') throw new GatehouseError('unsupported_media_type', 'send application/json');
    const body = await readJson(req, 4096);
    const o = typeof body === 'object' && body !== null && !Array.isArray(body) ? body as Record<string, unknown> : {};
    const code = typeof o.code === 'string' ? o.code : '';
    const verifier = typeof o.code_verifier === 'string' ? o.code_verifier : '';
    const done = await this.#takeDone(code); // one use, on every replica
    if (!done?.cli || !same(createHash('sha256').update(verifier).digest('base64url'), done.cli.challenge)) {
      await ui.auditSignIn(req, 'saml', 'invalid_grant');
      throw new GatehouseError('invalid_grant', 'the sign-in code is unknown, used, expired or does not match the verifier');
    }
    const p = done.principal;
    const t = await this.#deps.issueToken(p, p.expiresAt ?? this.#deps.clock.now() + MAX_SESSION_MS);
    sendJson(res, 200, { access_token: t.access_token, token_type: 'Bearer', expires_in: t.expires_in, user: p.id, groups: p.groups }, { 'cache-control': 'no-store' });
  }

  /**
   * Verifies a base64 `SAMLResponse` and returns the flow it answers and the principal; throws
   * {@link SamlRefused} (with a reason for the audit log) otherwise. Callers run it serially.
   */
  async validate(samlResponse: string): Promise<{ flow: Flow; principal: Principal }> {
    const xml = decodeResponse(samlResponse);
    const doc = parseStrict(xml);
    const root = doc.documentElement;
    if (!root || root.localName !== 'Response' || root.namespaceURI !== 'urn:oasis:names:tc:SAML:2.0:protocol') {
      throw new SamlRefused('invalid_response', 'not a SAML 2.0 Response');
    }
    const requestId = root.getAttribute('InResponseTo') ?? '';
    if (requestId === '') throw new SamlRefused('unsolicited', 'unsolicited responses (IdP-initiated sign-in) are not accepted; start the sign-in from Gatehouse');
    // A request id this gateway (any replica) minted, opened without touching the store; it is
    // used up only below, once the response is verified.
    const opened = requestId.startsWith('_') ? this.#deps.flows.openToken('saml', requestId.slice(1)) : undefined;
    const flow = opened ? flowOf(opened.data, opened.expiresAt) : undefined;
    if (!opened || !flow) throw new SamlRefused('unknown_request', UNKNOWN_REQUEST);
    const destination = root.getAttribute('Destination');
    if (destination !== null && destination !== '' && destination !== this.acsUrl) throw new SamlRefused('wrong_destination', 'the response is addressed to another service provider (Destination)');

    let profile: Profile | null;
    this.#pending.set(requestId, flow.created);
    try {
      ({ profile } = await this.#saml.validatePostResponseAsync({ SAMLResponse: samlResponse }));
    } catch (err) {
      throw new SamlRefused(classify(err), describe(err));
    } finally {
      this.#pending.delete(requestId);
    }
    if (!profile) throw new SamlRefused('unknown_request', 'the response answers no sign-in in progress');
    if (opened.expired) throw new SamlRefused('expired', 'the sign-in took too long');

    // Everything below reads the signed assertion only.
    const a = signedAssertion(profile);
    const now = this.#deps.clock.now();
    const skew = this.#idp.clockSkewMs;
    if (text(first(a.Issuer)) !== this.#idp.entityId) throw new SamlRefused('wrong_issuer', 'the assertion was issued by another identity provider');
    const assertionId = attr(a, 'ID');
    if (assertionId === undefined || assertionId.length > 256) throw new SamlRefused('invalid_response', 'the assertion has no ID');
    const subject = first(a.Subject);
    const confirmations = list(subject?.SubjectConfirmation).filter((c) => attr(c, 'Method') === BEARER);
    if (confirmations.length !== 1) throw new SamlRefused('invalid_response', 'the assertion needs exactly one bearer SubjectConfirmation');
    const data = first(confirmations[0]!.SubjectConfirmationData);
    if (attr(data, 'Recipient') !== this.acsUrl) throw new SamlRefused('wrong_recipient', 'the assertion is for another service provider (Recipient)');
    if (attr(data, 'InResponseTo') !== requestId) throw new SamlRefused('wrong_request', 'the assertion answers another request (InResponseTo)');
    const notOnOrAfter = time(attr(data, 'NotOnOrAfter'));
    if (notOnOrAfter === undefined) throw new SamlRefused('invalid_response', 'the bearer confirmation has no NotOnOrAfter');
    if (now >= notOnOrAfter + skew) throw new SamlRefused('expired', 'the assertion has expired');
    const conditions = list(a.Conditions);
    const audiences = conditions.flatMap((c) => list(c.AudienceRestriction));
    if (audiences.length === 0 || !audiences.every((r) => list(r.Audience).some((x) => text(x) === this.#idp.spEntityId))) {
      throw new SamlRefused('wrong_audience', 'the assertion is for another audience');
    }
    const condEnd = time(attr(conditions[0], 'NotOnOrAfter'));
    if (condEnd !== undefined && now >= condEnd + skew) throw new SamlRefused('expired', 'the assertion has expired');

    // The request id: used once, on every replica — written only now, for a verified response.
    const used = await this.#deps.flows.consume('saml', requestId, flow.expiresAt, MAX_USED);
    if (used === 'seen') throw new SamlRefused('unknown_request', UNKNOWN_REQUEST);
    if (used === 'full') throw new SamlRefused('busy', 'too many recent sign-ins; try again shortly');
    // Replay: an assertion id is accepted once (on any replica) until it could no longer be valid anyway.
    const seen = await this.#deps.flows.remember('saml_assertion', assertionId, Math.max(notOnOrAfter, condEnd ?? 0) + skew, MAX_SEEN_ASSERTIONS);
    if (seen === 'seen') throw new SamlRefused('replayed', 'this assertion was used before');
    if (seen === 'full') throw new SamlRefused('busy', 'too many recent sign-ins; try again shortly');

    const user = this.#idp.userAttribute === undefined ? profile.nameID : single((profile.attributes as Record<string, unknown> | undefined)?.[this.#idp.userAttribute]);
    if (!isName(user)) throw new SamlRefused('invalid_user', 'the identity provider sent no usable user id (letters, digits, . _ @ -; at most 128)');
    const groups = this.#groups(profile);
    const sessionEnd = time(attr(first(a.AuthnStatement), 'SessionNotOnOrAfter'));
    const expiresAt = Math.min(now + MAX_SESSION_MS, sessionEnd ?? Infinity);
    if (expiresAt <= now) throw new SamlRefused('expired', 'the identity provider session has ended');
    return { flow, principal: { kind: 'user', id: user, groups, via: 'saml', issuer: this.#idp.entityId, credentialId: assertionId, expiresAt } };
  }

  #groups(profile: Profile): string[] {
    const name = this.#idp.groupsAttribute;
    if (name === undefined) return [];
    const raw = (profile.attributes as Record<string, unknown> | undefined)?.[name];
    const values = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((v): v is string => typeof v === 'string');
    if (values.length > 4 * MAX_GROUPS) throw new SamlRefused('invalid_groups', `the identity provider sent more than ${4 * MAX_GROUPS} group values`);
    const map = this.#idp.groupMap;
    const out = new Set<string>();
    for (const v of values) {
      if (map) for (const g of Object.hasOwn(map, v) ? map[v]! : []) out.add(g);
      else if (isName(v)) out.add(v);
    }
    if (out.size > MAX_GROUPS) throw new SamlRefused('invalid_groups', `the sign-in maps to more than ${MAX_GROUPS} groups`);
    return [...out];
  }

  /** node-saml keeps per-instance state while it validates: one message at a time. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** The verified sign-in of a finish token or CLI code, removed from the store; undefined when unknown, used or expired. */
  async #takeDone(token: string): Promise<Done | undefined> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(token)) return undefined;
    const t = await this.#deps.flows.take('saml_done', token);
    if (!t || t.expired) return undefined;
    const d = t.data;
    const p = d.principal as Principal | undefined;
    const cli = d.cli as { challenge?: unknown } | undefined;
    if (typeof p !== 'object' || p === null || typeof d.binding !== 'string' || typeof d.next !== 'string' || !NEXT.test(d.next)) return undefined;
    if (cli !== undefined && typeof cli.challenge !== 'string') return undefined;
    return { principal: p, binding: d.binding, next: d.next, ...(cli ? { cli: { challenge: cli.challenge as string } } : {}) };
  }
}

const UNKNOWN_REQUEST = 'the response answers no sign-in in progress (unknown, used or expired request)';

/** A SAML flow as its request id carried it; undefined when it is not one. */
function flowOf(d: Record<string, unknown>, expiresAt: number): Flow | undefined {
  if (typeof d.b !== 'string' || typeof d.x !== 'string' || !NEXT.test(d.x) || typeof d.c !== 'string') return undefined;
  const cli = d.cli as Flow['cli'] | undefined;
  if (cli !== undefined && (typeof cli !== 'object' || cli === null || typeof cli.port !== 'number' || typeof cli.challenge !== 'string' || typeof cli.state !== 'string')) return undefined;
  return { binding: d.b, next: d.x, created: d.c, expiresAt, ...(cli ? { cli: { port: cli.port, challenge: cli.challenge, state: cli.state } } : {}) };
}

/** `cli_port` and `cli_challenge` of `gatehouse login --saml`, both or neither. */
function cliParams(url: URL): Flow['cli'] | undefined {
  const port = url.searchParams.get('cli_port');
  const challenge = url.searchParams.get('cli_challenge');
  const state = url.searchParams.get('cli_state');
  if (port === null && challenge === null) return undefined;
  const n = Number(port);
  if (!Number.isInteger(n) || n < 1024 || n > 65535 || challenge === null || !/^[A-Za-z0-9_-]{43}$/.test(challenge)
      || state === null || !/^[A-Za-z0-9_-]{16,64}$/.test(state)) {
    throw new GatehouseError('validation_failed', 'cli_port (1024–65535), cli_challenge (S256, base64url) and cli_state are required together');
  }
  return { port: n, challenge, state };
}

function same(a: string | undefined, b: string): boolean {
  const x = Buffer.from(a ?? '', 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Base64 → XML text, bounded; refuses what no IdP needs and parsers get wrong. */
function decodeResponse(b64: string): string {
  const compact = b64.replace(/[\r\n\t ]/g, '');
  if (compact === '') throw new SamlRefused('bad_request', 'no SAMLResponse in the form');
  if (compact.length > Math.ceil(MAX_SAML_RESPONSE_BYTES / 3) * 4) throw new SamlRefused('too_large', 'the SAML response is too large');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new SamlRefused('bad_request', 'the SAMLResponse is not base64');
  const xml = Buffer.from(compact, 'base64').toString('utf8');
  // No DTD (entity expansion, XXE), no comments (NameID comment injection), no processing
  // instructions but the XML declaration.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new SamlRefused('dtd', 'a DOCTYPE or entity declaration is not accepted in a SAML response');
  if (xml.includes('<!--')) throw new SamlRefused('comment', 'comments are not accepted in a SAML response');
  if (/<\?/.test(xml.replace(/^\uFEFF?<\?xml\s[^?]*\?>/, ''))) throw new SamlRefused('bad_request', 'processing instructions are not accepted in a SAML response');
  return xml;
}

function parseStrict(xml: string): XmlDocument {
  const fail = (): never => { throw new SamlRefused('bad_request', 'the SAML response is not well-formed XML'); };
  let doc: XmlDocument;
  try {
    doc = new DOMParser({ errorHandler: { warning: () => undefined, error: fail, fatalError: fail } }).parseFromString(xml, 'text/xml');
  } catch (err) {
    if (err instanceof SamlRefused) throw err;
    return fail();
  }
  return doc;
}

/** Sorts node-saml's error messages into audit reasons (the message never holds the assertion). */
function classify(err: unknown): string {
  const m = err instanceof Error ? err.message : '';
  if (/signature/i.test(m)) return 'bad_signature';
  if (/audience/i.test(m)) return 'wrong_audience';
  if (/expired|NotOnOrAfter|NotBefore|not yet valid|maxAssertionAge|too old/i.test(m)) return 'expired';
  if (/InResponseTo/i.test(m)) return 'wrong_request';
  if (/issuer/i.test(m)) return 'wrong_issuer';
  if (/subject confirmation/i.test(m)) return 'expired';
  if (/status|Responder|Requester/i.test(m)) return 'idp_error';
  return 'invalid_response';
}

const REASON_TEXT: Record<string, string> = {
  bad_signature: 'the signature is missing, invalid, not over the assertion, or not from the pinned IdP certificate',
  wrong_audience: 'the assertion is for another audience',
  expired: 'the assertion is expired or not yet valid (check the clocks)',
  wrong_request: 'the response answers another request (InResponseTo)',
  wrong_issuer: 'the assertion was issued by another identity provider',
  idp_error: 'the identity provider reported an error',
  invalid_response: 'the SAML response is malformed',
};

function describe(err: unknown): string {
  return REASON_TEXT[classify(err)] ?? 'the SAML response was refused';
}

// xml2js shapes (explicitCharkey, prefixes stripped) of the signed assertion.
type X = Record<string, unknown> & { $?: Record<string, unknown>; _?: unknown };

function signedAssertion(profile: Profile): X {
  const getter = (profile as { getAssertion?: () => unknown }).getAssertion;
  const doc = typeof getter === 'function' ? getter() as { Assertion?: unknown } : undefined;
  const a = doc?.Assertion;
  if (typeof a !== 'object' || a === null) throw new SamlRefused('invalid_response', 'no signed assertion');
  return a as X;
}

function list(v: unknown): X[] {
  return Array.isArray(v) ? v.filter((x): x is X => typeof x === 'object' && x !== null) : [];
}

function first(v: unknown): X | undefined {
  return list(v)[0];
}

function attr(x: X | undefined, name: string): string | undefined {
  const v = x?.$?.[name];
  return typeof v === 'string' ? v : undefined;
}

function text(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  const v = (x as X | undefined)?._;
  return typeof v === 'string' ? v : undefined;
}

function single(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function time(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}
