import { createHash } from 'node:crypto';
import type { Clock } from '../kernel/clock.ts';
import { GatehouseError } from '../kernel/errors.ts';
import { open, seal } from '../store/crypto-box.ts';
import type { SqlExecutor } from '../store/sql.ts';

/**
 * What is kept of a console sign-in in progress: `oidc` (a state: issuer, nonce, destination and
 * the sealed PKCE verifier), `saml` (an AuthnRequest id: browser binding, destination, CLI
 * parameters), `saml_done` (a verified SAML sign-in waiting for its finish step or CLI code
 * exchange) and `saml_assertion` (an assertion id seen: the replay cache).
 */
export type FlowKind = 'oidc' | 'saml' | 'saml_done' | 'saml_assertion';

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
  /** The address that started it (`''` when none applies; see {@link clientKey}). */
  readonly client: string;
  readonly data: Record<string, unknown>;
  /** Sealed with the master key before it is stored (bound to the kind and key). */
  readonly secret?: string;
  readonly ttlMs: number;
  /** Most live rows of this kind in all: past it, {@link SignInFlows.put} refuses. */
  readonly max: number;
  /** Most rows of this kind per `client`: past it, that client's own oldest are dropped. Default: no bound. */
  readonly perClient?: number;
}

/** Expired rows are swept at most this often (by any call that adds one). */
const SWEEP_EVERY_MS = 60_000;
const MAX_DATA_CHARS = 64 * 1024;

/**
 * Console sign-ins in progress, kept in the gateway's store (`console_signin_flows`, migration 012)
 * so that the identity provider's redirect or POST may reach any replica sharing the store, not
 * only the one that started the sign-in.
 *
 * - **Once.** {@link take} is one `DELETE … RETURNING`: of two replicas (or requests) taking the
 *   same key, exactly one gets the flow; a replayed OIDC `state` or SAML `InResponseTo` finds
 *   nothing on every replica. {@link remember} is an insert that conflicts on a key seen before.
 * - **Nothing usable at rest.** Rows are keyed by the SHA-256 of the key (an OIDC state or a
 *   finish token is never stored); the one secret a flow must keep, the PKCE verifier, is sealed
 *   with the master key (AES-256-GCM, bound to the row's kind and key). A reader of the table
 *   cannot finish a sign-in.
 * - **Bounded.** Each row lives for its TTL (expired rows are swept, and never counted). One
 *   client (address; an IPv6 /64) keeps at most `perClient` flows of a kind: past it, its own
 *   oldest are dropped, so a flood from one address evicts only that address's flows and never
 *   locks anyone else out. Past the kind's bound in all, a new flow is refused
 *   (`too_many_requests`, checked in the insert itself), so unauthenticated starts from many
 *   addresses cannot grow the table without limit either. Replicas racing at a bound may
 *   overshoot it by the number of concurrent inserts.
 *
 * @example
 *   await flows.put('oidc', state, { client, data: { nonce }, secret: verifier, ttlMs, max: 10_000 });
 *   const f = await flows.take('oidc', state); // undefined the second time, on any replica
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
    const client = clientKey(o.client);
    if (o.perClient !== undefined) {
      await this.#db.query(
        `DELETE FROM console_signin_flows WHERE kind = $1 AND key_hash IN (
           SELECT key_hash FROM console_signin_flows WHERE kind = $1 AND client = $2 ORDER BY created_at DESC, key_hash OFFSET $3)`,
        [kind, client, Math.max(0, o.perClient - 1)]);
    }
    const rows = await this.#db.query(
      `INSERT INTO console_signin_flows (kind, key_hash, client, data, sealed, created_at, expires_at)
       SELECT $1, $2, $3, $4::jsonb, $5, $6, $7
       WHERE (SELECT count(*) FROM console_signin_flows WHERE kind = $1 AND expires_at > $6) < $8
       RETURNING key_hash`,
      [kind, h, client, data, sealed, now, now + o.ttlMs, o.max]);
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

/**
 * The client a flow is counted against: its address, with an IPv4-mapped IPv6 address as IPv4
 * and an IPv6 address by its /64 (one host usually holds a whole /64).
 */
export function clientKey(address: string): string {
  const a = address.trim().toLowerCase();
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (v4) return v4[1]!;
  if (!a.includes(':')) return a.slice(0, 64);
  const [head = '', tail] = a.split('::', 2);
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`.slice(0, 64);
}

function keyHash(kind: FlowKind, key: string): string {
  return createHash('sha256').update(`${kind}\0${key}`).digest('base64url');
}

function context(kind: FlowKind, h: string): string {
  return `console_signin_flow:${kind}:${h}`;
}

/** The SHA-256 of a browser-binding value, as flows keep it (compare with {@link sameHash}). */
export function bindingHash(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
