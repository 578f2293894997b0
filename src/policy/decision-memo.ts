import type { Decider } from './decider.ts';
import type { AccessRequest, Action, Decision } from './request.ts';

/**
 * Decisions of one session (one principal on one resource), memoized by the identity of the facts
 * object and the action. A PostgreSQL session sends the same statements again and again, and the
 * inspector hands back the same frozen facts object for the same text, so a repeated statement
 * is decided by one `WeakMap` lookup instead of building and serializing a Cedar request.
 *
 * Sound because the decider's decision is a function of the principal, the action, the resource,
 * the facts and `memoToken()`: while the token is the same object (no policy reload) and defined
 * (no policy or review rule reads the time), the same inputs give the same decision. The owner
 * must use one memo per principal and resource, and must not mutate a facts object it passes.
 * Only error-free decisions are kept. Entries go with their facts objects (weakly held).
 *
 * @example
 *   const memo = new DecisionMemo();
 *   memo.decide(decider, req, facts) // decides; the next call with the same facts object and action is a lookup
 */
export class DecisionMemo {
  #decider: Decider | undefined;
  #token: object | undefined;
  #byFacts = new WeakMap<object, Map<Action, Decision>>();

  /** `decider.decide(req)`, memoized on (`facts`, `req.action`) when the decider allows it. */
  decide(decider: Decider, req: AccessRequest, facts: object): Decision {
    const token = decider.memoToken();
    if (token === undefined) return decider.decide(req);
    if (decider !== this.#decider || token !== this.#token) {
      this.#decider = decider;
      this.#token = token;
      this.#byFacts = new WeakMap();
    }
    let byAction = this.#byFacts.get(facts);
    const hit = byAction?.get(req.action);
    if (hit !== undefined) return hit;
    const decision = decider.decide(req);
    if (decision.errors.length === 0) {
      Object.freeze(decision.reasons);
      Object.freeze(decision.errors);
      Object.freeze(decision);
      if (byAction === undefined) {
        byAction = new Map();
        this.#byFacts.set(facts, byAction);
      }
      byAction.set(req.action, decision);
    }
    return decision;
  }
}
