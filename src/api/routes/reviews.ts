import type { Router } from '../../http/router.ts';
import { sendJson } from '../../http/problem.ts';
import { GatehouseError } from '../../kernel/errors.ts';
import { parseDuration } from '../../kernel/duration.ts';
import { authorize } from '../../enforce/authorize.ts';
import type { ReviewService } from '../../reviews/service.ts';
import type { Review, ReviewStatus } from '../../reviews/types.ts';
import { inGroups } from '../../reviews/actors.ts';
import { reviewView } from '../../reviews/view.ts';
import { jsonObject, limitParam, optString, type AdminContext, type AdminState } from '../context.ts';

const STATUSES: readonly ReviewStatus[] = ['pending', 'approved', 'denied', 'expired', 'cancelled', 'executed', 'revoked'];
const ID = /^rv_[0-9A-Za-z]{16}$/;

/** True when the caller is permitted `admin` on the gateway (audited). */
async function isAdmin(ctx: AdminContext): Promise<boolean> {
  return (await authorize(ctx.state.svc, ctx.state.principal, 'admin', { kind: 'gateway' })).effect === 'allow';
}

/** Its own requests, and those whose approver groups it is in. */
function visible(ctx: AdminContext, r: Review): boolean {
  const p = ctx.state.principal;
  return r.requester.id === p.id || inGroups(p, r.approvers);
}

/**
 * `/api/v1/reviews` (SPEC: reviews). Any authenticated principal may call these; what it sees and
 * may do is decided per review:
 * - list/get: its own requests and the reviews whose approver groups it is in (`?scope=all`:
 *   every review, for principals permitted `admin`); others are 404;
 * - approve/deny/revoke: the service checks the requester is not the approver (403), the approver
 *   group and Cedar `review.approve` on the review's Connection (403), and the state (409);
 * - cancel: the requester only.
 *
 * `reviewsOf` picks the service from the request state (`(s) => s.svc.reviews` once wired).
 */
export function registerReviewRoutes(r: Router<AdminState>, reviewsOf: (s: AdminState) => ReviewService): void {
  const load = async (ctx: AdminContext): Promise<Review> => {
    const id = ctx.params.id ?? '';
    const review = ID.test(id) ? await reviewsOf(ctx.state).get(id) : undefined;
    if (!review || !(visible(ctx, review) || await isAdmin(ctx))) throw new GatehouseError('not_found', `no review ${id}`);
    return review;
  };

  r.add('GET', '/api/v1/reviews', async (ctx) => {
    const q = ctx.query;
    const status = q.get('status');
    if (status !== null && !(STATUSES as readonly string[]).includes(status)) {
      throw new GatehouseError('validation_failed', `status must be one of ${STATUSES.join(', ')}`);
    }
    const scope = q.get('scope') ?? 'visible';
    if (scope !== 'visible' && scope !== 'all') throw new GatehouseError('validation_failed', 'scope must be visible or all');
    if (scope === 'all' && !(await isAdmin(ctx))) throw new GatehouseError('policy_denied', 'scope=all needs the "admin" action');
    const items = await reviewsOf(ctx.state).list({
      limit: limitParam(q, 100, 1000),
      ...(status === null ? {} : { status: status as ReviewStatus }),
      ...(scope === 'all' ? {} : { visibleTo: ctx.state.principal }),
    });
    sendJson(ctx.res, 200, { items: items.map(reviewView) });
  });

  r.add('GET', '/api/v1/reviews/:id', async (ctx) => {
    sendJson(ctx.res, 200, reviewView(await load(ctx)));
  });

  r.add('POST', '/api/v1/reviews/:id/approve', async (ctx) => {
    const body = await jsonObject(ctx, 64 * 1024);
    const duration = optString(body, 'duration');
    let grantMs: number | undefined;
    if (duration !== undefined) {
      grantMs = parseDuration(duration);
      if (grantMs === undefined || grantMs <= 0) throw new GatehouseError('validation_failed', '"duration" must be a duration such as 30m or 1h');
    }
    const review = await load(ctx);
    sendJson(ctx.res, 200, reviewView(await reviewsOf(ctx.state).approve(review.id, ctx.state.principal, optString(body, 'comment'), grantMs)));
  });

  r.add('POST', '/api/v1/reviews/:id/deny', async (ctx) => {
    const body = await jsonObject(ctx, 64 * 1024);
    const reason = optString(body, 'reason');
    if (reason === undefined || reason.trim() === '') throw new GatehouseError('validation_failed', '"reason" is required to deny a review');
    const review = await load(ctx);
    sendJson(ctx.res, 200, reviewView(await reviewsOf(ctx.state).deny(review.id, ctx.state.principal, reason)));
  });

  r.add('POST', '/api/v1/reviews/:id/revoke', async (ctx) => {
    const body = await jsonObject(ctx, 64 * 1024);
    const review = await load(ctx);
    sendJson(ctx.res, 200, reviewView(await reviewsOf(ctx.state).revoke(review.id, ctx.state.principal, optString(body, 'reason'))));
  });

  r.add('POST', '/api/v1/reviews/:id/cancel', async (ctx) => {
    const body = await jsonObject(ctx, 64 * 1024);
    const review = await load(ctx);
    sendJson(ctx.res, 200, reviewView(await reviewsOf(ctx.state).cancel(review.id, ctx.state.principal, optString(body, 'reason'))));
  });
}
