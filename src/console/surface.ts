import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';
import type { ApiKeys } from '../identity/api-keys.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { HostGuard } from '../http/host-guard.ts';
import type { SqlExecutor } from '../store/sql.ts';
import { GatehouseError, isGatehouseError } from '../kernel/errors.ts';
import { readJson } from '../http/body.ts';
import { sendJson } from '../http/problem.ts';
import type { Principal } from '../identity/principal.ts';
import { ConsoleSessions, SignInLimiter, readCookie, sessionCookieName, type ConsoleSession, type SignInMethod } from './sessions.ts';
import { ConsoleAssets, consoleHeaders } from './static.ts';
import type { ExternalSignIn } from './external.ts';

/** Pages of the single-page front end: every one answers with `index.html`. */
const PAGES = /^\/ui(\/(inbox|reviews(\/rv_[0-9A-Za-z]{16})?|sessions(\/[A-Za-z0-9_.:-]{1,128})?|audit|admin|playground|signin)?)?\/?$/;
const ASSET = /^\/ui\/assets\/([a-z0-9-]{1,64}\.(js|css|svg|png))$/;

/** What the console needs from the gateway (the composition root passes its services). */
export interface ConsoleDeps {
  /** Served over TLS (or behind an https public URL): the cookie is `Secure` with the `__Host-` prefix. */
  readonly tls: boolean;
  readonly clock: Clock;
  readonly apiKeys: Pick<ApiKeys, 'verify' | 'assertLive' | 'onRevoked'>;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly log: Pick<Logger, 'error'>;
  /** Counts a failed sign-in (the auth-failure metric). */
  readonly authFailed: () => void;
  /** The store that keeps console sessions (shared by replicas); without it, this process's memory. */
  readonly db?: SqlExecutor;
}

/**
 * The web console's server side (SPEC: console): the front end at `/ui` (the root redirects
 * there), sign-in (API key; OIDC and SAML through {@link ExternalSignIn}), and the session cookie
 * the admin API then accepts in place of a bearer credential — with the CSRF token on every
 * mutation. All data the pages show comes from `/api/v1`; nothing here duplicates its logic.
 */
export class ConsoleSurface {
  readonly sessions: ConsoleSessions;
  readonly #svc: ConsoleDeps;
  readonly #guard: HostGuard;
  readonly #assets: ConsoleAssets;
  readonly #tls: boolean;
  readonly #cookie: string;
  readonly #headers: Record<string, string>;
  readonly #external: readonly ExternalSignIn[];
  readonly #signIns: SignInLimiter;

  constructor(svc: ConsoleDeps, guard: HostGuard, external: readonly ExternalSignIn[] = []) {
    this.#svc = svc;
    this.#guard = guard;
    this.#tls = svc.tls;
    this.#cookie = sessionCookieName(this.#tls);
    this.#headers = consoleHeaders(this.#tls);
    this.#assets = new ConsoleAssets();
    this.sessions = new ConsoleSessions(svc.clock, {}, svc.db ?? 'memory');
    this.#external = external;
    this.#signIns = new SignInLimiter(svc.clock);
    // A revoked API key ends the console sessions it signed in at once.
    svc.apiKeys.onRevoked((id) => {
      if (id !== undefined) this.sessions.revokeKey(id).catch((e: unknown) => { svc.log.error({ err: String(e) }, 'console session revocation failed'); });
    });
  }

  /**
   * The console session a request carries (cookie), or undefined when it carries none. A
   * cookie that names no live session is `unauthenticated`; a mutation (any method but GET/HEAD)
   * without the session's `x-csrf-token` is `csrf_failed`. A session signed in with an API key
   * lives only while that key does.
   */
  async fromCookie(req: IncomingMessage): Promise<ConsoleSession | undefined> {
    const token = readCookie(req.headers.cookie, this.#cookie);
    if (token === undefined) return undefined;
    const s = await this.sessions.lookup(token);
    if (!s) throw new GatehouseError('unauthenticated', 'the console session ended; sign in again');
    if (s.principal.via === 'api_key' && s.principal.credentialId !== undefined) {
      try {
        await this.#svc.apiKeys.assertLive(s.principal.credentialId);
      } catch (err) {
        await this.sessions.end(token);
        throw isGatehouseError(err) ? err : new GatehouseError('invalid_credential');
      }
    }
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      const sent = req.headers['x-csrf-token'];
      ConsoleSessions.checkCsrf(s, typeof sent === 'string' ? sent : undefined);
    }
    return s;
  }

