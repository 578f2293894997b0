/**
 * The protocol contract: everything one protocol module contributes to the gateway, declared as
 * data in the protocol's own folder (`src/protocols/<name>/protocol.ts`) and registered in the one
 * list of `src/protocols/registry.ts`. The configuration schema, the connection types, the
 * actions and facts of policy, the Cedar schema, the review rules' optional context, the OpenAPI
 * enums and the listener set are derived from that list; nothing else names a protocol.
 *
 * A declaration is pure data: it imports only the kernel and its own folder's `facts.ts` (the
 * import-boundary check places these files, with this one and registry.ts, just above the kernel,
 * so configuration, policy and the store may read them). The code that serves the protocol stays
 * in the rest of its folder. The declaration names that code by one lazy import of its folder's
 * `runtime.ts` (`runtime: () => import('./runtime.ts')`, see {@link ProtocolRuntime}): loaded by
 * the composition root only, after every module is, so it is no load-time dependency (the
 * import-boundary check allows exactly this edge). See docs/design/adding-a-protocol.md.
 */
import type { JsonSchema } from '../kernel/json-schema.ts';

/** A Cedar context value in JSON form, as facts become (no entity references, no extensions). */
export type CedarFact = string | number | boolean | CedarFact[] | { [attr: string]: CedarFact };

/** One kind of upstream a protocol serves: a value of `connections[].type`. */
export interface ConnectionTypeDecl {
  /** The `type` value: lower-case letters, e.g. `postgres`. Unique across the registry. */
  readonly type: string;
  /** What it reaches, in a few words (schema descriptions, the guide). */
  readonly summary: string;
  /** The protocol's actions a connection of this type is used with (`['sql.read', …]`); each one of `actions`. */
  readonly actions: readonly string[];
  /** URL schemes `connections[].url` may use (the part before `://`), e.g. `['postgres', 'postgresql']`. */
  readonly urlSchemes: readonly string[];
  /** A stricter pattern for `connections[].url` than "one of the schemes" (it must still start with one). */
  readonly urlPattern?: string;
  /**
   * The credential keys this type uses (`connections[].credentials`). Every value is held as a
   * `Secret` after load. A key several types declare is one key: its descriptions are joined and
   * its `kind` and `pattern` must agree.
   */
  readonly credentials: Readonly<Record<string, CredentialDecl>>;
  /** Credential keys that need others (JSON Schema `dependentRequired`). */
  readonly credentialDependencies?: Readonly<Record<string, readonly string[]>>;
  /**
   * Connection fields only this type takes (any other type refuses them), with their schema. No
   * `duration()` or `size()` here: the config file's would load as numbers (`<key>_ms`), the admin
   * API's are stored as given, so the data path would see two shapes.
   */
  readonly fields?: Readonly<Record<string, JsonSchema>>;
  /** Those of `fields` a connection of this type must give. */
  readonly required?: readonly string[];
  /**
   * Own fields that policies read as attributes of the Cedar `Connection` entity
   * (`resource.provider`): field name → the comment written above it in the Cedar schema (after
   * "For <type> connections: "). Each is one of `fields`, a string, and an optional `String`
   * attribute in the schema (absent on other types: test with `resource has provider`).
   */
  readonly resourceAttributes?: Readonly<Record<string, string>>;
  /**
   * The MCP tool that uses a connection of this type (a tool of src/protocols/mcp/tools:
   * `query`, `run_command`, `call_llm`, `http_request`). Absent: MCP has no tool for it, and
   * `list_connections` says `none`. MCP derives which tool serves which type from this alone (an
   * MCP test checks that each name is one of its tools). A SQL type names `query` and gives a
   * `sqlRunner`; a shell type names `run_command` and gives a `shellRunner`.
   */
  readonly mcpTool?: string;
}

/** One credential key of a connection type. */
export interface CredentialDecl {
  /** What it holds for this type, one sentence. */
  readonly description: string;
  /** `name`: not secret in itself (a header name), documented without the secret-reference advice. Default `secret`. */
  readonly kind?: 'secret' | 'name';
  /** Pattern the value must match (JSON Schema `pattern`). */
  readonly pattern?: string;
}

