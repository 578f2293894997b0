import type { AccessRequest, Action, Decision, Facts, Resource } from '../policy/request.ts';
import type { Principal } from '../identity/principal.ts';
import type { Connection } from '../connections/registry.ts';
import type { Services } from './services.ts';

/** The Cedar resource for a connection. */
export function connectionResource(c: Connection): Resource {
  return { kind: 'connection', name: c.name, type: c.type, tags: c.tags, ...(c.provider === undefined ? {} : { provider: c.provider }) };
}

/**
 * Decides a normalized request and appends the decision to the audit log. This is the one
 * place every protocol goes through. Fail closed: if the decision cannot be audited, it is a deny.
 */
export async function authorize(
  svc: Pick<Services, 'decider' | 'audit' | 'metrics' | 'clock' | 'log'>,
  principal: Principal, action: Action, resource: Resource, facts: Facts = {},
): Promise<Decision> {
  const req: AccessRequest = { principal, action, resource, facts, at: svc.clock.now() };
  let decision: Decision;
  try {
    decision = svc.decider.decide(req);
  } catch (err) {
    svc.log.error({ err: String(err) }, 'policy evaluation failed; denying');
    decision = { effect: 'deny', reasons: ['policy-error'], errors: ['policy evaluation failed'] };
  }
  try {
    await svc.audit.append({
      kind: 'policy.decision',
      user: principal.id,
      ...(principal.agent ? { agent: principal.agent.id } : principal.kind === 'agent' ? { agent: principal.id } : {}),
      action,
      resource: resource.kind === 'connection' ? `Connection::${resource.name}` : 'Gateway::gatehouse',
      outcome: decision.effect,
      detail: { reasons: decision.reasons, via: principal.via, ...(decision.reviewRule ? { review_rule: decision.reviewRule } : {}) },
    });
  } catch (err) {
    svc.log.error({ err: String(err) }, 'audit append failed; denying');
    decision = { effect: 'deny', reasons: ['audit-unavailable'], errors: ['the decision could not be recorded'] };
  }
  svc.metrics.decisions.inc({ action, effect: decision.effect });
  return decision;
}

/** A one-line reason for a client: the policy ids that produced the decision. */
export function denialReason(d: Decision): string {
  return d.reasons.length > 0 ? d.reasons.join(', ') : 'default-deny';
}