  /** Handles `/`, `/ui…`; returns the route label, or undefined when the path is not the console's. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<string | undefined> {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/') {
      if (method !== 'GET' && method !== 'HEAD') throw new GatehouseError('method_not_allowed', 'allowed: GET', { allow: ['GET'] });
      res.writeHead(302, { location: '/ui/', 'cache-control': 'no-store' });
      res.end();
      return '/';
    }
    if (path !== '/ui' && !path.startsWith('/ui/')) return undefined;
    // The SAML assertion consumer service is posted to by the identity provider's page (a foreign
    // Origin by design); the signed assertion, not the Origin, authenticates it. Host still applies.
    if (path === '/ui/auth/saml/acs') this.#guard.checkHost(req.headers);
    else this.#guard.check(req.headers);
    if (path.startsWith('/ui/auth/')) return this.#auth(req, res, url);
    if (method !== 'GET' && method !== 'HEAD') throw new GatehouseError('method_not_allowed', 'allowed: GET', { allow: ['GET'] });
    const inm = req.headers['if-none-match'];
    const asset = ASSET.exec(path);
    if (asset && this.#assets.serve(asset[1]!, res, this.#headers, inm, method === 'HEAD')) return '/ui/assets';
    if (PAGES.test(path)) {
      this.#assets.serve('index.html', res, this.#headers, inm, method === 'HEAD');
      return '/ui';
    }
    throw new GatehouseError('not_found', 'no such console page');
  }

  /** Starts a session for `principal` and sets its cookie on `res` (which the caller ends). */
  async startSession(res: ServerResponse, principal: Principal, method: SignInMethod): Promise<ConsoleSession> {
    const s = await this.sessions.create(principal, method);
    res.setHeader('set-cookie', this.#setCookie(s.token, this.sessions.maxAgeS));
    return s;
  }

  /** Audits a console sign-in (success or failure); never the credential. */
  async auditSignIn(req: IncomingMessage, method: SignInMethod, outcome: string, principal?: Principal): Promise<void> {
    if (outcome !== 'ok') this.#svc.authFailed();
    await this.#svc.audit.append({
      kind: outcome === 'ok' ? 'console.sign_in' : 'auth.failure', outcome,
      ...(principal ? { user: principal.id } : {}),
      detail: { surface: 'console', method, remote: req.socket.remoteAddress ?? null },
    }).catch((e: unknown) => { this.#svc.log.error({ err: String(e) }, 'audit append failed'); });
  }

  /** The headers every console response carries. */
  get headers(): Record<string, string> { return this.#headers; }

  async #auth(req: IncomingMessage, res: ServerResponse, url: URL): Promise<string> {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/ui/auth/methods' && method === 'GET') {
      const offers = this.#external.map((e) => e.methods());
      const saml = offers.find((o) => o.saml)?.saml;
      sendJson(res, 200, { api_key: true, oidc: offers.flatMap((o) => o.oidc ?? []), saml: saml ?? false }, this.#headers);
      return path;
    }
    if (path === '/ui/auth/session' && method === 'GET') {
      const s = await this.fromCookie(req);
      if (!s) throw new GatehouseError('unauthenticated', 'not signed in');
      sendJson(res, 200, sessionView(s), this.#headers);
      return path;
    }
    if (path === '/ui/auth/api-key' && method === 'POST') {
      requireJson(req);
      const body = await readJson(req, 8 * 1024);
      const key = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>).key : undefined;
      if (typeof key !== 'string' || key.length === 0) throw new GatehouseError('validation_failed', '"key" is required');
      let principal: Principal;
      try {
        principal = await this.#svc.apiKeys.verify(key.trim());
      } catch (err) {
        await this.auditSignIn(req, 'api_key', isGatehouseError(err) ? err.code : 'invalid_credential');
        throw isGatehouseError(err) ? err : new GatehouseError('invalid_credential');
      }
      try {
        this.#signIns.take(principal);
      } catch (err) {
        await this.auditSignIn(req, 'api_key', 'too_many_requests', principal);
        throw err;
      }
      const s = await this.startSession(res, principal, 'api_key');
      await this.auditSignIn(req, 'api_key', 'ok', principal);
      sendJson(res, 200, sessionView(s), this.#headers);
      return path;
    }
    if (path === '/ui/auth/logout' && method === 'POST') {
      const s = await this.fromCookie(req);
      if (s) await this.sessions.end(readCookie(req.headers.cookie, this.#cookie));
      res.setHeader('set-cookie', this.#setCookie('', 0));
      sendJson(res, 200, { signed_out: true }, this.#headers);
      return path;
    }
    for (const e of this.#external) {
      const label = await e.handle(req, res, url, this);
      if (label !== undefined) return label;
    }
    throw new GatehouseError('not_found', 'no such sign-in route');
  }

  #setCookie(value: string, maxAgeS: number): string {
    return `${this.#cookie}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${this.#tls ? '; Secure' : ''}`;
  }
}

/** A sign-in POST must be JSON: an HTML form on another site cannot send it without CORS. */
function requireJson(req: IncomingMessage): void {
  const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct !== 'application/json') throw new GatehouseError('unsupported_media_type', 'send application/json');
}

/** What the page learns of its own session (the CSRF token included; never the cookie). */
function sessionView(s: ConsoleSession): Record<string, unknown> {
  const p = s.principal;
  return {
    user: p.id, kind: p.kind, groups: p.groups, ...(p.agent ? { agent: p.agent.id } : {}),
    method: s.method, csrf: s.csrf, expires_at: new Date(s.expiresAt).toISOString(),
  };
}
