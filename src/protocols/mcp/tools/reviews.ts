import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../../../kernel/errors.ts';
import { describeActor } from '../../../reviews/actors.ts';
import type { Review, ReviewStatus } from '../../../reviews/types.ts';
import { reviewView } from '../../../reviews/view.ts';
import type { ToolEnv, ToolExtra, ToolOutcome } from '../env.ts';
import { withProgress } from '../progress.ts';
import { envelope } from '../results.ts';
import { defineTool, pendingMessage } from '../tool-runner.ts';
import { loadReview } from './review-access.ts';

const STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled', 'executed', 'revoked'] as const;
const reviewId = z.string().min(1).max(64).describe('The review id (rv_…)');
const actor = z.object({ kind: z.string(), id: z.string(), agent: z.string().optional() });
const reviewSchema = z.looseObject({
  id: z.string(), kind: z.string(), status: z.string(), rule: z.string(), connection: z.string(), action: z.string(),
  requester: actor.optional(), summary: z.string(), justification: z.string().optional(), approvers: z.array(z.string()),
  created_at: z.string().optional(), expires_at: z.string().optional(), decided_by: actor.optional(), reason: z.string().optional(),
});

function line(r: Review): string {
  return `${r.id} ${r.status} ${r.action} on ${r.connection} by ${describeActor(r.requester)} (rule ${r.rule}): ${r.summary}`;
}

