import type { Secret } from '../kernel/secret.ts';
import type { Action } from '../policy/request.ts';
import type { ConnectionFields, ListenerSections, ProtocolPrincipalLimits } from '../protocols/registry.ts';
import type {
  CONNECTION_TYPES, CREDENTIAL_KEYS, JWT_ALGORITHMS, LLM_PROVIDERS, LOG_LEVELS, MASKING_DIRECTIONS,
  MASKING_ENTITIES, MASKING_STRATEGIES, REVIEW_KINDS,
} from './schema.ts';

/*
 * The shape of a loaded configuration: `gatehouse.yaml` after interpolation, validation and
 * defaults (see schema.ts, where every default is declared). Every object is deeply frozen.
 * Durations and sizes are numbers, converted once at load (config/numbers.ts): a duration `x` of
 * the file is `x_ms` here (milliseconds: `hold_timeout: 60s` → `hold_timeout_ms: 60000`), a size
 * `x` is `x_bytes` (bytes: `body_limit: 10mb` → `body_limit_bytes: 10485760`; a name already
 * ending in `_bytes` is kept). Nothing parses them again.
 * Relative paths (policies.files, server.tls, store.embedded.path) are already absolute.
 */

export type ConnectionType = (typeof CONNECTION_TYPES)[number];
export type LlmProvider = (typeof LLM_PROVIDERS)[number];
export type CredentialKey = (typeof CREDENTIAL_KEYS)[number];
export type MaskingEntity = (typeof MASKING_ENTITIES)[number];
export type MaskingStrategy = (typeof MASKING_STRATEGIES)[number];
export type MaskingDirection = (typeof MASKING_DIRECTIONS)[number];
export type ReviewKind = (typeof REVIEW_KINDS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/**
 * One `connections[]` entry. Beside the fields every type has, it carries the fields its type
 * declares (`ConnectionFields`, derived from the protocol registry: `provider` of llm,
 * `pass_media_types` of http, `host_key` of ssh); the schema lets each only on its own type.
 */
export interface ConnectionConfig extends ConnectionFields {
  readonly name: string;
  readonly type: ConnectionType;
  readonly url: string;
  /** Every value is a `Secret` (header_name too, for uniformity); `reveal()` where injected. */
  readonly credentials: Readonly<Partial<Record<CredentialKey, Secret>>>;
  readonly description?: string;
  readonly tags: readonly string[];
  /** Upstream timeouts in milliseconds (`timeouts.connect: 10s` → `connect_ms: 10000`). */
  readonly timeouts: { readonly connect_ms: number; readonly headers_ms: number; readonly body_ms: number };
}

export interface IssuerConfig {
  readonly issuer: string;
  readonly audience: string | readonly string[];
  readonly groups_claim: string;
  readonly algorithms: readonly JwtAlgorithm[];
  /** `jwks_cache`, in milliseconds. */
  readonly jwks_cache_ms: number;
  readonly user_claim: string;
  /** Public client id `gatehouse login` uses for this issuer (device authorization grant). */
  readonly cli_client_id?: string;
  /** Public client id the web console signs in with (authorization code + PKCE). */
  readonly console_client_id?: string;
  /** Scopes the console asks for. */
  readonly console_scope: string;
}

/** `identity.saml`: one SAML 2.0 identity provider for the console and `gatehouse login --saml`. */
export interface SamlConfig {
  readonly name: string;
  /** Absolute path after load. */
  readonly idp_metadata?: string;
  readonly idp_entity_id?: string;
  readonly idp_sso_url?: string;
  /** PEM, one or more certificates. */
  readonly idp_certificate: string;
  readonly sp_entity_id?: string;
  readonly user_attribute?: string;
  readonly groups_attribute?: string;
  readonly group_map?: Readonly<Record<string, string | readonly string[]>>;
  /** `clock_skew`, in milliseconds. */
  readonly clock_skew_ms: number;
  /** `max_assertion_age`, in milliseconds. */
  readonly max_assertion_age_ms: number;
}

export interface MaskingRuleConfig {
  readonly connections: readonly string[];
  readonly direction: MaskingDirection;
  readonly entities?: readonly MaskingEntity[];
  readonly strategy: MaskingStrategy;
  /** `"table.column"` or `"schema.table.column"` → strategy. */
  readonly columns?: Readonly<Record<string, MaskingStrategy>>;
  /** RE2 patterns, already checked to compile. */
  readonly patterns?: readonly { readonly name: string; readonly regex: string }[];
}

export interface ReviewRuleConfig {
  readonly name: string;
  readonly connections: readonly string[];
  readonly actions: readonly Action[];
  readonly kind: ReviewKind;
  /** Grant length for `jit` in milliseconds (`duration`, default 15m); carried but meaningless for `command`. */
  readonly duration_ms: number;
  readonly approvers: readonly string[];
  readonly min_approvals: number;
  /** A Cedar condition (body of a `when { … }` clause). */
  readonly when?: string;
  readonly require_justification: boolean;
  /** Whether a person with an agent acting for them may decide this rule's reviews (default false). */
  readonly agent_approvers: boolean;
}

export interface WebhookConfig {
  readonly url: string;
  readonly secret?: Secret;
  readonly format: 'generic' | 'slack';
}

export interface GatehouseConfig {
  readonly server: {
    /** The read timeouts in milliseconds. */
    readonly http: { readonly listen: string; readonly headers_timeout_ms: number; readonly request_timeout_ms: number; readonly keep_alive_timeout_ms: number };
    readonly tls?: { readonly cert: string; readonly key: string };
    readonly allow_insecure_public: boolean;
    readonly public_url?: string;
    readonly allowed_hosts: readonly string[];
    /** `body_limit`, in bytes. */
    readonly body_limit_bytes: number;
    /** `/metrics` guard: optional bearer token and optional separate listen address. */
    readonly metrics: { readonly token?: Secret; readonly listen?: string };
  } & ListenerSections; // server.<protocol>: each registered protocol's own listener (server.postgres, server.ssh)
  readonly store: {
    /** Always present (defaults); ignored when `postgres` is set. `":memory:"` means in memory. */
    readonly embedded: { readonly path: string };
    readonly postgres?: { readonly url: string; readonly password?: Secret; readonly pool_max: number };
  };
  readonly identity: {
    /** `token_ttl` in milliseconds. */
    readonly builtin: { readonly token_ttl_ms: number; readonly audience: string };
    readonly issuers: readonly IssuerConfig[];
    readonly saml?: SamlConfig;
    readonly bootstrap: { readonly admin_user: string; readonly admin_group: string };
  };
  readonly connections: readonly ConnectionConfig[];
  /** Names of admin-API connections that rules may name (checked at load; reported by /readyz while missing). */
  readonly api_connections: readonly string[];
  readonly policies: { readonly files: readonly string[] };
  readonly masking: { readonly hash_key?: Secret; readonly rules: readonly MaskingRuleConfig[] };
  /** `hold_timeout` and `max_duration` in milliseconds. */
  readonly reviews: { readonly hold_timeout_ms: number; readonly max_duration_ms: number; readonly rules: readonly ReviewRuleConfig[] };
  /** `max_session_bytes` in bytes, `retention` and `session_idle` in milliseconds. */
  readonly recording: { readonly enabled: boolean; readonly max_session_bytes: number; readonly retention_ms: number; readonly session_idle_ms: number; readonly durability: 'journal' | 'store' };
  readonly notifications: { readonly webhooks: readonly WebhookConfig[] };
  readonly log: { readonly level: LogLevel };
  readonly limits: LimitsConfig;
}

/** `limits` (see config/schema-limits.ts). Sizes in bytes, durations in milliseconds. */
export interface LimitsConfig {
  /** `http_requests`, and each registered protocol's own limit (`postgres_sessions`). */
  readonly per_principal: { readonly http_requests: number } & ProtocolPrincipalLimits;
  readonly inspection: {
    readonly workers: number; readonly queue: number; readonly timeout_ms: number;
    readonly inline_sql_bytes: number; readonly inline_prompt_bytes: number; readonly max_sql_bytes: number; readonly max_statements: number;
  };
}
