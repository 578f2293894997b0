import type { Principal } from '../identity/principal.ts';
import type { Action, Decision, Facts } from '../policy/request.ts';
import type { ReviewRuleConfig } from '../policy/review-rules.ts';
import type { ReviewService } from './service.ts';
import type { Review } from './types.ts';
import { describeActor } from './actors.ts';

/** What the gate needs besides the request. */
export interface ReviewGateDeps {
  readonly reviews: ReviewService;
  /** `reviews.hold_timeout` in ms. */
  readonly holdTimeoutMs: number;
  /** The compiled review rules (`ReviewRules`); the decision names one of them. */
  readonly rules: { rules(): readonly ReviewRuleConfig[] };
}

/** One request that policy sent for review. */
export interface ReviewGateInput {
  readonly principal: Principal;
  readonly action: Action;
  /** The connection name. */
  readonly resource: string;
  readonly facts: Facts;
  /** The decision from authorize(): effect 'review' with `reviewRule`. */
  readonly decision: Decision;
  /** Canonical hash of the exact request (protocol + connection + statement/params or body). */
  readonly fingerprint: string;
  /** Masked, human-readable summary for approvers. */
  readonly summary: string;
  readonly justification?: string;
  /** Aborts the hold (client went away); the review stays pending. */
  readonly signal?: AbortSignal;
}

/**
 * `run`: go ahead (`reviewId` names the approval or grant that allowed it). `denied`: refuse with
 * `reason` (403 / SQLSTATE 42501). `timeout`: still pending after the hold; tell the client the
 * review id (re-sending the same request after approval runs it).
 */
export type ReviewGateResult =
  | { readonly outcome: 'run'; readonly reviewId: string }
  | { readonly outcome: 'denied'; readonly reviewId?: string; readonly reason: string }
  | { readonly outcome: 'timeout'; readonly reviewId: string };

/**
 * The one function every data path calls when policy's decision is `review`. In order:
 * an active jit grant → run; an approved, unused command review of this requester for this exact
 * request → consume it and run (once); a missing required justification → denied; otherwise
 * create (or reuse) the review, notify, and hold up to `holdTimeoutMs`.
 * Fail closed: any error denies.
 *
 * @example
 *   const d = await authorize(svc, principal, 'sql.write', connectionResource(conn), facts);
 *   if (d.effect === 'review') {
 *     const g = await reviewGate(svc, { reviews: svc.reviews, holdTimeoutMs, rules: svc.reviewRules },
 *       { principal, action: 'sql.write', resource: conn.name, facts, decision: d, fingerprint, summary });
 *     if (g.outcome !== 'run') return refuse(g);
 *   }
 */
export async function reviewGate(svc: { readonly log: { error(obj: object, msg: string): void } }, deps: ReviewGateDeps, input: ReviewGateInput): Promise<ReviewGateResult> {
  try {
    return await gate(deps, input);
  } catch (err) {
    svc.log.error({ err: err instanceof Error ? err.message : String(err), rule: input.decision.reviewRule }, 'review gate failed; denying');
    return { outcome: 'denied', reason: 'review-error: the review could not be processed' };
  }
}

