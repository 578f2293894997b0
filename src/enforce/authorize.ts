import type { AccessRequest, Action, Decision, Facts, Resource } from '../policy/request.ts';
import { optionalAgent, type Principal } from '../identity/principal.ts';
import type { Connection } from '../connections/registry.ts';
import { REGISTRY } from '../protocols/registry.ts';
import { stableDetail } from '../audit/record.ts';
import { RequestMemo, type DecisionMemo } from '../policy/decision-memo.ts';
import type { Decider } from '../policy/decider.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Metrics } from '../kernel/metrics.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';

/**
 * The decision point's process state: the memo of decisions across requests (`RequestMemo`) and
 * the audit details of frozen decisions. Built once by the composition root.
 */
export class DecisionState {
  readonly requestMemo = new RequestMemo();
  /** Audit details of frozen decisions, per `via`: made (and normalized) once per decision object. */
  readonly details = new WeakMap<Decision, Map<string, Readonly<Record<string, unknown>>>>();
}

/** What deciding and recording a request needs (the narrow dependencies of {@link authorize}). */
export interface DecideDeps {
  readonly decider: Decider;
  readonly audit: Pick<AuditLog, 'room' | 'healthy' | 'enqueue'>;
  readonly metrics: Pick<Metrics, 'decided'>;
  readonly clock: Clock;
  readonly log: Pick<Logger, 'error'>;
  readonly decisions: DecisionState;
}

/** The Cedar resource for a connection, with the attributes its type declares for policy (`provider`). */
export function connectionResource(c: Connection): Resource {
  const attrs = REGISTRY.resourceAttributesOf(c);
  return { kind: 'connection', name: c.name, type: c.type, tags: c.tags, ...(attrs === undefined ? {} : { attrs }) };
}

/**
 * Decides a normalized request and records the decision in the audit log. This is the one place
 * every protocol goes through.
 *
 * Audit guarantee (fail closed, without a commit per request): the decision record is enqueued,
 * not awaited, and reaches the audit log within one group-commit interval (the next batch). When
 * the audit log cannot be written — its last batch failed, or its queue is full — every decision
 * is a deny with reason `audit-unavailable` (logged), so the gateway stops admitting requests
 * until a batch commits again. The denied decision is still enqueued (best effort): it is
 * recorded once the store is back, and it is what retries the store.
 */
export function authorize(
  svc: DecideDeps,
  principal: Principal, action: Action, resource: Resource, facts: Facts = {},
): Promise<Decision> {
  try {
    // Back-pressure: when the audit queue is half full, admission waits for the store to catch
    // up (a queue that does not drain ends in the audit-unavailable deny below).
    const room = svc.audit.room();
    if (room) return room.then(() => decideAndRecord(svc, principal, action, resource, facts), () => decideAndRecord(svc, principal, action, resource, facts));
    return Promise.resolve(decideAndRecord(svc, principal, action, resource, facts));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** A session's memo of decisions, and the object its facts are memoized by (see `DecisionMemo`). */
export interface SessionMemo {
  readonly memo: DecisionMemo;
  readonly facts: object;
}

/**
 * {@link authorize}, synchronously (nothing on it awaits the store). With `memo` (one per session:
 * the same principal and resource), a decision already made for the same facts object and action
 * is reused while the policy set is unchanged; without, a decision made for the same (frozen)
 * principal, action, resource and equal facts is (`RequestMemo`). Either way it is recorded in
 * the audit log all the same.
 */
export function decideAndRecord(
  svc: DecideDeps,
  principal: Principal, action: Action, resource: Resource, facts: Facts = {}, memo?: SessionMemo,
): Decision {
  const req: AccessRequest = { principal, action, resource, facts, at: svc.clock.now() };
  let decision: Decision;
  try {
    decision = memo === undefined ? svc.decisions.requestMemo.decide(svc.decider, req) : memo.memo.decide(svc.decider, req, memo.facts);
  } catch (err) {
    svc.log.error({ err: String(err) }, 'policy evaluation failed; denying');
    decision = { effect: 'deny', reasons: ['policy-error'], errors: ['policy evaluation failed'] };
  }
  const healthy = svc.audit.healthy();
  if (!healthy) {
    svc.log.error({ action, user: principal.id }, 'audit log unavailable; denying');
    decision = AUDIT_UNAVAILABLE;
  }
  try {
    svc.audit.enqueue({
      kind: 'policy.decision',
      user: principal.id,
      ...optionalAgent(principal),
      action,
      resource: resource.kind === 'connection' ? `Connection::${resource.name}` : resource.kind === 'session' ? `Session::${resource.id}` : 'Gateway::gatehouse',
      outcome: decision.effect,
      detail: decisionDetail(svc.decisions, decision, principal.via),
    });
  } catch (err) {
    if (healthy) svc.log.error({ err: String(err) }, 'audit enqueue failed; denying');
    decision = AUDIT_UNAVAILABLE;
  }
  svc.metrics.decided(action, decision.effect);
  return decision;
}

/** The audit detail of a decision: its reasons, how the principal authenticated, the review rule. */
function decisionDetail(state: DecisionState, decision: Decision, via: string): Readonly<Record<string, unknown>> {
  const make = (): Record<string, unknown> => ({ reasons: decision.reasons, via, ...(decision.reviewRule ? { review_rule: decision.reviewRule } : {}) });
  // Only a frozen decision (from a cache or a memo) can be relied on not to change.
  if (!Object.isFrozen(decision) || !Object.isFrozen(decision.reasons)) return make();
  let byVia = state.details.get(decision);
  const known = byVia?.get(via);
  if (known !== undefined) return known;
  if (byVia === undefined) {
    byVia = new Map();
    state.details.set(decision, byVia);
  }
  // A handful of `via` values exist; the bound only guards against the unexpected.
  if (byVia.size >= 16) return make();
  const detail = stableDetail({ ...make(), reasons: [...decision.reasons] });
  byVia.set(via, detail);
  return detail;
}

const AUDIT_UNAVAILABLE: Decision = Object.freeze({
  effect: 'deny', reasons: Object.freeze(['audit-unavailable']), errors: Object.freeze(['the decision could not be recorded']),
});

/** A one-line reason for a client: the policy ids that produced the decision. */
export function denialReason(d: Decision): string {
  return d.reasons.length > 0 ? d.reasons.join(', ') : 'default-deny';
}