/** A Cedar resource type an action may apply to. */
export type ResourceKind = 'Connection' | 'Gateway';

/** An action the protocol asks policy about (`Action::"sql.read"`). Unique across the registry. */
export interface ActionDecl {
  readonly name: string;
  /** Resource types it applies to: `['Connection']`, or `['Connection', 'Gateway']` for tools that may name none. */
  readonly resources: readonly ResourceKind[];
  /**
   * Comment written above its own `action` declaration in the Cedar schema. Actions without one
   * that apply to Connection alone are declared together with the other data-plane actions.
   */
  readonly doc?: string;
}

/**
 * One optional record of the Cedar context (`context.sql`), present when the protocol extracted
 * those facts. `F` is the TypeScript type the protocol puts in `AccessRequest.facts[key]`.
 */
export interface FactsDecl<F> {
  /** Comment above the attribute in the Cedar schema, e.g. `SQL facts from the PostgreSQL parser.` */
  readonly doc: string;
  /**
   * The Cedar record type as written inside `type Context = { … }` (with its comments), starting
   * at `{` and ending at `}`; indented for its place (two spaces before each attribute).
   */
  readonly cedarType: string;
  /**
   * Copies exactly the attributes of `cedarType` from `facts` (optional TypeScript fields get
   * their defaults), never an extra field a protocol may have added. Must not throw on a value of
   * type `F`.
   */
  toContext(facts: F): { [attr: string]: CedarFact };
}

