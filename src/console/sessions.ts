import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../kernel/clock.ts';
import { GatehouseError } from '../kernel/errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { SqlExecutor } from '../store/sql.ts';

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
  /**
   * Most concurrent sessions in all. At it, new sign-ins are refused (`too_many_requests`);
   * nobody's existing session is ended to make room. Default 10 000.
   */
  readonly max?: number;
  /** Most concurrent sessions of one principal; past it that principal's own oldest end. Default 20. */
  readonly perPrincipal?: number;
}

/** Where sessions live: the gateway's store (shared by replicas) in production, a map in unit tests. */
export type SessionBackend = SqlExecutor | 'memory';

interface Row { token_hash: string; id: string; principal: Principal; method: SignInMethod; csrf: string; created_at: string | number; expires_at: string | number; last_seen_at: string | number }

/** A session's idle clock is written back at most this often (not on every request). */
const TOUCH_EVERY_MS = 60_000;
/** Expired rows are swept at most this often. */
const SWEEP_EVERY_MS = 60_000;

/**
 * The console's server-side sessions: short-lived, bound to the principal that signed in, and
 * revocable (sign-out, an API key's revocation, or {@link revokePrincipal}). Kept in the
 * gateway's store (`console_sessions`), so every replica sharing the store accepts a session
 * any of them started, and a sign-out or revocation on one ends it on all. Lookups are by the
 * SHA-256 of the cookie value: the table never holds a usable cookie.
 *
 * @example
 *   const s = await sessions.create(principal, 'api_key'); // set cookie = s.token
 *   (await sessions.lookup(cookieValue))?.principal
 */
export class ConsoleSessions {
  readonly #mem = new Map<string, ConsoleSession>();
  readonly #db: SqlExecutor | undefined;
  readonly #clock: Clock;
  readonly #ttl: number;
  readonly #idle: number;
  readonly #max: number;
  readonly #perPrincipal: number;
  #sweptAt = 0;

  constructor(clock: Clock, opts: ConsoleSessionOptions = {}, backend: SessionBackend = 'memory') {
    this.#clock = clock;
    this.#ttl = opts.ttlMs ?? 8 * 3_600_000;
    this.#idle = opts.idleMs ?? 30 * 60_000;
    this.#max = opts.max ?? 10_000;
    this.#perPrincipal = Math.max(1, opts.perPrincipal ?? 20);
    this.#db = backend === 'memory' ? undefined : backend;
  }

