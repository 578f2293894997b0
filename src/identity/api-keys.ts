import { hash as digest, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../kernel/clock.ts';
import { GatehouseError } from '../kernel/errors.ts';
import { randomBase62 } from '../kernel/ids.ts';
import type { SqlDriver } from '../store/sql.ts';
import { VerifiedKeyCache } from './api-key-cache.ts';
import { asNameList, checkGroups, isName, NAME_PATTERN } from './names.ts';
import type { Principal } from './principal.ts';

/** What an API key looks like: `ghk_` + 8-char public id + 32-char secret, all base62. */
export const API_KEY_PREFIX = 'ghk_';
const ID_LEN = 8;
const SECRET_LEN = 32;
const KEY_PATTERN = /^ghk_[0-9A-Za-z]{40}$/;
const MAX_DESCRIPTION = 512;
/** `last_used_at` is written at most this often per key (it is informational, not security state). */
const LAST_USED_RESOLUTION_MS = 60_000;
const LAST_USED_MEMO_MAX = 10_000;
/** One message for every failure: no oracle telling unknown from revoked or expired. */
const INVALID = 'API key is invalid, expired or revoked';
/** Notification channel carrying the id of a revoked key to every replica sharing the store. */
export const API_KEY_REVOKED_CHANNEL = 'gatehouse_api_key_revoked';
const ID_PATTERN = /^[0-9A-Za-z]{8}$/;
/** After a failed LISTEN, wait this long before trying again (the cache stays off meanwhile). */
const SUBSCRIBE_RETRY_MS = 5_000;

type FeedState = 'off' | 'opening' | 'live' | 'closed';

/** Told the id of a revoked key, or undefined when a revocation of an unknown key was announced. */
export type RevocationListener = (id: string | undefined) => void;

/** Options of {@link ApiKeys}. */
export interface ApiKeysOptions {
  /** How long a verified key is served from memory (ms). Default 30 000; 0 disables the cache. */
  readonly cacheTtlMs?: number;
  /** Most cached keys (LRU). Default 10 000. */
  readonly cacheMax?: number;
  /** Where background failures (last-used writes, revocation feed) are reported. */
  readonly log?: { warn(obj: object, msg: string): void };
}

/** An API key as listed and shown: never the key nor its hash. Times are ms since the epoch. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly user?: string;
  readonly agent?: string;
  readonly groups: readonly string[];
  readonly agentGroups: readonly string[];
  readonly description?: string;
  readonly createdAt: number;
  readonly createdBy?: string;
  readonly expiresAt?: number;
  readonly revokedAt?: number;
  readonly lastUsedAt?: number;
}

/** Input of {@link ApiKeys.create}: at least one of `user` and `agent`. */
export interface NewApiKey {
  readonly user?: string;
  readonly agent?: string;
  readonly groups?: readonly string[];
  readonly agentGroups?: readonly string[];
  readonly expiresAt?: number;
  readonly description?: string;
  readonly createdBy?: string;
}

interface Row {
  id: string;
  key_hash: string;
  user_id: string | null;
  agent_id: string | null;
  groups: unknown;
  agent_groups: unknown;
  description: string | null;
  created_at: Date;
  created_by: string | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

const COLUMNS = 'id, key_hash, user_id, agent_id, groups, agent_groups, description, created_at, created_by, expires_at, revoked_at, last_used_at';

/**
 * API keys kept in the store. Only `sha256(key)` is stored; the 8-character id inside the key is
 * the lookup key, so verification is one primary-key query and a constant-time hash compare.
 *
 * Verified keys are cached in memory by `sha256(key)` for `cacheTtlMs` (default 30 s, LRU-bounded);
 * failures are never cached. Expiry is checked on every hit against the injected clock. Revocation
 * stays immediate: `revoke()` drops the entry here and sends `NOTIFY gatehouse_api_key_revoked
 * '<id>'`; every ApiKeys sharing the store LISTENs on that channel and drops the key. The cache is
 * only used while that subscription is live (it is opened by {@link start} or lazily on the first
 * verify; until then, and for 5 s after a failed LISTEN, every verify reads the store).
 * Limitation: notifications lost by a broken LISTEN connection the driver does not report are
 * bounded by the TTL.
 *
 * @example
 *   const keys = new ApiKeys(db, systemClock, { log });
 *   await keys.start();
 *   const { key } = await keys.create({ user: 'alice', groups: ['dev'] });
 *   const principal = await keys.verify(key); // { kind: 'user', id: 'alice', groups: ['dev'], … }
 *   await keys.close();
 */
export class ApiKeys {
  readonly #db: SqlDriver;
  readonly #clock: Clock;
  readonly #lastUsedWritten = new Map<string, number>();
  readonly #cache: VerifiedKeyCache;
  readonly #log: ApiKeysOptions['log'];
  #feed: FeedState = 'off';
  #feedRetryAt = 0;
  #opening: Promise<void> | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  readonly #revokedListeners = new Set<RevocationListener>();

  constructor(db: SqlDriver, clock: Clock, opts: ApiKeysOptions = {}) {
    this.#db = db;
    this.#clock = clock;
    this.#cache = new VerifiedKeyCache(opts.cacheTtlMs ?? 30_000, opts.cacheMax ?? 10_000);
    this.#log = opts.log;
  }

  /**
   * Subscribes to revocations from other replicas (enables the cache). Idempotent; also done
   * lazily by the first verify. Throws `store_unavailable` when LISTEN fails (the cache stays off).
   */
  async start(): Promise<void> {
    if (this.#feed === 'live' || this.#feed === 'closed') return;
    this.#opening ??= this.#subscribe().finally(() => { this.#opening = undefined; });
    await this.#opening;
    if (!this.#feedIs('live', 'closed')) throw new GatehouseError('store_unavailable', 'cannot subscribe to API key revocations');
  }

  /** Unsubscribes and turns the cache off for good (every later verify reads the store). */
  async close(): Promise<void> {
    this.#feed = 'closed';
    this.#cache.clear();
    await this.#opening?.catch(() => undefined);
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    await unlisten?.();
  }

  async #subscribe(): Promise<void> {
    this.#feed = 'opening';
    try {
      const unlisten = await this.#db.listen(API_KEY_REVOKED_CHANNEL, (id) => {
        if (ID_PATTERN.test(id)) this.#cache.drop(id);
        else this.#cache.clear();
        this.#announce(ID_PATTERN.test(id) ? id : undefined);
      });
      if (this.#feedIs('closed')) {
        await unlisten();
        return;
      }
      this.#unlisten = unlisten;
      this.#cache.clear(); // anything verified before the feed was live must not be cached
      this.#feed = 'live';
    } catch (err) {
      if (this.#feed === 'opening') this.#feed = 'off';
      this.#feedRetryAt = this.#clock.now() + SUBSCRIBE_RETRY_MS;
      this.#log?.warn({ err: String(err) }, 'API key revocation feed unavailable; key cache off');
    }
  }

  /** Creates a key. The returned `key` is the only time the secret exists outside the caller. */
  async create(input: NewApiKey): Promise<{ key: string; record: ApiKeyRecord }> {
    const { user, agent } = input;
    if (user === undefined && agent === undefined) throw new GatehouseError('validation_failed', 'an API key needs a "user", an "agent" or both');
    for (const [field, v] of [['user', user], ['agent', agent]] as const) {
      if (v !== undefined && !isName(v)) throw new GatehouseError('validation_failed', `"${field}" must match ${NAME_PATTERN.source}`);
    }
    const groups = checkGroups(input.groups, 'groups');
    const agentGroups = checkGroups(input.agentGroups, 'agentGroups');
    if (agent === undefined && agentGroups.length > 0) throw new GatehouseError('validation_failed', '"agentGroups" needs an "agent"');
    const now = this.#clock.now();
    if (input.expiresAt !== undefined && (!Number.isFinite(input.expiresAt) || input.expiresAt <= now)) {
      throw new GatehouseError('validation_failed', '"expiresAt" must be in the future');
    }
    if (input.description !== undefined && input.description.length > MAX_DESCRIPTION) {
      throw new GatehouseError('validation_failed', `"description" is longer than ${MAX_DESCRIPTION} characters`);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const id = randomBase62(ID_LEN);
      const key = `${API_KEY_PREFIX}${id}${randomBase62(SECRET_LEN)}`;
      const rows = await this.#db.query<Row>(
        `INSERT INTO api_keys (id, key_hash, user_id, agent_id, groups, agent_groups, description, created_at, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $10)
         ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
        [id, hashKey(key), user ?? null, agent ?? null, JSON.stringify(groups), JSON.stringify(agentGroups),
          input.description ?? null, new Date(now), input.createdBy ?? null,
          input.expiresAt === undefined ? null : new Date(input.expiresAt)],
      );
      const row = rows[0];
      if (row) return { key, record: toRecord(row) };
    }
    throw new GatehouseError('internal', 'could not allocate an API key id');
  }

  /** Every key, newest first (revoked and expired ones included, flagged by their times). */
  async list(): Promise<ApiKeyRecord[]> {
    const rows = await this.#db.query<Row>(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at DESC, id`);
    return rows.map(toRecord);
  }

  /** One key by id, or undefined. */
  async get(id: string): Promise<ApiKeyRecord | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    const rows = await this.#db.query<Row>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Revokes a key at once. False when there is no such key or it was already revoked. */
  async revoke(id: string, by?: string): Promise<boolean> {
    if (!ID_PATTERN.test(id)) return false;
    this.#cache.drop(id);
    const rows = await this.#db.query<{ id: string }>(
      'UPDATE api_keys SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING id',
      [id, new Date(this.#clock.now()), by ?? null],
    );
    this.#cache.drop(id); // again: a verify that read the row before the UPDATE must not cache it
    this.#announce(id); // live sessions here end now, without waiting for our own notification
    // Tell the other replicas. The revocation is committed; if the notify fails they are bounded
    // by the cache TTL, so report it rather than fail the admin call.
    await this.#db.notify(API_KEY_REVOKED_CHANNEL, id).catch((err: unknown) => {
      this.#log?.warn({ err: String(err), key_id: id }, 'could not notify replicas of an API key revocation');
    });
    return rows.length === 1;
  }

  /**
   * The principal of a key. Throws `invalid_credential` (one message for every case) when the key
   * is malformed, unknown, revoked or expired; `store_unavailable` when the store cannot answer.
   */
  async verify(key: string): Promise<Principal> {
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) throw new GatehouseError('invalid_credential', INVALID);
    const id = key.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + ID_LEN);
    const hash = hashKey(key);
    const cached = this.#cacheUsable() ? this.#cache.get(hash, this.#clock.now()) : undefined;
    if (cached !== undefined) {
      const now = this.#clock.now();
      if (cached.expiresAt !== undefined && cached.expiresAt <= now) {
        this.#cache.drop(id);
        throw new GatehouseError('invalid_credential', INVALID);
      }
      this.#touch(id, now);
      return cached.principal;
    }
    const generation = this.#cache.generation;
    const caching = this.#feed === 'live';
    let row: Row | undefined;
    try {
      row = (await this.#db.query<Row>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]))[0];
    } catch (err) {
      throw new GatehouseError('store_unavailable', 'cannot check the API key', {}, { cause: err });
    }
    const expected = Buffer.from(row?.key_hash ?? '0'.repeat(64), 'hex');
    const matches = timingSafeEqual(Buffer.from(hash, 'hex'), expected) && row !== undefined;
    const now = this.#clock.now();
    if (!row || !matches || row.revoked_at !== null || (row.expires_at !== null && row.expires_at.getTime() <= now)) {
      throw new GatehouseError('invalid_credential', INVALID);
    }
    const principal = freezePrincipal(toPrincipal(row));
    if (caching && this.#feed === 'live') {
      this.#cache.set(hash, { id, principal, expiresAt: row.expires_at?.getTime() }, generation, now);
    }
    this.#touch(id, now);
    return principal;
  }

  /**
   * Throws `invalid_credential` unless API key `id` exists and is neither revoked nor expired; for
   * credentials derived from it (tokens bound to the key). Goes through the same cache as
   * {@link verify}, so a revocation reaches bound tokens exactly as fast as the key itself, on every
   * replica. `store_unavailable` when the store cannot answer (fail closed).
   */
  async assertLive(id: string): Promise<void> {
    const dead = (): GatehouseError => new GatehouseError('invalid_credential', 'credential was derived from an API key that is revoked or expired');
    if (!ID_PATTERN.test(id)) throw dead();
    const cached = this.#cacheUsable() ? this.#cache.getById(id, this.#clock.now()) : undefined;
    if (cached !== undefined) {
      if (cached.expiresAt !== undefined && cached.expiresAt <= this.#clock.now()) throw dead();
      return;
    }
    const generation = this.#cache.generation;
    const caching = this.#feed === 'live';
    let row: Row | undefined;
    try {
      row = (await this.#db.query<Row>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]))[0];
    } catch (err) {
      throw new GatehouseError('store_unavailable', 'cannot check the API key', {}, { cause: err });
    }
    const now = this.#clock.now();
    if (!row || row.revoked_at !== null || (row.expires_at !== null && row.expires_at.getTime() <= now)) throw dead();
    if (caching && this.#feed === 'live' && /^[0-9a-f]{64}$/.test(row.key_hash)) {
      this.#cache.set(row.key_hash, { id, principal: freezePrincipal(toPrincipal(row)), expiresAt: row.expires_at?.getTime() }, generation, now);
    }
  }

  /**
   * Calls `fn` whenever a key is revoked, here (at once) or on any replica sharing the store (via
   * the revocation feed, so only while it is live: see {@link start}); `undefined` means "some key,
   * unknown which" (a malformed notification): re-check everything. Listeners must not throw (a
   * throw is logged and ignored). Returns the unsubscribe function.
   *
   * @example const off = keys.onRevoked((id) => { if (id === undefined || mine.has(id)) endSessions(id); });
   */
  onRevoked(fn: RevocationListener): () => void {
    this.#revokedListeners.add(fn);
    return () => { this.#revokedListeners.delete(fn); };
  }

  #announce(id: string | undefined): void {
    for (const fn of this.#revokedListeners) {
      try { fn(id); } catch (err) { this.#log?.warn({ err: String(err) }, 'API key revocation listener failed'); }
    }
  }

  /** Reads the feed state afresh (it changes across awaits). */
  #feedIs(...states: readonly FeedState[]): boolean {
    return states.includes(this.#feed);
  }

  /** True when cached keys may be served; otherwise (re)opens the revocation feed in the background. */
  #cacheUsable(): boolean {
    if (this.#feed === 'live') return true;
    if (this.#feed === 'off' && this.#clock.now() >= this.#feedRetryAt && this.#opening === undefined) {
      this.#opening = this.#subscribe().finally(() => { this.#opening = undefined; });
    }
    return false;
  }

  /**
   * Records `last_used_at`, at most once a minute per key and per process, without making the
   * request wait (it is informational, not security state). Failures are logged, never thrown.
   */
  #touch(id: string, now: number): void {
    const last = this.#lastUsedWritten.get(id);
    if (last !== undefined && now - last < LAST_USED_RESOLUTION_MS) return;
    if (this.#lastUsedWritten.size >= LAST_USED_MEMO_MAX) this.#lastUsedWritten.clear();
    this.#lastUsedWritten.set(id, now);
    this.#db.query('UPDATE api_keys SET last_used_at = $2 WHERE id = $1', [id, new Date(now)]).catch((err: unknown) => {
      this.#log?.warn({ err: String(err), key_id: id }, 'could not record API key last use');
    });
  }
}

/** The principal with its arrays frozen: a cached principal is shared by many requests. */
function freezePrincipal(p: Principal): Principal {
  Object.freeze(p.groups);
  if (p.agent) Object.freeze(Object.freeze(p.agent).groups);
  return Object.freeze(p);
}

/** Lower-case hex sha256 of the whole key string. */
function hashKey(key: string): string {
  return digest('sha256', key, 'hex');
}

function toRecord(r: Row): ApiKeyRecord {
  return {
    id: r.id,
    ...(r.user_id === null ? {} : { user: r.user_id }),
    ...(r.agent_id === null ? {} : { agent: r.agent_id }),
    groups: asNameList(r.groups) ?? [],
    agentGroups: asNameList(r.agent_groups) ?? [],
    ...(r.description === null ? {} : { description: r.description }),
    createdAt: r.created_at.getTime(),
    ...(r.created_by === null ? {} : { createdBy: r.created_by }),
    ...(r.expires_at === null ? {} : { expiresAt: r.expires_at.getTime() }),
    ...(r.revoked_at === null ? {} : { revokedAt: r.revoked_at.getTime() }),
    ...(r.last_used_at === null ? {} : { lastUsedAt: r.last_used_at.getTime() }),
  };
}

/**
 * user+agent: the agent acting for the user (user groups; agent groups on `agent`). Agent only: the
 * agent itself, with `groups` and `agentGroups` both counted as its groups. Fails closed on odd rows.
 */
function toPrincipal(r: Row): Principal {
  const groups = asNameList(r.groups);
  const agentGroups = asNameList(r.agent_groups);
  if (!groups || !agentGroups) throw new GatehouseError('invalid_credential', INVALID);
  const common = {
    via: 'api_key' as const,
    credentialId: r.id,
    ...(r.expires_at === null ? {} : { expiresAt: r.expires_at.getTime() }),
  };
  if (r.user_id !== null && isName(r.user_id)) {
    const agent = r.agent_id !== null && isName(r.agent_id) ? { agent: { id: r.agent_id, groups: agentGroups } } : {};
    if (r.agent_id !== null && !('agent' in agent)) throw new GatehouseError('invalid_credential', INVALID);
    return { kind: 'user', id: r.user_id, groups, ...agent, ...common };
  }
  if (r.user_id === null && r.agent_id !== null && isName(r.agent_id)) {
    return { kind: 'agent', id: r.agent_id, groups: [...new Set([...groups, ...agentGroups])], ...common };
  }
  throw new GatehouseError('invalid_credential', INVALID);
}
