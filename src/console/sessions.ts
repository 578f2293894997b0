import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../kernel/clock.ts';
import { GatehouseError } from '../kernel/errors.ts';
import type { Principal } from '../identity/principal.ts';

/** Name of the console session cookie (`__Host-` under TLS: Secure, Path=/, no Domain). */
export function sessionCookieName(tls: boolean): string {
  return tls ? '__Host-gatehouse_console' : 'gatehouse_console';
}

/** How a console session was signed in, for the audit trail and the page header. */
export type SignInMethod = 'api_key' | 'oidc' | 'saml';

/** One signed-in browser. The cookie holds `token`; only its SHA-256 is kept. */
export interface ConsoleSession {
  /** Public id (for listing and revoking; never the cookie value). */
  readonly id: string;
  readonly principal: Principal;
  readonly method: SignInMethod;
  /** Sent by the page in `x-csrf-token` on every mutation. */
  readonly csrf: string;
  readonly createdAt: number;
  /** Absolute end; idle sessions end earlier. */
  readonly expiresAt: number;
  lastSeenAt: number;
}

export interface ConsoleSessionOptions {
  /** Absolute lifetime. Default 8 h. */
  readonly ttlMs?: number;
  /** Idle lifetime. Default 30 min. */
  readonly idleMs?: number;
  /** Most concurrent sessions kept; past it the oldest is dropped. Default 10 000. */
  readonly max?: number;
}

/**
 * The console's server-side sessions: short-lived, bound to the principal that signed in, and
 * revocable (sign-out, an API key's revocation, or {@link revokePrincipal}). Held in memory of
 * this process: a restart signs everyone out, which fails closed. Lookups are by the SHA-256 of
 * the cookie value, so a memory dump of the map does not yield usable cookies.
 *
 * @example
 *   const s = sessions.create(principal, 'api_key'); // set cookie = s.token
 *   sessions.lookup(cookieValue)?.principal
 */
export class ConsoleSessions {
  readonly #byHash = new Map<string, ConsoleSession>();
  readonly #clock: Clock;
  readonly #ttl: number;
  readonly #idle: number;
  readonly #max: number;

  constructor(clock: Clock, opts: ConsoleSessionOptions = {}) {
    this.#clock = clock;
    this.#ttl = opts.ttlMs ?? 8 * 3_600_000;
    this.#idle = opts.idleMs ?? 30 * 60_000;
    this.#max = opts.max ?? 10_000;
  }

  /** Seconds the cookie may live (its Max-Age). */
  get maxAgeS(): number { return Math.floor(this.#ttl / 1000); }

  /** Starts a session; returns it with the cookie value (`token`), which is not stored. */
  create(principal: Principal, method: SignInMethod): ConsoleSession & { token: string } {
    this.#sweep();
    while (this.#byHash.size >= this.#max) {
      const oldest = this.#byHash.keys().next().value;
      if (oldest === undefined) break;
      this.#byHash.delete(oldest);
    }
    const token = randomBytes(32).toString('base64url');
    const now = this.#clock.now();
    const expiresAt = Math.min(now + this.#ttl, principal.expiresAt ?? Infinity);
    const s: ConsoleSession = {
      id: `cs_${randomBytes(9).toString('base64url')}`, principal, method,
      csrf: randomBytes(24).toString('base64url'), createdAt: now, expiresAt, lastSeenAt: now,
    };
    this.#byHash.set(hash(token), s);
    return { ...s, token };
  }

  /** The live session of a cookie value, refreshing its idle clock; undefined if none. */
  lookup(token: string | undefined): ConsoleSession | undefined {
    if (token === undefined || token.length === 0 || token.length > 128) return undefined;
    const h = hash(token);
    const s = this.#byHash.get(h);
    if (!s) return undefined;
    const now = this.#clock.now();
    if (now >= s.expiresAt || now - s.lastSeenAt >= this.#idle) {
      this.#byHash.delete(h);
      return undefined;
    }
    s.lastSeenAt = now;
    return s;
  }

  /** Ends the session of a cookie value. */
  end(token: string | undefined): boolean {
    return token !== undefined && this.#byHash.delete(hash(token));
  }

  /** Ends every session whose principal signed in with API key `keyId`; returns how many. */
  revokeKey(keyId: string): number {
    return this.#drop((s) => s.principal.via === 'api_key' && s.principal.credentialId === keyId);
  }

  /** Ends every session of user or agent `id`; returns how many. */
  revokePrincipal(id: string): number {
    return this.#drop((s) => s.principal.id === id);
  }

  /** Throws `csrf_failed` unless `sent` is the session's CSRF token (constant time). */
  static checkCsrf(s: ConsoleSession, sent: string | undefined): void {
    const a = Buffer.from(sent ?? '', 'utf8');
    const b = Buffer.from(s.csrf, 'utf8');
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      throw new GatehouseError('csrf_failed', 'missing or wrong x-csrf-token: reload the console');
    }
  }

  /** Live sessions (for tests and a future admin view). */
  get size(): number { this.#sweep(); return this.#byHash.size; }

  #drop(match: (s: ConsoleSession) => boolean): number {
    let n = 0;
    for (const [h, s] of this.#byHash) if (match(s)) { this.#byHash.delete(h); n++; }
    return n;
  }

  #sweep(): void {
    const now = this.#clock.now();
    for (const [h, s] of this.#byHash) if (now >= s.expiresAt || now - s.lastSeenAt >= this.#idle) this.#byHash.delete(h);
  }
}

function hash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Reads one cookie from a `Cookie` header (first occurrence; bounded). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 16 * 1024) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