  /** Seconds the cookie may live (its Max-Age). */
  get maxAgeS(): number { return Math.floor(this.#ttl / 1000); }

  /** Starts a session; returns it with the cookie value (`token`), which is not stored. */
  async create(principal: Principal, method: SignInMethod): Promise<ConsoleSession & { token: string }> {
    await this.#sweep(true);
    const token = randomBytes(32).toString('base64url');
    const now = this.#clock.now();
    const expiresAt = Math.min(now + this.#ttl, principal.expiresAt ?? Infinity);
    const s: ConsoleSession = {
      id: `cs_${randomBytes(9).toString('base64url')}`, principal, method,
      csrf: randomBytes(24).toString('base64url'), createdAt: now, expiresAt, lastSeenAt: now,
    };
    if (this.#db) {
      // Bounded per principal: a principal signing in again and again ends only its own oldest
      // sessions, never another principal's (the table is shared by every replica).
      await this.#db.query(
        "DELETE FROM console_sessions WHERE token_hash IN (SELECT token_hash FROM console_sessions WHERE principal->>'id' = $1 AND principal->>'kind' = $2 ORDER BY created_at DESC, token_hash OFFSET $3)",
        [principal.id, principal.kind, this.#perPrincipal - 1]);
      // Bounded in all: at the cap the sign-in is refused (one statement, so no window between count and insert on this connection).
      const inserted = await this.#db.query(
        'INSERT INTO console_sessions (token_hash, id, principal, method, csrf, created_at, expires_at, last_seen_at) SELECT $1, $2, $3::jsonb, $4, $5, $6, $7, $8 WHERE (SELECT count(*) FROM console_sessions) < $9 RETURNING id',
        [hash(token), s.id, JSON.stringify(principal), method, s.csrf, now, expiresAt, now, this.#max]);
      if (inserted.length === 0) throw full(this.#max);
    } else {
      const own = [...this.#mem].filter(([, x]) => samePrincipal(x.principal, principal));
      for (let i = 0; i <= own.length - this.#perPrincipal; i++) this.#mem.delete(own[i]![0]);
      if (this.#mem.size >= this.#max) throw full(this.#max);
      this.#mem.set(hash(token), s);
    }
    return { ...s, token };
  }

  /** The live session of a cookie value, refreshing its idle clock; undefined if none. */
  async lookup(token: string | undefined): Promise<ConsoleSession | undefined> {
    if (token === undefined || token.length === 0 || token.length > 128) return undefined;
    const h = hash(token);
    const s = this.#db ? fromRow((await this.#db.query<Row>('SELECT * FROM console_sessions WHERE token_hash = $1', [h]))[0]) : this.#mem.get(h);
    if (!s) return undefined;
    const now = this.#clock.now();
    if (now >= s.expiresAt || now - s.lastSeenAt >= this.#idle) {
      await this.#delete(h);
      return undefined;
    }
    if (this.#db && now - s.lastSeenAt >= TOUCH_EVERY_MS) {
      await this.#db.query('UPDATE console_sessions SET last_seen_at = $2 WHERE token_hash = $1', [h, now]);
    }
    s.lastSeenAt = now;
    return s;
  }

  /** Ends the session of a cookie value. */
  async end(token: string | undefined): Promise<boolean> {
    return token !== undefined && this.#delete(hash(token));
  }

  /** Ends every session whose principal signed in with API key `keyId`; returns how many. */
  async revokeKey(keyId: string): Promise<number> {
    if (this.#db) {
      return (await this.#db.query("DELETE FROM console_sessions WHERE principal->>'via' = 'api_key' AND principal->>'credentialId' = $1 RETURNING id", [keyId])).length;
    }
    return this.#drop((s) => s.principal.via === 'api_key' && s.principal.credentialId === keyId);
  }

  /** Ends every session of user or agent `id`; returns how many. */
  async revokePrincipal(id: string): Promise<number> {
    if (this.#db) return (await this.#db.query("DELETE FROM console_sessions WHERE principal->>'id' = $1 RETURNING id", [id])).length;
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
  async size(): Promise<number> {
    await this.#sweep(false);
    if (this.#db) return Number((await this.#db.query<{ n: string | number }>('SELECT count(*) AS n FROM console_sessions'))[0]?.n ?? 0);
    return this.#mem.size;
  }

  async #delete(h: string): Promise<boolean> {
    if (this.#db) return (await this.#db.query('DELETE FROM console_sessions WHERE token_hash = $1 RETURNING id', [h])).length > 0;
    return this.#mem.delete(h);
  }

  #drop(match: (s: ConsoleSession) => boolean): number {
    let n = 0;
    for (const [h, s] of this.#mem) if (match(s)) { this.#mem.delete(h); n++; }
    return n;
  }

  async #sweep(throttled: boolean): Promise<void> {
    const now = this.#clock.now();
    if (this.#db) {
      if (throttled && now - this.#sweptAt < SWEEP_EVERY_MS) return;
      this.#sweptAt = now;
      await this.#db.query('DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at <= $2', [now, now - this.#idle]);
      return;
    }
    for (const [h, s] of this.#mem) if (now >= s.expiresAt || now - s.lastSeenAt >= this.#idle) this.#mem.delete(h);
  }
}

function fromRow(r: Row | undefined): ConsoleSession | undefined {
  if (!r) return undefined;
  const principal = (typeof r.principal === 'string' ? JSON.parse(r.principal) : r.principal) as Principal;
  return {
    id: r.id, principal, method: r.method, csrf: r.csrf,
    createdAt: Number(r.created_at), expiresAt: Number(r.expires_at), lastSeenAt: Number(r.last_seen_at),
  };
}

/**
 * Bounds how often one principal may sign in to the console on this replica: at most `limit`
 * sign-ins per `windowMs` (a fixed window per principal). Tracks at most `maxTracked` principals;
 * past that, the window that started earliest is forgotten.
 */
export class SignInLimiter {
  readonly #clock: Clock;
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxTracked: number;
  readonly #seen = new Map<string, { start: number; n: number }>();

  constructor(clock: Clock, opts: { limit?: number; windowMs?: number; maxTracked?: number } = {}) {
    this.#clock = clock;
    this.#limit = opts.limit ?? 10;
    this.#windowMs = opts.windowMs ?? 60_000;
    this.#maxTracked = opts.maxTracked ?? 10_000;
  }

  /** Counts one sign-in of `p`; throws `too_many_requests` when it is over the limit. */
  take(p: Principal): void {
    const key = `${p.kind}:${p.id}`;
    const now = this.#clock.now();
    let w = this.#seen.get(key);
    if (!w || now - w.start >= this.#windowMs) {
      this.#seen.delete(key);
      while (this.#seen.size >= this.#maxTracked) {
        const oldest = this.#seen.keys().next().value;
        if (oldest === undefined) break;
        this.#seen.delete(oldest);
      }
      w = { start: now, n: 0 };
      this.#seen.set(key, w);
    }
    if (w.n >= this.#limit) {
      throw new GatehouseError('too_many_requests', `too many console sign-ins for this principal: at most ${this.#limit} per ${Math.round(this.#windowMs / 1000)} s`);
    }
    w.n++;
  }
}

function samePrincipal(a: Principal, b: Principal): boolean {
  return a.id === b.id && a.kind === b.kind;
}

function full(max: number): GatehouseError {
  return new GatehouseError('too_many_requests', `the console has ${max} signed-in sessions (its limit): sign-in refused until some end; no existing session was ended`);
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
