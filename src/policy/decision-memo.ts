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
    if (kept(decision)) {
      if (byAction === undefined) {
        byAction = new Map();
        this.#byFacts.set(facts, byAction);
      }
      byAction.set(req.action, decision);
    }
    return decision;
  }
}

/** True when `decision` may be memoized (no errors); it is frozen then, as it will be shared. */
function kept(decision: Decision): boolean {
  if (decision.errors.length > 0) return false;
  Object.freeze(decision.reasons);
  Object.freeze(decision.errors);
  Object.freeze(decision);
  return true;
}

/** Decisions a {@link RequestMemo} holds at most (the oldest go first). */
const REQUEST_MEMO_ENTRIES = 4096;
/** Longest key of a memoized request (action, resource and facts); longer ones are decided every time. */
const REQUEST_MEMO_KEY_CHARS = 1024;

/**
 * Decisions memoized across requests by value, for data paths that build new facts on every
 * request (HTTP, LLM): keyed by the principal object (an API key's principal is cached and frozen,
 * so it is the same object across that key's requests) and by an exact key of the action, the
 * resource and the facts ({@link plainKey}). Sound for the same reason as {@link DecisionMemo};
 * principals that are not frozen, and facts or resources that are not plain data, are decided
 * every time. Bounded: at most {@link REQUEST_MEMO_ENTRIES} decisions with keys of at most
 * {@link REQUEST_MEMO_KEY_CHARS} characters (facts carry client-chosen model and tool names).
 *
 * @example
 *   const memo = new RequestMemo();
 *   memo.decide(decider, req) // the next request of the same frozen principal with equal facts is a lookup
 */
export class RequestMemo {
  readonly #max: number;
  #decider: Decider | undefined;
  #token: object | undefined;
  /** A number per principal object, so that the key names the object, not its content. */
  readonly #principals = new WeakMap<object, number>();
  #nextPrincipal = 0;
  #entries = new Map<string, Decision>();

  constructor(maxEntries = REQUEST_MEMO_ENTRIES) {
    this.#max = Math.max(1, maxEntries);
  }

  /** Decisions held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** `decider.decide(req)`, memoized when the decider and the request allow it. */
  decide(decider: Decider, req: AccessRequest): Decision {
    const token = decider.memoToken();
    const principal = req.principal;
    if (token === undefined || !frozenPrincipal(principal)) return decider.decide(req);
    const key = requestKey(req);
    if (key === undefined || key.length > REQUEST_MEMO_KEY_CHARS) return decider.decide(req);
    if (decider !== this.#decider || token !== this.#token) {
      this.#decider = decider;
      this.#token = token;
      this.#entries = new Map();
    }
    let n = this.#principals.get(principal);
    if (n === undefined) {
      n = ++this.#nextPrincipal;
      this.#principals.set(principal, n);
    }
    const full = `${n}\n${key}`;
    const hit = this.#entries.get(full);
    if (hit !== undefined) return hit;
    const decision = decider.decide(req);
    if (kept(decision)) {
      if (this.#entries.size >= this.#max) {
        const oldest = this.#entries.keys().next();
        if (oldest.done !== true) this.#entries.delete(oldest.value);
      }
      this.#entries.set(full, decision);
    }
    return decision;
  }
}

/** A principal whose every part is frozen (so its identity stands for its content). */
function frozenPrincipal(p: AccessRequest['principal']): boolean {
  if (!Object.isFrozen(p) || !Object.isFrozen(p.groups)) return false;
  return p.agent === undefined || (Object.isFrozen(p.agent) && Object.isFrozen(p.agent.groups));
}

/** The exact key of everything but the principal and the time, or undefined when it has none. */
function requestKey(req: AccessRequest): string | undefined {
  const resource = plainKey(req.resource);
  const facts = plainKey(req.facts);
  return resource === undefined || facts === undefined ? undefined : `${req.action}\n${resource}\n${facts}`;
}

/**
 * An exact key of plain data: equal keys mean equal values (strings are JSON-quoted, so no two
 * values share a key). Undefined for anything that is not a string, boolean, safe integer, array
 * or plain object of those, or that holds an `undefined` member (the decision of such a value is
 * an error, never memoized). Objects with the same members in another order get another key,
 * which only costs a miss.
 *
 * @example plainKey({ a: [1, 'x'] }) === '{"a":[1,"x"]}'
 */
export function plainKey(value: unknown): string | undefined {
  // Checked first, serialized natively after: for plain data JSON.stringify writes exactly the
  // key described above (a key built piece by piece cost ~4× as much, on every request).
  return isPlain(value, 0) ? JSON.stringify(value) : undefined;
}

/** Whether `value` is plain data as {@link plainKey} describes it (at most 8 levels deep). */
function isPlain(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string': case 'boolean': return true;
    case 'number': return Number.isSafeInteger(value);
    case 'object': break;
    default: return false;
  }
  if (value === null || depth > 8) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isPlain(value[i], depth + 1)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const name of Object.keys(value)) if (!isPlain((value as Record<string, unknown>)[name], depth + 1)) return false;
  return true;
}
