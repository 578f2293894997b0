/**
 * The one list of protocol modules the gateway serves, and what is derived from it: the
 * connection types, the protocols' actions and facts, their listeners. Configuration (schema,
 * URL rule, `server.<name>` sections), policy (`ACTIONS`, `Facts`, the Cedar schema and context,
 * the review rules' optional context), the connection store, the OpenAPI document and the
 * gateway's listener set all read this module; none of them names a protocol.
 *
 * To add a protocol: declare it in `src/protocols/<name>/protocol.ts` (see contract.ts) and add it
 * to `PROTOCOLS`. docs/design/adding-a-protocol.md walks through it.
 */
import type { ValueOf } from '../kernel/json-schema.ts';
import { didYouMean } from '../kernel/suggest.ts';
import type { ActionDecl, ConnectionTypeDecl, CredentialDecl, FactsDecl, ListenerDecl, PrincipalLimitDecl, ProtocolModule } from './contract.ts';
import { httpProtocol } from './http/protocol.ts';
import { mcpProtocol } from './mcp/protocol.ts';
import { postgresProtocol } from './postgres/protocol.ts';
import { sshProtocol } from './ssh/protocol.ts';

/** The registered protocols, in order (their actions, types and context records follow it). */
export const PROTOCOLS = [httpProtocol, postgresProtocol, mcpProtocol, sshProtocol] as const satisfies readonly ProtocolModule[];

type Registered = (typeof PROTOCOLS)[number];
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type FactsOf<P> = P extends { readonly facts: infer F } ? { readonly [K in keyof F]?: F[K] extends FactsDecl<infer T> ? T : never } : never;
type CredentialKeysOf<C> = C extends { readonly credentials: infer R } ? keyof R & string : never;
type ListenerConfigOf<P> = P extends { readonly listener: ListenerDecl<infer C> } ? C : never;
type LimitsOf<P> = P extends { readonly principalLimits: infer L } ? L : never;
type AllLimits = UnionToIntersection<LimitsOf<Registered>>;

/** A registered connection type (`connections[].type`). */
export type ConnectionType = Registered['connectionTypes'][number]['type'];
/** An action some registered protocol asks policy about. */
export type ProtocolAction = Registered['actions'][number]['name'];
/** Every facts record of the registered protocols, each optional (`AccessRequest.facts`). */
export type ProtocolFacts = UnionToIntersection<FactsOf<Registered>>;
type FieldsOf<C> = C extends { readonly fields: infer F } ? { readonly [K in keyof F]?: ValueOf<F[K]> } : never;
/**
 * Every registered type's own connection fields (`provider`, `pass_media_types`, `host_key`),
 * each optional and typed from its declared schema: what `ConnectionConfig` and `Connection`
 * carry beside the common fields. A type declaring a field needs no edit elsewhere.
 */
export type ConnectionFields = UnionToIntersection<FieldsOf<Registered['connectionTypes'][number]>>;
/** A credential key some registered connection type uses. */
export type CredentialKey = CredentialKeysOf<Registered['connectionTypes'][number]>;
/** The `protocol` of a recorded session. */
export type RecordingProtocol = Registered['recording'];
/** The `protocol` of a recorded session made of exchanges (`sessions: 'exchanges'`): grouped by header, closed by idleness. */
export type ExchangeSessionProtocol = Extract<Registered, { readonly sessions: 'exchanges' }>['recording'];
/** `server.<name>` of each registered protocol with a listener, after load. */
export type ListenerSections = { readonly [P in Registered as P extends { readonly listener: object } ? P['name'] : never]: ListenerConfigOf<P> };

/** The registered protocols' per-principal limits (`limits.per_principal.postgres_sessions`), after load. */
export type ProtocolPrincipalLimits = { readonly [K in keyof AllLimits]: number };
/** Where those limits are counted (`postgres`). */
export type ProtocolLimitSurface = { [K in keyof AllLimits]: AllLimits[K] extends { readonly surface: infer S } ? S : never }[keyof AllLimits];

/** An attribute of the Cedar `Connection` entity a connection type declares (`resourceAttributes`). */
export interface ResourceAttribute {
  readonly name: string;
  /** The connection type whose field it is. */
  readonly type: string;
  /** The comment above it in the Cedar schema (after "For <type> connections: "). */
  readonly doc: string;
}

/** A credential key as every type declaring it uses it (descriptions joined). */
export interface MergedCredential {
  readonly key: string;
  readonly description: string;
  readonly kind: 'secret' | 'name';
  readonly pattern?: string;
}

/**
 * A list of protocol modules and what follows from it. `REGISTRY` is the gateway's; tests build
 * others (a fake protocol) to show a registration reaches configuration and policy.
 */
