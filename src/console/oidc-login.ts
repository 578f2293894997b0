import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { Clock } from '../kernel/clock.ts';
import { GatehouseError, isGatehouseError } from '../kernel/errors.ts';
import { fetchJsonObject } from '../identity/bounded-fetch.ts';
import type { Principal } from '../identity/principal.ts';
import { readCookie } from './sessions.ts';
import type { ExternalSignIn, SignInOffer } from './external.ts';
import type { ConsoleSurface } from './surface.ts';
import { bindingHash, type SignInFlows } from './signin-flows.ts';

/** One OIDC issuer the console signs in with (authorization code + PKCE, public client). */
export interface OidcLoginIssuer {
  readonly issuer: string;
  /** Client id registered at the issuer with redirect URI `<public url>/ui/auth/oidc/callback`. */
  readonly clientId: string;
  /** Scopes asked for (default `openid groups`). */
  readonly scope: string;
}

/** What the OIDC sign-in needs from the gateway. */
export interface OidcLoginDeps {
  readonly clock: Clock;
  /** The gateway's public base URL (the redirect URI is built from it). */
  readonly publicUrl: string;
  readonly tls: boolean;
  /** Verifies an ID token of a configured issuer, accepting `audience` (the client id) too. */
  readonly verify: (idToken: string, audience: string) => Promise<Principal>;
  /** Where flows in progress live (the store: any replica may receive the callback). */
  readonly flows: SignInFlows;
}

const FLOW_TTL_MS = 10 * 60_000;
/** Used-state markers kept (one per completed sign-in, each until its state expires): refused past it. */
const MAX_USED = 50_000;
const MAX_NEXT_CHARS = 256;
const STATE_COOKIE = 'gatehouse_oidc_state';
/** Where the browser may go after sign-in: a console page. */
const NEXT = /^\/ui\/[A-Za-z0-9/_?=&.%-]*$/;

interface Flow { readonly issuer: OidcLoginIssuer; readonly verifier: string; readonly nonce: string; readonly next: string; readonly binding: string; readonly expiresAt: number }

/**
 * Console sign-in with OpenID Connect: authorization code flow with PKCE (S256), `state` bound to
 * the browser by a short-lived cookie and usable once, `nonce` checked in the ID token, which is
 * verified like any token of that issuer (discovery, JWKS, `iss`, `exp`, algorithms) with the
 * client id as audience. Groups and user come from the issuer's configured claims.
 *
 * Nothing is stored at /start: the `state` is a token sealed with the master key
 * ({@link SignInFlows.sealToken}) holding the issuer, PKCE verifier, nonce, destination, expiry
 * and the hash of a random value the browser keeps in a cookie. Any replica opens it at the
 * callback; the binding and expiry are checked first, and only after the ID token is verified is
 * the state used, once across all replicas ({@link SignInFlows.consume}).
 */
export class OidcLogin implements ExternalSignIn {
  readonly #issuers: readonly OidcLoginIssuer[];
  readonly #deps: OidcLoginDeps;

  constructor(issuers: readonly OidcLoginIssuer[], deps: OidcLoginDeps) {
    this.#issuers = issuers;
    this.#deps = deps;
  }

