import { GatehouseError } from '../kernel/errors.ts';
import type { Principal } from '../identity/principal.ts';
import { actorOf, describeActor, inGroups, isSelf } from './actors.ts';
import type { Review } from './types.ts';

/**
 * Throws `policy_denied` unless `p` may approve, deny or revoke review `r`, checked in this order:
 * 1. `p` is not the requester (user or agent, in either role: see isSelf);
 * 2. `p` is a person (an agent acting on its own never decides) with no agent acting for it, unless
 *    the review's rule says `agent_approvers: true` (human-in-the-loop: an AI does not approve);
 * 3. `p` is in one of the rule's approver groups (snapshotted on the review);
 * 4. policy permits `p` `review.approve` on the review's Connection (`mayApprove`).
 *
 * @example await assertMayDecide(review, bob, 'approve', mayApprove);
 */
export async function assertMayDecide(
  r: Review, p: Principal, verb: 'approve' | 'deny' | 'revoke', mayApprove: (p: Principal, connection: string) => Promise<boolean>,
): Promise<void> {
  const by = actorOf(p);
  if (isSelf(by, r.requester)) {
    throw new GatehouseError('policy_denied', verb === 'deny'
      ? `requesters cannot deny their own requests (${describeActor(by)} requested review ${r.id}); cancel it instead`
      : `requesters cannot approve their own requests (${describeActor(r.requester)} requested review ${r.id}; the approver is ${describeActor(by)})`);
  }
  if (p.kind === 'agent') throw new GatehouseError('policy_denied', `an agent acting on its own cannot ${verb} reviews; a person must`);
  if (p.agent !== undefined && !r.agentApprovers) {
    throw new GatehouseError('policy_denied', `${describeActor(by)} has an AI agent acting for it; only a person with no acting agent may ${verb} `
      + `reviews of rule "${r.rule}" (use a credential without an agent, or set agent_approvers: true on the rule)`);
  }
  if (!inGroups(p, r.approvers)) {
    throw new GatehouseError('policy_denied', `${describeActor(by)} is not in an approver group of review rule "${r.rule}" (${r.approvers.join(', ')})`);
  }
  if (!(await mayApprove(p, r.connection))) {
    throw new GatehouseError('policy_denied', `policy does not permit ${describeActor(by)} "review.approve" on Connection::"${r.connection}"`);
  }
}