/** `reviews_list`: the caller's own requests and those it may approve. */
export const reviewsListTool = defineTool({
  name: 'reviews_list',
  title: 'List reviews',
  description: 'Lists approval requests (reviews) you can see: the ones your own calls created, and the ones you may approve as a member of an '
    + 'approver group. Filter by status (e.g. "pending"). Use review_get for one review, review_wait to wait for a decision.',
  input: z.object({
    status: z.enum(STATUSES).optional().describe('Only reviews in this status'),
    limit: z.number().int().min(1).max(200).default(50),
  }),
  output: envelope({ reviews: z.array(reviewSchema) }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (env, args) => {
    const items = await env.svc.reviews.list({ visibleTo: env.caller.principal, limit: args.limit, ...(args.status === undefined ? {} : { status: args.status }) });
    return { kind: 'ok', data: { reviews: items.map(reviewView) }, text: items.length === 0 ? 'No reviews.' : items.map(line).join('\n') };
  },
});

/** `review_get`: one review. */
export const reviewGetTool = defineTool({
  name: 'review_get',
  title: 'Get a review',
  description: 'Shows one approval request (review): its status (pending, approved, denied, expired, executed …), what was asked (a masked summary), '
    + 'by whom, the rule and its approver groups, and who decided.',
  input: z.object({ review_id: reviewId }),
  output: envelope({ review: reviewSchema }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (env, args) => {
    const r = await loadReview(env, args.review_id);
    if (!r) return { kind: 'error', code: 'not_found', reason: `no review ${args.review_id} that you may see` };
    return { kind: 'ok', data: { review: reviewView(r) }, text: line(r) };
  },
});

/** `review_approve` / `review_deny`: the admin API's rules (not the requester, approver group, `review.approve`). */
export const reviewApproveTool = defineTool({
  name: 'review_approve',
  title: 'Approve a review',
  description: 'Approves a pending approval request. Only a person in one of the rule\'s approver groups whom policy permits "review.approve" '
    + 'on the connection may approve, and never the requester. Once approved, the held request runs once (the requester\'s review_wait returns its result).',
  input: z.object({ review_id: reviewId, comment: z.string().max(1000).optional() }),
  output: envelope({ review: reviewSchema }),
  annotations: { destructiveHint: false, idempotentHint: false, openWorldHint: false },
  run: async (env, args) => {
    const r = await loadReview(env, args.review_id);
    if (!r) return { kind: 'error', code: 'not_found', reason: `no review ${args.review_id} that you may see` };
    const out = await env.svc.reviews.approve(r.id, env.caller.principal, args.comment);
    return { kind: 'ok', data: { review: reviewView(out) }, text: `review ${out.id} is ${out.status} (${out.approvals.length}/${out.minApprovals} approvals)` };
  },
});

export const reviewDenyTool = defineTool({
  name: 'review_deny',
  title: 'Deny a review',
  description: 'Denies a pending approval request with a reason; the held request fails at once with that reason. '
    + 'The same people who may approve may deny; a requester cancels instead.',
  input: z.object({ review_id: reviewId, reason: z.string().min(1).max(1000).describe('Why it is denied (shown to the requester)') }),
  output: envelope({ review: reviewSchema }),
  annotations: { destructiveHint: false, openWorldHint: false },
  run: async (env, args) => {
    const r = await loadReview(env, args.review_id);
    if (!r) return { kind: 'error', code: 'not_found', reason: `no review ${args.review_id} that you may see` };
    const out = await env.svc.reviews.deny(r.id, env.caller.principal, args.reason);
    return { kind: 'ok', data: { review: reviewView(out) }, text: `review ${out.id} is ${out.status}` };
  },
});

/** Default and longest `review_wait`. */
export const DEFAULT_WAIT_S = 30;

/** `review_wait`: long-polls a review; on approval runs the held call (once) and returns its result. */
export const reviewWaitTool = defineTool({
  name: 'review_wait',
  title: 'Wait for a review and get the result',
  description: 'Waits (up to timeout_seconds, at most 60) for a person to decide an approval request that one of your calls returned as '
    + '"pending_approval". When it is approved, the held call runs now, once, and its result is returned here (under "result"). '
    + 'When it is denied or expires, an error names the reason. When still undecided, status "pending_approval" again: call review_wait again later. '
    + 'Sends progress notifications while it waits if you give a progress token.',
  input: z.object({
    review_id: reviewId,
    timeout_seconds: z.number().int().min(1).max(60).default(DEFAULT_WAIT_S).describe(`How long to wait (default ${DEFAULT_WAIT_S}, at most 60)`),
  }),
  output: envelope({
    review_id: z.string(), tool: z.string().optional().describe('The tool call that ran after approval'),
    result: z.record(z.string(), z.unknown()).optional().describe('That call\'s structured result'),
    review: reviewSchema.optional(),
  }),
  annotations: { openWorldHint: false },
  run: (env, args, extra) => waitForReview(env, args.review_id, Math.min(args.timeout_seconds * 1000, env.limits.maxWaitMs), extra),
});

async function waitForReview(env: ToolEnv, id: string, timeoutMs: number, extra: ToolExtra): Promise<ToolOutcome> {
  const { svc } = env;
  const principal = env.caller.principal;
  let r = await loadReview(env, id);
  if (!r) return { kind: 'error', code: 'not_found', reason: `no review ${id} that you may see` };
  if (r.status === 'pending') {
    const signal = AbortSignal.any([env.signal, extra.signal]);
    await withProgress(extra, svc.clock, env.limits.progressEveryMs, Math.round(timeoutMs / 1000), `waiting for a decision on review ${id}`, svc.reviews.hold(r, timeoutMs, signal));
    r = await svc.reviews.get(id) ?? r;
  }
  const status: ReviewStatus = r.status;
  switch (status) {
    case 'pending': return { kind: 'pending', reviewId: id, message: pendingMessage(id), kept: true };
    case 'approved': {
      const call = env.pending.take(id, principal, svc.clock.now());
      if (!call) {
        return {
          kind: 'ok', data: { review_id: id, review: reviewView(r) },
          text: `review ${id} is approved; send the original call again (same tool, same arguments) to run it once`,
        };
      }
      const inner = await call.rerun(env, extra);
      const text = inner.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
      const sc = inner.structuredContent;
      if (inner.isError === true) {
        const m = /^([a-z_]+): ([\s\S]*)$/.exec(text);
        return { kind: 'error', code: m && isCode(m[1]!) ? m[1] : 'internal', reason: m ? m[2]! : text };
      }
      if (sc?.status === 'pending_approval' && typeof sc.review_id === 'string') return { kind: 'pending', reviewId: sc.review_id, message: pendingMessage(sc.review_id), kept: true };
      return { kind: 'ok', data: { review_id: id, tool: call.tool, result: sc ?? {} }, text };
    }
    case 'executed':
      return { kind: 'error', code: 'conflict', reason: `review ${id} was approved and its request already ran once; send the call again to ask for a new approval` };
    default: {
      const why = r.reason === undefined ? '' : `: ${r.reason}`;
      const by = r.decidedBy ? ` by ${describeActor(r.decidedBy)}` : '';
      return { kind: 'error', code: 'policy_denied', reason: `review ${id} ${status}${by}${why}` };
    }
  }
}

function isCode(s: string): s is ErrorCode {
  return Object.hasOwn(ERROR_CODES, s);
}
