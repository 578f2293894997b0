import { createHash } from 'node:crypto';
import type { Clock } from '../kernel/clock.ts';
import { GatehouseError } from '../kernel/errors.ts';
import { open, seal } from '../store/crypto-box.ts';
import type { SqlExecutor } from '../store/sql.ts';

/**
 * What the store keeps of console sign-ins — only after a genuine identity provider response:
 * `oidc_used` / `saml_used` (an OIDC state / SAML request id already used: one-time markers until
 * it expires), `saml_done` (a verified SAML sign-in waiting for its finish step or CLI code
 * exchange) and `saml_assertion` (an assertion id seen: the replay cache). The gateway no longer writes
 * `oidc` and `saml` rows (flows kept at /start until this change; left-over rows expire and are
 * swept): a sign-in in progress is a sealed token ({@link SignInFlows.sealToken}) that the
 * browser and the IdP carry.
 */
export type FlowKind = 'oidc' | 'saml' | 'oidc_used' | 'saml_used' | 'saml_done' | 'saml_assertion';

/** A sign-in in progress, sealed into the OIDC `state` or the SAML AuthnRequest `ID`. */
export type TokenKind = 'oidc' | 'saml';

/** An opened sign-in token: its data and whether its lifetime is over. */
export interface OpenedToken {
  readonly data: Record<string, unknown>;
  readonly expiresAt: number;
  readonly expired: boolean;
}

/** Longest sign-in token accepted (base64url characters). */
export const MAX_TOKEN_CHARS = 1024;

/** A flow taken from the store (it is gone from it for every replica). */
export interface TakenFlow {
  readonly data: Record<string, unknown>;
  /** The secret given to {@link SignInFlows.put}, unsealed; undefined when none was given. */
  readonly secret: string | undefined;
  readonly createdAt: number;
  /** True when its lifetime was over: the caller refuses it (it is deleted anyway). */
  readonly expired: boolean;
}

export interface PutOptions {
  readonly data: Record<string, unknown>;
  /** Sealed with the master key before it is stored (bound to the kind and key). */
  readonly secret?: string;
  readonly ttlMs: number;
  /** Most live rows of this kind in all: past it, {@link SignInFlows.put} refuses. */
  readonly max: number;
}

/** Expired rows are swept at most this often (by any call that adds one). */
const SWEEP_EVERY_MS = 60_000;
const MAX_DATA_CHARS = 64 * 1024;

/**
 * Console sign-ins across replicas sharing one store and one master key — without a store write
 * before the identity provider has answered.
 *
 * - **Nothing at /start.** A sign-in in progress is a token sealed with the master key
 *   ({@link sealToken}: AES-256-GCM, bound to its kind, with its expiry inside): the OIDC `state`
 *   (holding the PKCE verifier, nonce, destination, the hash of the browser's cookie) or the SAML
 *   AuthnRequest `ID`. Any replica opens it ({@link openToken}); nobody without the key can
 *   make, read or alter one. An unauthenticated /start flood therefore costs no store work and
 *   takes no one's place: there is no per-address or global bound to exhaust.
 * - **Once.** A token is used by {@link consume}: one insert of a marker keyed by its hash that
 *   conflicts with a live one, written only after the IdP's response was verified; of two
 *   replicas (or requests) using the same token, exactly one gets `'new'`; a replayed state or
 *   InResponseTo finds the marker on every replica. The marker lives until the token expires.
 *   {@link take} (`DELETE … RETURNING`) uses a `saml_done` result once.
 * - **Nothing usable at rest.** Rows are keyed by the SHA-256 of the key (a state, request id or
 *   finish token is never stored). A reader of the table cannot finish a sign-in.
 * - **Bounded.** Each row lives for its TTL (expired rows are swept, and never counted); past a
 *   kind's bound in all, a new row is refused (`too_many_requests` / `'full'`), checked in the
 *   insert itself. Replicas racing at a bound may overshoot it by the number of concurrent inserts.
 *
 * @example
 *   const state = flows.sealToken('oidc', { nonce }, 600_000); // no store write
 *   const t = flows.openToken('oidc', state);                 // any replica; undefined if forged
 *   if (t && !t.expired && await flows.consume('oidc', state, t.expiresAt, 50_000) === 'new') { ... }
 */
export class SignInFlows {
  readonly #db: SqlExecutor;
  readonly #clock: Clock;
  readonly #key: Buffer;
  #sweptAt = -Infinity;

  constructor(db: SqlExecutor, clock: Clock, masterKey: Buffer) {
    this.#db = db;
    this.#clock = clock;
    this.#key = masterKey;
  }

  /** Records a flow under the hash of `key`; throws `too_many_requests` past the bounds. */
  async put(kind: FlowKind, key: string, o: PutOptions): Promise<void> {
    await this.#sweep();
    const data = JSON.stringify(o.data);
    if (data.length > MAX_DATA_CHARS) throw new GatehouseError('internal', 'sign-in flow data too large');
    const h = keyHash(kind, key);
    const now = this.#clock.now();
    const sealed = o.secret === undefined ? null : seal(this.#key, o.secret, context(kind, h));
    const rows = await this.#db.query(
      `INSERT INTO console_signin_flows (kind, key_hash, client, data, sealed, created_at, expires_at)
       SELECT $1, $2, '', $3::jsonb, $4, $5, $6
       WHERE (SELECT count(*) FROM console_signin_flows WHERE kind = $1 AND expires_at > $5) < $7
       RETURNING key_hash`,
      [kind, h, data, sealed, now, now + o.ttlMs, o.max]);
    if (rows.length === 0) {
      throw new GatehouseError('too_many_requests', `${o.max} sign-ins of this kind are in progress (the limit): try again when some finish or expire (within ${Math.ceil(o.ttlMs / 60_000)} min)`);
    }
  }

