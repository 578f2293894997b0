import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../kernel/clock.ts';
import { GatehouseError } from '../kernel/errors.ts';
import { randomBase62 } from '../kernel/ids.ts';
import type { SqlDriver } from '../store/sql.ts';
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
 * There is no cache: revocation takes effect on the next request.
 *
 * @example
 *   const keys = new ApiKeys(db, systemClock);
 *   const { key } = await keys.create({ user: 'alice', groups: ['dev'] });
 *   const principal = await keys.verify(key); // { kind: 'user', id: 'alice', groups: ['dev'], … }
 */
export class ApiKeys {
  readonly #db: SqlDriver;
  readonly #clock: Clock;
  readonly #lastUsedWritten = new Map<string, number>();

  constructor(db: SqlDriver, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
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
    if (!/^[0-9A-Za-z]{8}$/.test(id)) return undefined;
    const rows = await this.#db.query<Row>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Revokes a key at once. False when there is no such key or it was already revoked. */
  async revoke(id: string, by?: string): Promise<boolean> {
    if (!/^[0-9A-Za-z]{8}$/.test(id)) return false;
    const rows = await this.#db.query<{ id: string }>(
      'UPDATE api_keys SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING id',
      [id, new Date(this.#clock.now()), by ?? null],
    );
    return rows.length === 1;
  }

  /**
   * The principal of a key. Throws `invalid_credential` (one message for every case) when the key
   * is malformed, unknown, revoked or expired; `store_unavailable` when the store cannot answer.
   */
  async verify(key: string): Promise<Principal> {
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) throw new GatehouseError('invalid_credential', INVALID);
    const id = key.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + ID_LEN);
    let row: Row | undefined;
    try {
      row = (await this.#db.query<Row>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]))[0];
    } catch (err) {
      throw new GatehouseError('store_unavailable', 'cannot check the API key', {}, { cause: err });
    }
    const expected = Buffer.from(row?.key_hash ?? '0'.repeat(64), 'hex');
    const matches = timingSafeEqual(Buffer.from(hashKey(key), 'hex'), expected) && row !== undefined;
    const now = this.#clock.now();
    if (!row || !matches || row.revoked_at !== null || (row.expires_at !== null && row.expires_at.getTime() <= now)) {
      throw new GatehouseError('invalid_credential', INVALID);
    }
    const principal = toPrincipal(row);
    await this.#touch(id, now);
    return principal;
  }

  /** Records `last_used_at`, at most once a minute per key and per process. Failures are ignored. */
  async #touch(id: string, now: number): Promise<void> {
    const last = this.#lastUsedWritten.get(id);
    if (last !== undefined && now - last < LAST_USED_RESOLUTION_MS) return;
    if (this.#lastUsedWritten.size >= LAST_USED_MEMO_MAX) this.#lastUsedWritten.clear();
    this.#lastUsedWritten.set(id, now);
    try {
      await this.#db.query('UPDATE api_keys SET last_used_at = $2 WHERE id = $1', [id, new Date(now)]);
    } catch {
      // informational only: authentication already succeeded on verified state
    }
  }
}

/** Lower-case hex sha256 of the whole key string. */
function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
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
