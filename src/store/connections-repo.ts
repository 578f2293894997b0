import { systemClock, type Clock } from '../kernel/clock.ts';
import { GatehouseError } from '../kernel/errors.ts';
import { Secret } from '../kernel/secret.ts';
import { open, seal } from './crypto-box.ts';
import type { SqlDriver, SqlExecutor } from './sql.ts';
import { connectionFieldsOf, isConnectionType, REGISTRY, type ConnectionFields, type ConnectionType } from '../protocols/registry.ts';

export type { ConnectionType } from '../protocols/registry.ts';
/** Letters, digits, `.`, `_`, `-`; at most 63 (a PostgreSQL database name selects a connection). */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const MAX_TAGS = 64;
const MAX_TEXT = 2048;

/**
 * The type-specific field kept in a column of its own (written before the `fields` column
 * existed); every other field a connection type declares is kept in `fields`.
 */
const COLUMN_FIELD = 'provider';

/** A connection as the admin API creates it, with its type's own fields (`ConnectionFields`). */
export interface StoredConnectionInput extends ConnectionFields {
  readonly name: string;
  readonly type: ConnectionType;
  readonly url: string;
  readonly credentials?: Readonly<Record<string, Secret>>;
  readonly description?: string;
  readonly tags?: readonly string[];
}

/** A connection stored through the admin API; credentials are opened only when read. */
export interface StoredConnection extends ConnectionFields {
  readonly name: string;
  readonly type: ConnectionType;
  readonly url: string;
  readonly credentials: Readonly<Record<string, Secret>>;
  readonly description?: string;
  readonly tags: readonly string[];
  /** ISO-8601 UTC. */
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly createdBy?: string;
}

/**
 * Fields to change; `null` clears an optional field (a type-specific one too). `credentials`
 * replaces the whole map.
 */
export type ConnectionPatch = {
  readonly type?: ConnectionType;
  readonly url?: string;
  readonly credentials?: Readonly<Record<string, Secret>>;
  readonly description?: string | null;
  readonly tags?: readonly string[];
} & { readonly [K in keyof ConnectionFields]?: ConnectionFields[K] | null };

/** The type-specific, non-secret fields kept in the `fields` column, by name. */
type TypeFields = Record<string, unknown>;

interface Row {
  name: string; type: string; provider: string | null; url: string; credentials_enc: string;
  description: string | null; tags: unknown; fields: unknown; created_at: Date | string; updated_at: Date | string; created_by: string | null;
}

const COLUMNS = 'name, type, provider, url, credentials_enc, description, tags, fields, created_at, updated_at, created_by';

/**
 * Connections created through the admin API. Credentials are sealed at rest with the master key
 * (AES-256-GCM, bound to the connection name) and come back as {@link Secret}s.
 *
 * @example
 *   const repo = new ConnectionsRepo(db, loadOrCreateMasterKey('./.gatehouse'));
 *   await repo.create({ name: 'crm', type: 'postgres', url: 'postgres://db/crm',
 *     credentials: { password: new Secret(pw) }, createdBy: 'admin' });
 */
export class ConnectionsRepo {
  readonly #db: SqlDriver;
  readonly #key: Buffer;
  readonly #clock: Clock;

  constructor(db: SqlDriver, key: Buffer, clock: Clock = systemClock) {
    this.#db = db;
    this.#key = key;
    this.#clock = clock;
  }