  methods(): SignInOffer {
    return { oidc: this.#issuers.map((i, n) => ({ id: String(n), name: new URL(i.issuer).host })) };
  }

  get #redirectUri(): string { return `${this.#deps.publicUrl}/ui/auth/oidc/callback`; }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, ui: ConsoleSurface): Promise<string | undefined> {
    const path = url.pathname;
    if ((req.method ?? 'GET') !== 'GET') return undefined;
    if (path === '/ui/auth/oidc/start') { await this.#start(req, res, url); return path; }
    if (path === '/ui/auth/oidc/callback') { await this.#callback(req, res, url, ui); return path; }
    return undefined;
  }

  async #start(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const n = Number(url.searchParams.get('issuer') ?? '0');
    const issuer = Number.isInteger(n) ? this.#issuers[n] : undefined;
    if (!issuer) throw new GatehouseError('not_found', 'no such OIDC issuer for the console');
    const meta = await fetchJsonObject(`${issuer.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, 5000);
    const authz = meta.authorization_endpoint;
    if (typeof authz !== 'string' || !/^https?:\/\//.test(authz)) throw new GatehouseError('upstream_error', 'the issuer has no authorization endpoint');
    const verifier = randomBytes(32).toString('base64url');
    const nonce = randomBytes(18).toString('base64url');
    const binding = randomBytes(24).toString('base64url');
    const next = url.searchParams.get('next') ?? '';
    // No store write: the state carries the flow, sealed (an unauthenticated /start costs no one anything).
    const state = this.#deps.flows.sealToken('oidc', {
      i: issuer.issuer, c: issuer.clientId, v: verifier, n: nonce, b: bindingHash(binding),
      x: next.length <= MAX_NEXT_CHARS && NEXT.test(next) ? next : '/ui/inbox',
    }, FLOW_TTL_MS);
    const target = new URL(authz);
    target.search = new URLSearchParams({
      response_type: 'code', client_id: issuer.clientId, redirect_uri: this.#redirectUri, scope: issuer.scope, state, nonce,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    }).toString();
    // Lax: the cookie must come back on the identity provider's top-level redirect to the callback.
    res.writeHead(302, {
      location: target.href, 'cache-control': 'no-store',
      'set-cookie': `${STATE_COOKIE}=${binding}; Path=/ui/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=${FLOW_TTL_MS / 1000}${this.#deps.tls ? '; Secure' : ''}`,
    });
    res.end();
  }

  async #callback(req: IncomingMessage, res: ServerResponse, url: URL, ui: ConsoleSurface): Promise<void> {
    const fail = async (why: string): Promise<void> => {
      await ui.auditSignIn(req, 'oidc', why);
      res.writeHead(302, { location: `/ui/signin?error=${encodeURIComponent('Sign-in with the identity provider failed; try again.')}`, 'cache-control': 'no-store' });
      res.end();
    };
    const state = url.searchParams.get('state') ?? '';
    // Checked before anything is used up: someone who learns the state cannot cancel the sign-in.
    const flow = this.#open(state);
    const bound = readCookie(req.headers.cookie, STATE_COOKIE);
    if (!flow || bound === undefined || !same(bindingHash(bound), flow.binding)) { await fail('invalid_state'); return; }
    if (this.#deps.clock.now() >= flow.expiresAt) { await fail('expired'); return; }
    const code = url.searchParams.get('code');
    if (!code || code.length > 4096) { await fail(url.searchParams.get('error') ?? 'no_code'); return; }
    let principal: Principal;
    try {
      const meta = await fetchJsonObject(`${flow.issuer.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, 5000);
      const tokenUrl = meta.token_endpoint;
      if (typeof tokenUrl !== 'string' || !/^https?:\/\//.test(tokenUrl)) throw new GatehouseError('upstream_error', 'the issuer has no token endpoint');
      const r = await fetch(tokenUrl, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, signal: AbortSignal.timeout(10_000),
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: this.#redirectUri, client_id: flow.issuer.clientId, code_verifier: flow.verifier }),
      });
      const text = await r.text();
      if (text.length > 64 * 1024) throw new GatehouseError('invalid_token', 'token response too large');
      const body = JSON.parse(text) as Record<string, unknown>;
      const idToken = body.id_token;
      if (!r.ok || typeof idToken !== 'string') throw new GatehouseError('invalid_token', 'no ID token');
      principal = await this.#deps.verify(idToken, flow.issuer.clientId);
      if (decodeJwt(idToken).nonce !== flow.nonce) throw new GatehouseError('invalid_token', 'nonce mismatch');
      if (principal.issuer !== undefined && principal.issuer !== flow.issuer.issuer) throw new GatehouseError('invalid_token', 'issuer mismatch');
    } catch (err) {
      await fail(isGatehouseError(err) ? err.code : 'invalid_token');
      return;
    }
    // One use, on every replica: written only now, after the identity provider's genuine answer.
    const used = await this.#deps.flows.consume('oidc', state, flow.expiresAt, MAX_USED);
    if (used !== 'new') { await fail(used === 'seen' ? 'invalid_state' : 'busy'); return; }
    await ui.startSession(res, principal, 'oidc');
    res.appendHeader('set-cookie', `${STATE_COOKIE}=; Path=/ui/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=0`);
    await ui.auditSignIn(req, 'oidc', 'ok', principal);
    res.writeHead(302, { location: flow.next, 'cache-control': 'no-store' });
    res.end();
  }

  /** The flow sealed in `state`; undefined when forged, malformed or for an issuer no longer configured. */
  #open(state: string): Flow | undefined {
    const f = this.#deps.flows.openToken('oidc', state);
    if (!f) return undefined;
    const d = f.data;
    const issuer = this.#issuers.find((i) => i.issuer === d.i && i.clientId === d.c);
    if (!issuer || typeof d.v !== 'string' || typeof d.n !== 'string' || typeof d.b !== 'string' || typeof d.x !== 'string' || !NEXT.test(d.x)) return undefined;
    return { issuer, verifier: d.v, nonce: d.n, next: d.x, binding: d.b, expiresAt: f.expiresAt };
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
