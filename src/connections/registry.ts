import type { Secret } from '../kernel/secret.ts';
import { GatehouseError } from '../kernel/errors.ts';
import type { ConnectionsRepo } from '../store/connections-repo.ts';
import type { ConnectionConfig } from '../config/types.ts';
import { connectionFieldsOf, type ConnectionFields, type ConnectionType } from '../protocols/registry.ts';

/**
 * A connection as the data paths use it, wherever it was defined: the common fields, and the
 * fields its type declares (`ConnectionFields`, derived from the protocol registry).
 */
export interface Connection extends ConnectionFields {
  readonly name: string;
  readonly type: ConnectionType;
  readonly url: string;
  readonly credentials: Readonly<Record<string, Secret>>;
  readonly description?: string;
  readonly tags: readonly string[];
  /** `config`: from gatehouse.yaml (read-only through the API); `api`: created through the API. */
  readonly source: 'config' | 'api';
  /** Upstream timeouts in milliseconds, the config's `timeouts` (converted at load); absent: the schema defaults apply. */
  readonly timeoutsMs?: { readonly connect: number; readonly headers: number; readonly body: number };
}

/** The public view of a connection: credential names only, never values; its type's own fields. */
export function publicConnection(c: Connection): Record<string, unknown> {
  return {
    name: c.name, type: c.type, url: c.url, description: c.description,
    tags: c.tags, source: c.source, credentials: Object.keys(c.credentials).sort(),
    ...connectionFieldsOf(c),
  };
}

/**
 * Config-file connections (read-only) merged with those stored through the admin API.
 * A name defined in the config file cannot be created or changed through the API.
 */
export class ConnectionRegistry {
  readonly #fromConfig: Map<string, Connection>;
  readonly #repo: ConnectionsRepo;

  constructor(config: readonly ConnectionConfig[], repo: ConnectionsRepo) {
    this.#fromConfig = new Map(config.map((c) => [c.name, fromConfig(c)]));
    this.#repo = repo;
  }

  async get(name: string): Promise<Connection | undefined> {
    const c = this.#fromConfig.get(name);
    if (c) return c;
    const s = await this.#repo.get(name);
    return s ? { ...s, source: 'api' } : undefined;
  }

  async require(name: string): Promise<Connection> {
    const c = await this.get(name);
    if (!c) throw new GatehouseError('not_found', `no connection named "${name}"`);
    return c;
  }

  async list(): Promise<Connection[]> {
    const stored = (await this.#repo.list()).filter((s) => !this.#fromConfig.has(s.name));
    return [...this.#fromConfig.values(), ...stored.map((s): Connection => ({ ...s, source: 'api' }))]
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  isConfigDefined(name: string): boolean {
    return this.#fromConfig.has(name);
  }
}

function fromConfig(c: ConnectionConfig): Connection {
  return {
    name: c.name, type: c.type, url: c.url, tags: c.tags, source: 'config',
    timeoutsMs: { connect: c.timeouts.connect_ms, headers: c.timeouts.headers_ms, body: c.timeouts.body_ms },
    credentials: Object.fromEntries(Object.entries(c.credentials).filter((e): e is [string, Secret] => e[1] !== undefined)),
    ...connectionFieldsOf(c),
    ...(c.description === undefined ? {} : { description: c.description }),
  };
}
