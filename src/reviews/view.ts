import type { Review, ReviewActor } from './types.ts';

/** The admin API's JSON view of a review (snake_case, ISO times). No fingerprint, no secrets. */
export function reviewView(r: Review): Record<string, unknown> {
  const iso = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
  const actor = (a: ReviewActor | undefined): Record<string, string> | undefined =>
    a === undefined ? undefined : { kind: a.kind, id: a.id, ...(a.agent === undefined ? {} : { agent: a.agent }) };
  return {
    id: r.id, kind: r.kind, status: r.status, rule: r.rule, connection: r.connection, action: r.action,
    actions: r.actions, requester: actor(r.requester), summary: r.summary, justification: r.justification,
    facts: r.facts, approvers: r.approvers, min_approvals: r.minApprovals, agent_approvers: r.agentApprovers,
    approvals: r.approvals.map((a) => ({ by: actor(a.by), at: iso(a.at), comment: a.comment })),
    grant_seconds: r.grantMs === undefined ? undefined : Math.round(r.grantMs / 1000),
    created_at: iso(r.createdAt), expires_at: iso(r.expiresAt), decided_at: iso(r.decidedAt),
    decided_by: actor(r.decidedBy), reason: r.reason, executed_at: iso(r.executedAt),
  };
}
