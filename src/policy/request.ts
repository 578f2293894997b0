import type { Principal } from '../identity/principal.ts';
import { REGISTRY, type ProtocolAction, type ProtocolFacts } from '../protocols/registry.ts';

/**
 * Actions of the gateway itself, whatever the protocols: approving reviews of requests on a
 * connection, seeing a recorded session (resource `Session::"<id>"`), and administering the
 * gateway (resource `Gateway::"gatehouse"`).
 */
export const GATEWAY_ACTIONS = ['review.approve', 'session.view', 'admin'] as const;

/**
 * The actions of SPEC: policy (`Action::"sql.read"` … in Cedar): the registered protocols'
 * actions in registration order, then the gateway's.
 */
export const ACTIONS: readonly Action[] = [...REGISTRY.actions.map((a) => a.name as ProtocolAction), ...GATEWAY_ACTIONS];
export type Action = ProtocolAction | (typeof GATEWAY_ACTIONS)[number];

export function isAction(s: string): s is Action {
  return (ACTIONS as readonly string[]).includes(s);
}

/** The resource of a request. `admin` requests target the gateway itself (`Gateway::"gatehouse"`). */
export type Resource =
  | {
    readonly kind: 'connection'; readonly name: string; readonly type: string; readonly tags?: readonly string[];
    /** The attributes its type declares for policy (`resourceAttributes`: `provider` of an llm connection), by name. */
    readonly attrs?: Readonly<Record<string, string>>;
  }
  | { readonly kind: 'gateway' }
  /** A recorded session (`session.view`): its owner (the user it was recorded under), agent, connection, protocol. */
  | { readonly kind: 'session'; readonly id: string; readonly protocol: string; readonly owner?: string; readonly agent?: string; readonly connection?: string };

export type { SqlFacts } from '../protocols/postgres/facts.ts';
export type { HttpFacts, LlmFacts } from '../protocols/http/facts.ts';
export type { McpFacts } from '../protocols/mcp/facts.ts';
export type { ShellContext } from '../protocols/ssh/facts.ts';

/**
 * Everything a protocol learned about a request, as Cedar `context` attributes: one optional
 * record per facts declaration of the registered protocols (`sql`, `llm`, `http`, `mcp`).
 */
export type Facts = ProtocolFacts;

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
