import type { Principal } from '../identity/principal.ts';
import type { ReviewActor } from './types.ts';

/** The stored form of a principal: names only. */
export function actorOf(p: Principal): ReviewActor {
  return { kind: p.kind, id: p.id, ...(p.agent ? { agent: p.agent.id } : {}) };
}

/**
 * The key a requester's reviews and grants are bound to: the principal and the agent acting for
 * it. A grant given to `alice via agent bot` is not usable by `alice` alone, nor the reverse.
 *
 * @example requesterKey({ kind: 'user', id: 'alice', agent: 'bot' }) === 'user:alice|agent:bot'
 */
export function requesterKey(a: ReviewActor): string {
  return a.agent === undefined ? `${a.kind}:${a.id}` : `${a.kind}:${a.id}|agent:${a.agent}`;
}

/** Every name involved in an actor: the principal and the agent acting for it. */
function names(a: ReviewActor): string[] {
  return a.agent === undefined ? [a.id] : [a.id, a.agent];
}

/**
 * True when `approver` shares any identity with `requester`: the same user, the same agent, an
 * agent acting for the requester, or the requester's agent acting for someone else. Names are
 * compared without their kind (stricter: a user and an agent that share a name are one party).
 */
export function isSelf(approver: ReviewActor, requester: ReviewActor): boolean {
  const theirs = new Set(names(requester));
  return names(approver).some((n) => theirs.has(n));
}

/** True when the principal (not the agent acting for it) is in one of `groups`. */
export function inGroups(p: Principal, groups: readonly string[]): boolean {
  return p.groups.some((g) => groups.includes(g));
}

/** `user:alice via agent:bot`, for reasons and messages. */
export function describeActor(a: ReviewActor): string {
  return a.agent === undefined ? `${a.kind}:${a.id}` : `${a.kind}:${a.id} via agent:${a.agent}`;
}
