import type { Principal } from '../identity/principal.ts';

/** The actions of SPEC: policy. `Action::"sql.read"` … in Cedar. */
export const ACTIONS = [
  'llm.invoke', 'http.request', 'sql.read', 'sql.write', 'sql.ddl', 'sql.admin', 'mcp.call',
  'review.approve', 'admin', 'shell.exec', 'shell.interactive', 'shell.transfer',
] as const;
export type Action = (typeof ACTIONS)[number];

export function isAction(s: string): s is Action {
  return (ACTIONS as readonly string[]).includes(s);
}

/** The resource of a request. `admin` requests target the gateway itself (`Gateway::"gatehouse"`). */
export type Resource =
  | { readonly kind: 'connection'; readonly name: string; readonly type: string; readonly provider?: string; readonly tags?: readonly string[] }
  | { readonly kind: 'gateway' };

/** Facts extracted from a SQL request (inspect/sql). */
export interface SqlFacts {
  readonly kinds: readonly string[];
  readonly tables: readonly string[];
  readonly functions: readonly string[];
  readonly dangerous_functions: readonly string[];
  readonly statements: number;
  /** Every UPDATE/DELETE has a WHERE clause (true when there is none of either). */
  readonly has_where: boolean;
  readonly data_modifying_cte: boolean;
  readonly do_block: boolean;
  readonly copy_program: boolean;
  /** COPY … TO STDOUT is present (absent: false). */
  readonly copy_out?: boolean;
  /** Side-effect categories: lock, notify, settings, transaction_id, sequence, volatile_function (absent: none). */
  readonly side_effects?: readonly string[];
  /** Settings changed by SET/RESET/set_config, lowercased; `all` for RESET ALL, `*` when unknown (absent: none). */
  readonly settings?: readonly string[];
  /** Server secrets read: secret catalogs/views, secret settings, functions returning them (absent: none). */
  readonly server_secrets?: readonly string[];
  /** Names that may be function calls (explicit calls and attribute notation `t.f`, `(x).f`) (absent: `functions`). */
  readonly possible_functions?: readonly string[];
  /** Functions the upstream catalog marks volatile and the configuration does not list as safe (absent: none). */
  readonly volatile_functions?: readonly string[];
  /**
   * Protected columns (connection column rules) the statement's result columns derive from, as
   * `schema.table.column` and `table.column`. Empty (absent) without column rules.
   */
  readonly protected_reads?: readonly string[];
  /** Protected columns it filters, joins, groups or orders on (WHERE, JOIN … ON, HAVING, ORDER BY, LIMIT …). */
  readonly protected_filters?: readonly string[];
}

/** Facts extracted from an LLM request (inspect/prompt). Types and counts, never values. */
export interface LlmFacts {
  readonly provider: string;
  readonly endpoint: string;
  readonly model: string;
  readonly stream: boolean;
  readonly tools: readonly string[];
  readonly secret_types: readonly string[];
  readonly pii_types: readonly string[];
  readonly findings: number;
  /** Binary payloads (data: URLs, base64 sources that are not text); absent means none. */
  readonly attachments?: number;
  /** Their declared media types (`application/octet-stream` when undeclared), sorted. */
  readonly attachment_types?: readonly string[];
  /** Their total decoded size in bytes. */
  readonly attachment_bytes?: number;
}

/**
 * Facts of a request on an `http` connection. `path` is the normalized path that is forwarded
 * (see `http/path-normalize.ts`); `path_lower` the same, lower-cased, for rules
 * that must hold whatever the case (derived from `path` when absent).
 */
export interface HttpFacts { readonly method: string; readonly path: string; readonly path_lower?: string }
export interface McpFacts { readonly tool: string }
/**
 * Shell facts of a command (`context.shell`), as Cedar values: sets as arrays, flags as booleans.
 * Built by `inspect/shell` (`shellCedarContext`); the schema's `ShellFacts` names each field.
 */
export type ShellContext = Readonly<Record<string, readonly string[] | boolean>>;

/** Everything a protocol learned about a request, as Cedar `context` attributes. */
export interface Facts {
  readonly sql?: SqlFacts;
  readonly llm?: LlmFacts;
  readonly http?: HttpFacts;
  readonly mcp?: McpFacts;
  readonly shell?: ShellContext;
}

/**
 * The one normalized request every protocol produces: who, what action, on which resource,
 * with which facts. Policy, reviews and recording only ever see this type.
 */
export interface AccessRequest {
  readonly principal: Principal;
  readonly action: Action;
  readonly resource: Resource;
  readonly facts: Facts;
  /** Evaluation time (ms since epoch), from the injected clock. */
  readonly at: number;
}

/** A decision always carries the reasons (policy ids, or rule names) that produced it. */
export interface Decision {
  readonly effect: 'allow' | 'deny' | 'review';
  /** Policy `@id`s (or Cedar ids) that determined the outcome; for review, also `review:<rule>`. */
  readonly reasons: readonly string[];
  /** Cedar evaluation errors, if any. Any error makes the decision a deny (fail closed). */
  readonly errors: readonly string[];
  /** Set when effect is `review`: the review rule that matched. */
  readonly reviewRule?: string;
}