  /** Stores a new connection; `conflict` if the name is taken. */
  async create(c: StoredConnectionInput & { readonly createdBy?: string }): Promise<StoredConnection> {
    checkName(c.name);
    const { [COLUMN_FIELD]: provider, ...own } = connectionFieldsOf(c) as TypeFields;
    const v = checkFields(c.type, c.url, (provider as string | undefined) ?? null, c.description ?? null, c.tags ?? [], c.credentials ?? {});
    const fields = checkTypeFields(own);
    const now = new Date(this.#clock.now()).toISOString();
    const rows = await this.#db.query<Row>(
      `INSERT INTO connections (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::timestamptz, $9::timestamptz, $10)
       ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
      [c.name, v.type, v.provider, v.url, this.#seal(c.name, v.credentials), v.description, JSON.stringify(v.tags), JSON.stringify(fields), now, c.createdBy ?? null],
    );
    const row = rows[0];
    if (!row) throw new GatehouseError('conflict', `a connection named "${c.name}" already exists`);
    return this.#fromRow(row);
  }

  /** The connection named `name`, or undefined. */
  async get(name: string): Promise<StoredConnection | undefined> {
    const [row] = await this.#db.query<Row>(`SELECT ${COLUMNS} FROM connections WHERE name = $1`, [name]);
    return row ? this.#fromRow(row) : undefined;
  }

  /** All stored connections, by name. */
  async list(): Promise<StoredConnection[]> {
    const rows = await this.#db.query<Row>(`SELECT ${COLUMNS} FROM connections ORDER BY name LIMIT 10000`);
    return rows.map((r) => this.#fromRow(r));
  }

  /** Applies `patch` atomically; `not_found` if there is no such connection. */
  async update(name: string, patch: ConnectionPatch): Promise<StoredConnection> {
    return this.#db.transaction(async (tx) => {
      const [row] = await tx.query<Row>(`SELECT ${COLUMNS} FROM connections WHERE name = $1 FOR UPDATE`, [name]);
      if (!row) throw new GatehouseError('not_found', `no connection named "${name}"`);
      const cur = this.#fromRow(row);
      // Each type-specific field: the patch's value, its null clearing it, or the current one.
      const merged: TypeFields = {};
      const current = cur as unknown as TypeFields;
      const patched = patch as unknown as TypeFields;
      for (const f of REGISTRY.fieldNames()) {
        const value = patched[f] === undefined ? current[f] : patched[f] ?? undefined;
        if (value !== undefined) merged[f] = value;
      }
      const { [COLUMN_FIELD]: provider, ...own } = merged;
      const v = checkFields(
        patch.type ?? cur.type, patch.url ?? cur.url, (provider as string | undefined) ?? null,
        patch.description === undefined ? cur.description ?? null : patch.description,
        patch.tags ?? cur.tags, patch.credentials ?? cur.credentials,
      );
      const fields = checkTypeFields(own);
      return this.#fromRow(await updateRow(tx, name, [
        v.type, v.provider, v.url, this.#seal(name, v.credentials), v.description, JSON.stringify(v.tags),
        new Date(this.#clock.now()).toISOString(), JSON.stringify(fields),
      ]));
    });
  }

  /** Deletes the connection; false if there was none. */
  async delete(name: string): Promise<boolean> {
    const rows = await this.#db.query('DELETE FROM connections WHERE name = $1 RETURNING name', [name]);
    return rows.length > 0;
  }

  #seal(name: string, credentials: Readonly<Record<string, Secret>>): string {
    const plain: Record<string, string> = {};
    for (const [k, s] of Object.entries(credentials)) plain[k] = s.reveal();
    return seal(this.#key, JSON.stringify(plain), `connection:${name}`);
  }

  #fromRow(r: Row): StoredConnection {
    const parsed: unknown = JSON.parse(open(this.#key, r.credentials_enc, `connection:${r.name}`));
    const credentials: Record<string, Secret> = {};
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof v === 'string') credentials[k] = new Secret(v);
    }
    return {
      name: r.name, type: r.type as ConnectionType, url: r.url, credentials,
      tags: Array.isArray(r.tags) ? r.tags.filter((t): t is string => typeof t === 'string') : [],
      createdAt: new Date(r.created_at).toISOString(), updatedAt: new Date(r.updated_at).toISOString(),
      ...(r.description === null ? {} : { description: r.description }),
      ...(r.created_by === null ? {} : { createdBy: r.created_by }),
      // Validated against the connection schema when written (the admin API), so of their declared types.
      ...typeFieldsOf(r.fields) as ConnectionFields,
      ...(r.provider === null ? {} : { [COLUMN_FIELD]: r.provider } as ConnectionFields),
    };
  }
}

async function updateRow(tx: SqlExecutor, name: string, values: unknown[]): Promise<Row> {
  const [row] = await tx.query<Row>(
    `UPDATE connections SET type = $2, provider = $3, url = $4, credentials_enc = $5, description = $6,
       tags = $7::jsonb, updated_at = $8::timestamptz, fields = $9::jsonb WHERE name = $1 RETURNING ${COLUMNS}`,
    [name, ...values],
  );
  if (!row) throw new GatehouseError('not_found', `no connection named "${name}"`);
  return row;
}

function checkName(name: string): void {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new GatehouseError('validation_failed', 'connection name must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
}

function checkFields(
  type: string, url: string, provider: string | null, description: string | null,
  tags: readonly string[], credentials: Readonly<Record<string, Secret>>,
): { type: string; url: string; provider: string | null; description: string | null; tags: readonly string[]; credentials: Readonly<Record<string, Secret>> } {
  const bad = (msg: string): never => { throw new GatehouseError('validation_failed', msg); };
  if (!isConnectionType(type)) bad(`connection ${REGISTRY.unregisteredTypeMessage(type)}`);
  if (typeof url !== 'string' || url.length === 0 || url.length > MAX_TEXT) bad('connection url must be a non-empty string');
  for (const t of [provider, description]) if (t !== null && (typeof t !== 'string' || t.length > MAX_TEXT)) bad('provider and description must be short strings');
  if (!Array.isArray(tags) || tags.length > MAX_TAGS || tags.some((t) => typeof t !== 'string' || t.length === 0 || t.length > 64)) {
    bad(`tags must be at most ${MAX_TAGS} non-empty strings of at most 64 characters`);
  }
  for (const v of Object.values(credentials)) if (!(v instanceof Secret)) bad('credential values must be Secret instances');
  return { type, url, provider, description, tags: [...tags], credentials };
}

/** The longest string a type-specific field may hold (a pinned SSH host key line). */
const MAX_FIELD_TEXT = 16_384;
/** The longest entry of a type-specific list field (a media type). */
const MAX_FIELD_ITEM = 255;

/**
 * Bounds the type-specific fields (the API validated their shape with the config schema): a
 * string is non-empty and at most {@link MAX_FIELD_TEXT} characters, a list at most
 * {@link MAX_TAGS} non-empty strings of at most {@link MAX_FIELD_ITEM}; numbers and booleans pass;
 * anything else (an object) is refused.
 */
function checkTypeFields(f: TypeFields): TypeFields {
  const bad = (msg: string): never => { throw new GatehouseError('validation_failed', msg); };
  for (const [key, v] of Object.entries(f)) {
    if (typeof v === 'string') {
      if (v.length === 0 || v.length > MAX_FIELD_TEXT) bad(`${key} must be a non-empty string of at most ${MAX_FIELD_TEXT} characters`);
    } else if (Array.isArray(v)) {
      if (v.length > MAX_TAGS || v.some((t) => typeof t !== 'string' || t.length === 0 || t.length > MAX_FIELD_ITEM)) bad(`${key} must be at most ${MAX_TAGS} strings of 1 to ${MAX_FIELD_ITEM} characters`);
    } else if (typeof v !== 'number' && typeof v !== 'boolean') {
      bad(`${key} must be a string, a number, a boolean or a list of strings`);
    }
  }
  return f;
}

/**
 * The type-specific fields of a stored row: the declared ones (`ConnectionFields`) holding a
 * string, number, boolean or list of strings (a column written before them reads as none).
 */
function typeFieldsOf(raw: unknown): TypeFields {
  const o = typeof raw === 'string' ? JSON.parse(raw) as unknown : raw;
  if (o === null || typeof o !== 'object') return {};
  const out: TypeFields = {};
  for (const [key, v] of Object.entries(connectionFieldsOf(o) as TypeFields)) {
    if (key === COLUMN_FIELD) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[key] = v;
    else if (Array.isArray(v)) out[key] = v.filter((t): t is string => typeof t === 'string');
  }
  return out;
}
