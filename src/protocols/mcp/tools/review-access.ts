import { authorize } from '../../../enforce/authorize.ts';
import type { Principal } from '../../../identity/principal.ts';
import { inGroups } from '../../../reviews/actors.ts';
import type { Review } from '../../../reviews/types.ts';
import type { ToolEnv } from '../env.ts';

/** Review ids as the service creates them. */
export const REVIEW_ID = /^rv_[0-9A-Za-z]{16}$/;

/** True when the caller is permitted `admin` on the gateway (audited, as in the admin API). */
export async function isAdmin(env: ToolEnv): Promise<boolean> {
  return (await authorize(env.svc, env.caller.principal, 'admin', { kind: 'gateway' })).effect === 'allow';
}

/** The admin API's visibility rule: own requests, and reviews whose approver groups it is in. */
export function visible(p: Principal, r: Review): boolean {
  return r.requester.id === p.id || inGroups(p, r.approvers);
}

/** The review if the caller may see it (visible, or an admin), else undefined (reported as not found). */
export async function loadReview(env: ToolEnv, id: string): Promise<Review | undefined> {
  const r = REVIEW_ID.test(id) ? await env.svc.reviews.get(id) : undefined;
  if (!r) return undefined;
  return visible(env.caller.principal, r) || await isAdmin(env) ? r : undefined;
}
