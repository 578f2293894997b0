import type { Principal } from '../../identity/principal.ts';
import { actorOf, requesterKey } from '../../reviews/actors.ts';
import type { Rerun } from './env.ts';

/** Most calls awaiting review kept per gateway process (oldest are forgotten first). */
export const MAX_PENDING = 10_000;

interface Entry {
  readonly owner: string;
  readonly tool: string;
  readonly expiresAt: number;
  readonly rerun: Rerun;
}

/**
 * Tool calls that answered `pending_approval`, by review id, so that `review_wait` can run the
 * very same call once the review is approved. Bounded ({@link MAX_PENDING}, oldest dropped) and
 * expiring with the review; only the principal (and acting agent) that made the call may take it.
 * Process-local: on another replica, or after a restart, `review_wait` reports the approval and
 * the client re-sends the call (which then runs once, as on every data path).
 *
 * @example
 *   pending.put(reviewId, principal, 'query', review.expiresAt, (env, extra) => runAgain(env, extra));
 *   const call = pending.take(reviewId, principal, clock.now());
 */
export class PendingCalls {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;

  constructor(max = MAX_PENDING) {
    this.#max = max;
  }

  /** Remembers the call behind `reviewId` (replacing an earlier one). */
  put(reviewId: string, principal: Principal, tool: string, expiresAt: number, rerun: Rerun): void {
    this.#entries.delete(reviewId);
    this.#entries.set(reviewId, { owner: requesterKey(actorOf(principal)), tool, expiresAt, rerun });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }

  /** The tool name of the call behind `reviewId` if `principal` made it and it has not expired. */
  peek(reviewId: string, principal: Principal, now: number): string | undefined {
    return this.#live(reviewId, principal, now)?.tool;
  }

  /** Removes and returns the call behind `reviewId`, if `principal` made it and it has not expired. */
  take(reviewId: string, principal: Principal, now: number): { readonly tool: string; readonly rerun: Rerun } | undefined {
    const e = this.#live(reviewId, principal, now);
    if (e) this.#entries.delete(reviewId);
    return e;
  }

  get size(): number {
    return this.#entries.size;
  }

  #live(reviewId: string, principal: Principal, now: number): Entry | undefined {
    const e = this.#entries.get(reviewId);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.#entries.delete(reviewId);
      return undefined;
    }
    return e.owner === requesterKey(actorOf(principal)) ? e : undefined;
  }
}

