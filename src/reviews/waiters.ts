import { after, every, type Clock } from '../kernel/clock.ts';
import type { Review, ReviewStatus } from './types.ts';

/** What a held request learns: the review's outcome, or that the hold gave up. */
export type HoldOutcome = 'approved' | 'denied' | 'expired' | 'cancelled' | 'timeout';

/** The hold outcome a status means, or undefined while the review is still pending. */
export function outcomeOf(s: ReviewStatus): Exclude<HoldOutcome, 'timeout'> | undefined {
  switch (s) {
    case 'pending': return undefined;
    case 'approved': case 'executed': return 'approved';
    case 'denied': case 'revoked': return 'denied';
    case 'expired': return 'expired';
    case 'cancelled': return 'cancelled';
  }
}

type Wake = (r: Review | undefined) => void;

/**
 * Held requests by review id. `wake(id, review)` tells every waiter of `id` that it changed
 * (`review` undefined: changed elsewhere, re-read it). In-process only; the service feeds it from
 * its own transitions and from the store's NOTIFY.
 */
export class Waiters {
  readonly #byId = new Map<string, Set<Wake>>();

  add(id: string, w: Wake): () => void {
    let set = this.#byId.get(id);
    if (!set) { set = new Set(); this.#byId.set(id, set); }
    set.add(w);
    return () => {
      set.delete(w);
      if (set.size === 0) this.#byId.delete(id);
    };
  }

  wake(id: string, review?: Review): void {
    for (const w of [...(this.#byId.get(id) ?? [])]) w(review);
  }

  /** Number of held requests (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const s of this.#byId.values()) n += s.size;
    return n;
  }
}

/**
 * Waits for review `id` to leave `pending`: woken through `waiters` (with the new review, or
 * without it to re-read), re-reading every `recheckMs` in case a wake-up was lost, giving up after
 * `timeoutMs` ('timeout') or when `signal` aborts ('cancelled'). Never rejects. Both timers run on
 * `clock` (real, unref'd ones for a clock without timers: a held request never keeps the process
 * alive on its own).
 */
export function waitForDecision(o: {
  id: string; waiters: Waiters; clock: Pick<Clock, 'timer'>; timeoutMs: number; recheckMs: number; signal: AbortSignal | undefined;
  read: () => Promise<Review | undefined>; onError: (e: unknown) => void;
}): Promise<HoldOutcome> {
  return new Promise<HoldOutcome>((resolve) => {
    let done = false;
    const stops: (() => void)[] = [];
    const onAbort = (): void => { finish('cancelled'); };
    function finish(out: HoldOutcome): void {
      if (done) return;
      done = true;
      for (const s of stops) s();
      o.signal?.removeEventListener('abort', onAbort);
      resolve(out);
    }
    const settle = (r: Review | undefined): void => {
      const out = r ? outcomeOf(r.status) : undefined;
      if (out) finish(out);
    };
    const recheck = (): void => {
      if (!done) o.read().then(settle, o.onError);
    };
    if (o.signal?.aborted) { finish('cancelled'); return; }
    o.signal?.addEventListener('abort', onAbort, { once: true });
    stops.push(o.waiters.add(o.id, (r) => { if (r) settle(r); else recheck(); }));
    stops.push(after(o.clock, Math.max(0, o.timeoutMs), () => { finish('timeout'); }));
    stops.push(every(o.clock, o.recheckMs, recheck));
    recheck(); // it may have changed before we subscribed
  });
}