async function gate(deps: ReviewGateDeps, input: ReviewGateInput): Promise<ReviewGateResult> {
  const { reviews } = deps;
  const name = input.decision.reviewRule;
  if (input.decision.effect !== 'review' || name === undefined) return { outcome: 'denied', reason: 'review-error: not a review decision' };
  const rule = deps.rules.rules().find((r) => r.name === name);
  if (!rule) return { outcome: 'denied', reason: `review-error: review rule "${name}" is not configured` };

  if (rule.kind === 'jit') {
    const grant = await reviews.activeGrant(input.principal, input.resource, input.action);
    if (grant) return { outcome: 'run', reviewId: grant.id };
  } else {
    const ready = await reviews.approvedCommand(input.principal, input.fingerprint);
    if (ready && await reviews.consume(ready)) return { outcome: 'run', reviewId: ready.id };
  }

  const justification = input.justification?.trim();
  if (rule.require_justification && !justification) {
    return { outcome: 'denied', reason: `justification-required: review rule "${rule.name}" requires a justification for this request` };
  }
  const review = await reviews.request({
    principal: input.principal, action: input.action, resource: input.resource, facts: input.facts,
    fingerprint: input.fingerprint, summary: input.summary, rule, ...(justification ? { justification } : {}),
  });
  const outcome = await reviews.hold(review, deps.holdTimeoutMs, input.signal);
  switch (outcome) {
    case 'approved': return afterApproval(reviews, review.id);
    case 'timeout': return { outcome: 'timeout', reviewId: review.id };
    case 'cancelled':
      // Either the client went away (the review stays pending) or the requester withdrew it.
      if (input.signal?.aborted) return { outcome: 'timeout', reviewId: review.id };
      return refusal(await reviews.get(review.id) ?? review);
    case 'denied': case 'expired': return refusal(await reviews.get(review.id) ?? review);
  }
}

/** Approved while held: a command review is consumed (once); a jit grant has just started. */
async function afterApproval(reviews: ReviewService, id: string): Promise<ReviewGateResult> {
  const r = await reviews.get(id);
  if (!r) return { outcome: 'denied', reviewId: id, reason: `review-error: review ${id} vanished` };
  if (r.kind === 'jit') return r.status === 'approved' ? { outcome: 'run', reviewId: id } : refusal(r);
  if (await reviews.consume(r)) return { outcome: 'run', reviewId: id };
  return { outcome: 'denied', reviewId: id, reason: `review ${id} was approved once and that approval is already used; re-send to request a new review` };
}

/** The client-facing reason of a review that ended without running. */
function refusal(r: Review): ReviewGateResult {
  const who = r.decidedBy ? ` by ${describeActor(r.decidedBy)}` : '';
  const why = r.reason ? `: ${r.reason}` : '';
  switch (r.status) {
    case 'denied': return { outcome: 'denied', reviewId: r.id, reason: `review ${r.id} denied${who}${why}` };
    case 'revoked': return { outcome: 'denied', reviewId: r.id, reason: `review ${r.id} revoked${who}${why}` };
    case 'expired': return { outcome: 'denied', reviewId: r.id, reason: `review ${r.id} expired without a decision` };
    case 'cancelled': return { outcome: 'denied', reviewId: r.id, reason: `review ${r.id} was cancelled${who}` };
    default: return { outcome: 'denied', reviewId: r.id, reason: `review ${r.id} is ${r.status}` };
  }
}

/**
 * The review gate of a process, built once by the composition root (`Services.reviewGate`) with
 * its log, review service, `reviews.hold_timeout` and rules; every data path holds through it.
 *
 * @example const g = await svc.reviewGate.hold({ principal, action: 'sql.write', resource: conn.name, facts, decision, fingerprint, summary, signal });
 */
export class ReviewGate {
  readonly #svc: { readonly log: { error(obj: object, msg: string): void } };
  readonly #deps: ReviewGateDeps;

  constructor(svc: { readonly log: { error(obj: object, msg: string): void } }, deps: ReviewGateDeps) {
    this.#svc = svc;
    this.#deps = deps;
  }

  /** `reviews.hold_timeout` in ms. */
  get holdTimeoutMs(): number {
    return this.#deps.holdTimeoutMs;
  }

  /** {@link reviewGate} for one request; `holdTimeoutMs` shortens the hold (MCP answers pending sooner). */
  hold(input: ReviewGateInput, holdTimeoutMs = this.#deps.holdTimeoutMs): Promise<ReviewGateResult> {
    return reviewGate(this.#svc, holdTimeoutMs === this.#deps.holdTimeoutMs ? this.#deps : { ...this.#deps, holdTimeoutMs }, input);
  }
}