/** Where a listener binds and how; decided by the gateway from `server.<name>.listen` and `server.tls`. */
export interface ListenAt {
  readonly host: string;
  readonly port: number;
  /** Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost). */
  readonly loopback: boolean;
  /** `server.tls`: PEM file paths, when configured. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

/** What else a listener gets from the gateway. */
export interface ListenerEnv {
  /** The directory of the gateway's local state files (a listener's persistent keys: the SSH host key). */
  readonly stateDir: string;
}

/** A started listener. */
export interface RunningListener {
  /** The bound address (the real port when 0 was asked). */
  readonly address: { readonly host: string; readonly port: number };
  /** Public facts about it for the operator and tests (the SSH host key), never a secret. */
  readonly info?: Readonly<Record<string, string>>;
  /** Stops accepting, ends its sessions, resolves when they are gone. Never rejects. */
  close(): Promise<void>;
}

/**
 * A listener of the protocol's own (a port beside the HTTP listener), configured under
 * `server.<protocol name>`. `C` is the section after load.
 */
export interface ListenerDecl<C extends { readonly listen: string }> {
  /** Description of the `server.<name>` section. */
  readonly description: string;
  /** Its properties (`listen` included, with its default), each with its schema. */
  readonly config: Readonly<Record<string, JsonSchema>>;
  /**
   * The section after schema validation and defaults, as the listener reads it. Its durations and
   * sizes (declared with `duration()` / `size()`) are numbers already, renamed `<key>_ms` /
   * `<key>_bytes` (config/numbers.ts). Runs once at load; throws only on a value the schema let
   * through by mistake.
   */
  load(section: Readonly<Record<string, unknown>>): C;
  /**
   * Whether the listener runs, from its section and the connection types the configuration file
   * uses (SSH: only with an ssh connection or `enabled: true`). Default: always.
   */
  wanted?(section: C, connectionTypes: ReadonlySet<string>): boolean;
  /**
   * The protocol is its own encrypted transport (SSH): `server.tls` does not apply to it, and a
   * non-loopback address needs no TLS. Default false: without TLS the listener binds loopback
   * only, unless `server.allow_insecure_public`.
   */
  readonly ownTransport?: boolean;
}

/**
 * Starts a declared listener: binds `at`, serves with `deps` (the gateway's services, of which
 * the protocol declares the narrow part it needs) and its `server.<name>` section.
 */
export type ListenerStart<Deps, C> = (deps: Deps, at: ListenAt, config: C, env: ListenerEnv) => Promise<RunningListener>;

/**
 * The running part of a protocol, exported by its folder's `runtime.ts` and loaded by the
 * composition root through the declaration's `runtime` (a lazy import). `Deps` is what the
 * protocol needs of the gateway's services (checked against them in src/app/protocol-runtimes.ts),
 * `C` its `server.<name>` section after load.
 */
export interface ProtocolRuntime<Deps, C = never> {
  /** Starts the declared listener; required when the declaration has one. */
  readonly startListener?: ListenerStart<Deps, C>;
  /**
   * Runs SQL on a caller's behalf (MCP's query tools) for the protocol's connection types: the
   * `SqlQueryRunner` port of src/sql (typed there; this layer may not name it).
   */
  readonly sqlRunner?: (deps: Deps) => unknown;
  /**
   * Runs a shell command on a caller's behalf (MCP's run_command) for the protocol's connection
   * types: the `ShellCommandRunner` port of src/shell.
   */
  readonly shellRunner?: (deps: Deps) => unknown;
}

/** A per-principal concurrency limit a protocol contributes (`limits.per_principal.<key>`). */
export interface PrincipalLimitDecl {
  /** Where it is counted (`PrincipalLimits.acquire(…, surface, …)`, metrics label `protocol`), e.g. `postgres`. */
  readonly surface: string;
  /** What it bounds, one sentence, e.g. `Concurrent PostgreSQL sessions.` */
  readonly description: string;
  readonly default: number;
}

/** What one protocol module contributes. Register it in `PROTOCOLS` (src/protocols/registry.ts). */
export interface ProtocolModule {
  /** Lower-case name; names the `server.<name>` section when there is a listener. Unique. */
  readonly name: string;
  /** The `protocol` of its recorded sessions (`sessions.protocol`, `RecordEvent.protocol`). */
  readonly recording: string;
  /**
   * How its recorded sessions are bounded. `connection` (the default): one session per client
   * connection, opened and closed by the protocol's own code (PostgreSQL, SSH). `exchanges`: each
   * request is one exchange, grouped into sessions by the `Gatehouse-Session` header
   * (`HttpSessions` in src/enforce); such a session ends when unused for `recording.session_idle`,
   * and one a dead process left open is closed by the orphan sweep (HTTP, MCP).
   */
  readonly sessions?: 'connection' | 'exchanges';
  /** Connection types it serves (none: it serves no upstream of its own, like the MCP server). */
  readonly connectionTypes: readonly ConnectionTypeDecl[];
  /** Actions it asks policy about. */
  readonly actions: readonly ActionDecl[];
  /** Records of the Cedar context it fills, by attribute name (`sql`, `llm`). Unique across the registry. */
  readonly facts: { readonly [key: string]: FactsDecl<unknown> };
  /** Its own listener, when it has one (the HTTP surfaces are mounted on the HTTP listener). */
  readonly listener?: ListenerDecl<{ readonly listen: string }>;
  /**
   * Its runtime: `() => import('./runtime.ts')`, the only import of a declaration into its
   * folder's running code. Needed when it has a listener or a SQL runner.
   */
  readonly runtime?: () => Promise<ProtocolRuntime<never>>;
  /** Per-principal concurrency limits it applies, by key of `limits.per_principal` (`postgres_sessions`). */
  readonly principalLimits?: Readonly<Record<string, PrincipalLimitDecl>>;
  /**
   * Hints for connection types people may expect it to serve but it does not (refused with the
   * registered types listed): type → one sentence, e.g. where to go instead.
   */
  readonly refusedConnectionTypes?: Readonly<Record<string, string>>;
}

/**
 * Declares a protocol module, keeping its literal types (names, actions, facts, listener
 * configuration) so the registry can derive the gateway's types from them.
 *
 * @example export const sshProtocol = defineProtocol({ name: 'ssh', recording: 'ssh', connectionTypes: [...], actions: [...], facts: {} });
 */
export function defineProtocol<const P extends ProtocolModule>(p: P): P {
  return p;
}

/** A facts declaration with `F` checked against its `toContext`. @example factsDecl<SqlFacts>({ doc, cedarType, toContext }) */
export function factsDecl<F>(d: FactsDecl<F>): FactsDecl<F> {
  return d;
}

/** A listener declaration with `C` checked against its `load`. */
export function listenerDecl<C extends { readonly listen: string }>(d: ListenerDecl<C>): ListenerDecl<C> {
  return d;
}