  /**
   * Removes the flow of `key` and returns it; undefined when there is none (never started,
   * already taken on any replica, or swept). An expired flow is returned with `expired` set.
   */
  async take(kind: FlowKind, key: string): Promise<TakenFlow | undefined> {
    if (key.length === 0 || key.length > 512) return undefined;
    const h = keyHash(kind, key);
    const row = (await this.#db.query<{ data: unknown; sealed: string | null; created_at: string | number; expires_at: string | number }>(
      'DELETE FROM console_signin_flows WHERE kind = $1 AND key_hash = $2 RETURNING data, sealed, created_at, expires_at', [kind, h]))[0];
    if (!row) return undefined;
    const data = (typeof row.data === 'string' ? JSON.parse(row.data) : row.data) as Record<string, unknown>;
    return {
      data,
      secret: row.sealed === null ? undefined : open(this.#key, row.sealed, context(kind, h)),
      createdAt: Number(row.created_at),
      expired: this.#clock.now() >= Number(row.expires_at),
    };
  }

  /**
   * Records `key` as seen until `untilMs` (a replay cache): `'new'` the first time, `'seen'` when
   * it is live already (on any replica), `'full'` when `max` live keys of this kind are kept.
   */
  async remember(kind: FlowKind, key: string, untilMs: number, max: number): Promise<'new' | 'seen' | 'full'> {
    await this.#sweep();
    const h = keyHash(kind, key);
    const now = this.#clock.now();
    const rows = await this.#db.query(
      `INSERT INTO console_signin_flows (kind, key_hash, client, data, sealed, created_at, expires_at)
       SELECT $1, $2, '', '{}'::jsonb, NULL, $3, $4
       WHERE (SELECT count(*) FROM console_signin_flows WHERE kind = $1 AND expires_at > $3) < $5
       ON CONFLICT (kind, key_hash) DO UPDATE SET created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
         WHERE console_signin_flows.expires_at <= EXCLUDED.created_at
       RETURNING key_hash`,
      [kind, h, now, untilMs, max]);
    if (rows.length > 0) return 'new';
    const live = await this.#db.query('SELECT 1 FROM console_signin_flows WHERE kind = $1 AND key_hash = $2 AND expires_at > $3', [kind, h, now]);
    return live.length > 0 ? 'seen' : 'full';
  }

  /**
   * Seals `data` and its expiry (now + `ttlMs`) into a base64url token that only holders of the
   * master key open, bound to `kind`. Pure computation: nothing is written anywhere.
   */
  sealToken(kind: TokenKind, data: Record<string, unknown>, ttlMs: number): string {
    const sealed = seal(this.#key, JSON.stringify({ d: data, e: this.#clock.now() + ttlMs }), tokenContext(kind));
    const token = Buffer.from(sealed.slice(sealed.indexOf(':') + 1), 'base64').toString('base64url');
    if (token.length > MAX_TOKEN_CHARS) throw new GatehouseError('internal', 'sign-in token too large');
    return token;
  }

  /** Opens a token of {@link sealToken}; undefined when it is malformed, forged, of another kind or key. */
  openToken(kind: TokenKind, token: string): OpenedToken | undefined {
    if (token.length < 40 || token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
    let o: unknown;
    try {
      o = JSON.parse(open(this.#key, `v1:${Buffer.from(token, 'base64url').toString('base64')}`, tokenContext(kind)));
    } catch {
      return undefined;
    }
    const t = o as { d?: unknown; e?: unknown };
    if (typeof t !== 'object' || t === null || typeof t.d !== 'object' || t.d === null || Array.isArray(t.d) || typeof t.e !== 'number') return undefined;
    return { data: t.d as Record<string, unknown>, expiresAt: t.e, expired: this.#clock.now() >= t.e };
  }

  /**
   * Uses a sign-in token once across replicas (a marker keyed by its hash until `untilMs`):
   * `'new'` the first time, `'seen'` when it was used before (on any replica), `'full'` when
   * `max` live markers of this kind are kept. Call it only after the IdP's response was verified.
   */
  consume(kind: TokenKind, token: string, untilMs: number, max: number): Promise<'new' | 'seen' | 'full'> {
    return this.remember(kind === 'oidc' ? 'oidc_used' : 'saml_used', token, untilMs, max);
  }

  /** Live rows of `kind` (tests and diagnostics). */
  async count(kind: FlowKind): Promise<number> {
    const r = await this.#db.query<{ n: string | number }>('SELECT count(*) AS n FROM console_signin_flows WHERE kind = $1 AND expires_at > $2', [kind, this.#clock.now()]);
    return Number(r[0]?.n ?? 0);
  }

  async #sweep(): Promise<void> {
    const now = this.#clock.now();
    if (now - this.#sweptAt < SWEEP_EVERY_MS) return;
    this.#sweptAt = now;
    await this.#db.query('DELETE FROM console_signin_flows WHERE expires_at <= $1', [now]);
  }
}

function keyHash(kind: FlowKind, key: string): string {
  return createHash('sha256').update(`${kind}\0${key}`).digest('base64url');
}

function tokenContext(kind: TokenKind): string {
  return `console_signin_token:${kind}`;
}

function context(kind: FlowKind, h: string): string {
  return `console_signin_flow:${kind}:${h}`;
}

/** The SHA-256 of a browser-binding value, as flows keep it (compare with {@link sameHash}). */
export function bindingHash(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