export class ProtocolSet {
  readonly protocols: readonly ProtocolModule[];
  /** Connection types, in registration order. */
  readonly connectionTypes: readonly string[];
  /** Protocol actions, in registration order. */
  readonly actions: readonly ActionDecl[];
  /** Context records (`sql`, `llm`, …), in registration order. */
  readonly facts: readonly (readonly [string, FactsDecl<unknown>])[];
  /** Attributes of the Cedar `Connection` entity the types declare (`provider`), in registration order. */
  readonly resourceAttributes: readonly ResourceAttribute[];
  readonly #types: ReadonlyMap<string, ConnectionTypeDecl>;
  readonly #fieldNames: readonly string[];
  readonly #attributeNames: ReadonlyMap<string, readonly string[]>;

  /** Throws naming every inconsistency (a duplicate type, action, facts key, field or credential). */
  constructor(protocols: readonly ProtocolModule[]) {
    const problems = registryProblems(protocols);
    if (problems.length > 0) throw new Error(`protocol registry is inconsistent: ${problems.join('; ')}`);
    this.protocols = protocols;
    this.#types = new Map(protocols.flatMap((p) => p.connectionTypes.map((c) => [c.type, c] as const)));
    this.connectionTypes = [...this.#types.keys()];
    this.#fieldNames = [...this.#types.values()].flatMap((c) => Object.keys(c.fields ?? {}));
    this.actions = protocols.flatMap((p) => p.actions);
    this.facts = protocols.flatMap((p) => Object.entries(p.facts));
    this.resourceAttributes = [...this.#types.values()].flatMap((c) => Object.entries(c.resourceAttributes ?? {}).map(([name, doc]) => ({ name, type: c.type, doc })));
    this.#attributeNames = new Map([...this.#types.values()].map((c) => [c.type, Object.keys(c.resourceAttributes ?? {})]));
  }

  /**
   * The declared Cedar attributes of a connection (`{ provider: 'openai' }` for an llm one): the
   * fields its type declares as resource attributes that it has, as a new object; undefined when
   * it has none.
   *
   * @example set.resourceAttributesOf({ type: 'llm', provider: 'anthropic' }) // { provider: 'anthropic' }
   */
  resourceAttributesOf(c: { readonly type: string }): Readonly<Record<string, string>> | undefined {
    let out: Record<string, string> | undefined;
    for (const name of this.#attributeNames.get(c.type) ?? []) {
      const v = (c as Readonly<Record<string, unknown>>)[name];
      if (typeof v === 'string') (out ??= {})[name] = v;
    }
    return out;
  }

  /** The declaration of a registered connection type, or undefined. */
  connectionType(type: string): ConnectionTypeDecl | undefined {
    return this.#types.get(type);
  }

  /** The registered type that owns a type-specific connection field (`provider` → `llm`). */
  fieldOwner(field: string): string | undefined {
    for (const c of this.#types.values()) if (c.fields && Object.hasOwn(c.fields, field)) return c.type;
    return undefined;
  }

  /** Every type's own connection field names (`provider`, `pass_media_types`, `host_key`), in registration order. */
  fieldNames(): readonly string[] {
    return this.#fieldNames;
  }

  /** Every credential key, merged across the types declaring it, in registration order. */
  credentials(): MergedCredential[] {
    const out = new Map<string, { description: string[]; kind: 'secret' | 'name'; pattern?: string }>();
    for (const c of this.#types.values()) {
      for (const [key, d] of Object.entries(c.credentials)) {
        const seen = out.get(key);
        if (seen) seen.description.push(d.description);
        else out.set(key, { description: [d.description], kind: d.kind ?? 'secret', ...(d.pattern === undefined ? {} : { pattern: d.pattern }) });
      }
    }
    return [...out].map(([key, m]) => ({ key, description: m.description.join(' '), kind: m.kind, ...(m.pattern === undefined ? {} : { pattern: m.pattern }) }));
  }

  /** Every protocol's per-principal limits, by key of `limits.per_principal`, in registration order. */
  principalLimits(): (readonly [string, PrincipalLimitDecl])[] {
    return this.protocols.flatMap((p) => Object.entries(p.principalLimits ?? {}));
  }

  /** The recording protocols whose sessions are made of exchanges (`sessions: 'exchanges'`), in registration order. */
  exchangeSessionProtocols(): string[] {
    return this.protocols.filter((p) => p.sessions === 'exchanges').map((p) => p.recording);
  }

  /** Protocols with a listener of their own, with it. */
  listeners(): { readonly name: string; readonly listener: ListenerDecl<{ readonly listen: string }> }[] {
    return this.protocols.flatMap((p) => (p.listener ? [{ name: p.name, listener: p.listener }] : []));
  }

  /**
   * Why `type` is refused: it is not registered. Names the registered types, suggests a close
   * one, and adds a protocol's hint when one declared it (`mcp`). The value itself is quoted only
   * when it is such a known one: a configured value may be an interpolated secret.
   *
   * @example set.unregisteredTypeMessage('mcp') // 'type "mcp" is not a registered connection type, so it is not served yet (registered: llm, http, postgres, ssh). Upstream MCP servers …'
   */
  unregisteredTypeMessage(type: string): string {
    const hint = this.protocols.map((p) => p.refusedConnectionTypes).find((h) => h !== undefined && Object.hasOwn(h, type))?.[type];
    return `type${hint === undefined ? '' : ` "${type}"`} is not a registered connection type, so it is not served yet `
      + `(registered: ${this.connectionTypes.join(', ')})${didYouMean(type, this.connectionTypes)}.${hint === undefined ? '' : ` ${hint}`}`;
  }
}

/** The attributes every Cedar `Connection` entity has (src/policy/cedar-schema.ts). */
const CONNECTION_ENTITY_ATTRIBUTES: readonly string[] = ['name', 'type', 'tags'];

/** Every inconsistency of a list of protocol modules (empty: consistent). */
export function registryProblems(protocols: readonly ProtocolModule[]): string[] {
  const problems: string[] = [];
  const once = (what: string, seen: Map<string, string>, key: string, owner: string): void => {
    const prev = seen.get(key);
    if (prev !== undefined) problems.push(`${what} "${key}" is declared by ${prev} and ${owner}`);
    else seen.set(key, owner);
  };
  const names = new Map<string, string>();
  const types = new Map<string, string>();
  const actions = new Map<string, string>();
  const facts = new Map<string, string>();
  const fields = new Map<string, string>();
  const credentials = new Map<string, CredentialDecl & { owner: string }>();
  const lowerName = /^[a-z][a-z0-9_]{0,30}$/;
  for (const p of protocols) {
    if (!lowerName.test(p.name)) problems.push(`protocol name "${p.name}" must match ${lowerName.source}`);
    once('protocol', names, p.name, p.name);
    for (const c of p.connectionTypes) {
      if (!lowerName.test(c.type)) problems.push(`connection type "${c.type}" must match ${lowerName.source}`);
      once('connection type', types, c.type, p.name);
      if (c.urlSchemes.length === 0) problems.push(`connection type "${c.type}" accepts no URL scheme`);
      for (const f of Object.keys(c.fields ?? {})) once('connection field', fields, f, c.type);
      for (const a of c.actions) if (!p.actions.some((d) => d.name === a)) problems.push(`connection type "${c.type}" uses action "${a}", which ${p.name} does not declare`);
      for (const r of c.required ?? []) if (!Object.hasOwn(c.fields ?? {}, r)) problems.push(`connection type "${c.type}" requires "${r}", which is not one of its fields`);
      for (const a of Object.keys(c.resourceAttributes ?? {})) {
        const field = c.fields?.[a];
        if (CONNECTION_ENTITY_ATTRIBUTES.includes(a)) problems.push(`connection type "${c.type}" declares resource attribute "${a}", which every Connection has`);
        else if (field?.type !== 'string') problems.push(`connection type "${c.type}" declares resource attribute "${a}", which is not one of its string fields`);
      }
      for (const [key, d] of Object.entries(c.credentials)) {
        const prev = credentials.get(key);
        if (!prev) credentials.set(key, { ...d, owner: c.type });
        else if ((prev.kind ?? 'secret') !== (d.kind ?? 'secret') || prev.pattern !== d.pattern) {
          problems.push(`credential "${key}" of ${c.type} differs in kind or pattern from ${prev.owner}'s`);
        }
      }
    }
    for (const a of p.actions) {
      once('action', actions, a.name, p.name);
      if (a.resources.length === 0) problems.push(`action "${a.name}" applies to no resource`);
    }
    for (const key of Object.keys(p.facts)) {
      if (key === 'agent' || key === 'via' || key === 'time') problems.push(`facts "${key}" is a gateway context attribute`);
      once('facts', facts, key, p.name);
    }
  }
  return problems;
}

/** The gateway's protocols. */
export const REGISTRY = new ProtocolSet(PROTOCOLS);

/** The registered connection types, in order (`['llm', 'http', 'postgres']`). */
export const CONNECTION_TYPES = REGISTRY.connectionTypes as readonly ConnectionType[];

/** The recording protocols of exchange-grouped sessions (`['http', 'mcp']`): the orphan sweep closes theirs. */
export const EXCHANGE_SESSION_PROTOCOLS = REGISTRY.exchangeSessionProtocols() as readonly ExchangeSessionProtocol[];

/**
 * The type-specific fields `c` has (any registered type's own fields that are set, by name), as a
 * new object: how a connection's fields are copied from one form to another (config, store, API)
 * without naming them.
 *
 * @example connectionFieldsOf({ name: 'web01', type: 'ssh', host_key: 'ssh-ed25519 AAAA…' }) // { host_key: 'ssh-ed25519 AAAA…' }
 */
export function connectionFieldsOf(c: object, set: ProtocolSet = REGISTRY): ConnectionFields {
  const out: Record<string, unknown> = {};
  for (const f of set.fieldNames()) {
    const v = (c as Record<string, unknown>)[f];
    if (v !== undefined) out[f] = v;
  }
  return out; // the declared fields, as set (validated where they entered: configuration, admin API)
}

/** Whether `type` is a registered connection type. */
export function isConnectionType(type: unknown): type is ConnectionType {
  return typeof type === 'string' && REGISTRY.connectionType(type) !== undefined;
}
