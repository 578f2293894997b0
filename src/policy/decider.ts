import type { PolicyEngine } from './engine.ts';
import type { AccessRequest, Decision } from './request.ts';
import type { ReviewRules } from './review-rules.ts';

/**
 * Policy first, review rules second (SPEC: reviews): policy decides whether a request may happen
 * at all; a review rule decides whether an allowed request needs a human first. A denied request
 * is never offered for review, and an error evaluating a rule's condition denies (fail closed).
 *
 * @example
 *   const d = new Decider(engine, rules).decide(req);
 *   // { effect: 'review', reasons: ['dba-write', 'review:crm-writes'], errors: [], reviewRule: 'crm-writes' }
 */
export class Decider {
  readonly #engine: PolicyEngine;
  readonly #rules: ReviewRules;

  constructor(engine: PolicyEngine, rules: ReviewRules) {
    this.#engine = engine;
    this.#rules = rules;
  }

  /**
   * An object that stays the same while every input of a decision other than the principal, the
   * action, the resource and the facts is unchanged (the active policy set; the review rules are
   * fixed per decider), or undefined when decisions also depend on the time. See `DecisionMemo`.
   */
  memoToken(): object | undefined {
    return this.#rules.readsTime() ? undefined : this.#engine.memoToken();
  }

  /** The final decision for `req`: allow, deny, or review (with `reviewRule`). Never throws. */
  decide(req: AccessRequest): Decision {
    const policy = this.#engine.decide(req);
    if (policy.effect !== 'allow') return policy;
    const match = this.#rules.evaluate(req);
    if (match.errors.length > 0) return { effect: 'deny', reasons: ['policy-error'], errors: match.errors };
    if (!match.rule) return policy;
    const name = match.rule.name;
    return { effect: 'review', reasons: [...policy.reasons, `review:${name}`], errors: [], reviewRule: name };
  }
}
