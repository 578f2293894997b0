/**
 * Injected time source and timers: tests pass a manual clock instead of sleeping. A clock without
 * its own timers (`systemClock`, `manualClock`) uses the process's real timers through
 * {@link after} and {@link every}; `manualTimers` runs them when the test advances it.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Calls `fn` once after `ms` of this clock's time; returns the cancel function. Real timers
   * never hold the process open. Absent: the process's real timers (see {@link after}).
   */
  timer?(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * Calls `fn` once after `ms` on `clock`'s timers (real, unref'd ones when it has none); returns
 * a cancel function, safe to call more than once or after it fired. `keepAlive`: the real timer
 * holds the process open until it fires or is cancelled (a deadline of work nothing else holds
 * open, e.g. a task on an unref'd worker); manual timers ignore it.
 *
 * @example const cancel = after(clock, 1_000, retry); … cancel();
 */
export function after(clock: Pick<Clock, 'timer'>, ms: number, fn: () => void, opts?: { readonly keepAlive?: boolean }): () => void {
  if (clock.timer) return clock.timer(fn, ms);
  // A real timer holds at most 2^31-1 ms (~24.8 days): Node fires a longer one after 1 ms. A
  // longer delay (a configured duration may be as large as a safe integer) is armed in steps.
  let t: NodeJS.Timeout;
  const arm = (left: number): void => {
    const step = Math.min(left, MAX_TIMER_MS);
    t = setTimeout(() => { if (left > step) arm(left - step); else fn(); }, step);
    if (opts?.keepAlive !== true) t.unref();
  };
  arm(ms);
  return () => { clearTimeout(t); };
}

/** The longest delay a Node timer holds (2^31-1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Resolves after `ms` on `clock`'s timers, or at once when `signal` aborts (never rejects):
 * the clock-driven `timers/promises` `setTimeout` for back-offs and polls.
 *
 * @example await sleep(clock, 2 ** attempt * 100, stop.signal);
 */
export function sleep(clock: Pick<Clock, 'timer'>, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) { resolve(); return; }
    const done = (): void => { cancel(); signal?.removeEventListener('abort', done); resolve(); };
    const cancel = after(clock, ms, done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Calls `fn` every `ms` on `clock`'s timers until the returned function is called.
 *
 * @example const stop = every(clock, 60_000, sweep); … stop();
 */
export function every(clock: Pick<Clock, 'timer'>, ms: number, fn: () => void): () => void {
  if (!clock.timer && !(ms > MAX_TIMER_MS)) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => { clearInterval(t); };
  }
  let stopped = false;
  let cancel = (): void => undefined;
  const arm = (): void => { cancel = after(clock, ms, () => { if (stopped) return; arm(); fn(); }); };
  arm();
  return () => { stopped = true; cancel(); };
}

/** A clock that only moves when told to; timers are real. @example const c = manualClock(0); c.advance(1000); */
export function manualClock(start = 0): Clock & { advance(ms: number): void; set(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => { t += ms; },
    set: (ms: number) => { t = ms; },
  };
}

/** A manual clock whose timers run when it is advanced past them. */
export interface ManualTimers extends Clock {
  timer(fn: () => void, ms: number): () => void;
  /** Moves time forward by `ms`, running each timer that falls due, in due order, at its time. */
  advance(ms: number): void;
  /** Timers not yet run nor cancelled. */
  pending(): number;
}

/**
 * A manual clock with timers: nothing runs until the test advances time, so a retry after 1 s or
 * a 5 s timeout is reached without sleeping.
 *
 * @example const c = manualTimers(0); after(c, 1_000, retry); c.advance(1_000); // retry ran
 */
export function manualTimers(start = 0): ManualTimers {
  let t = start;
  let seq = 0;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => t,
    timer(fn, ms) {
      const id = ++seq;
      due.set(id, { at: t + Math.max(0, ms), fn });
      return () => { due.delete(id); };
    },
    advance(ms) {
      const end = t + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const e of due) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e;
        if (next === undefined) break;
        due.delete(next[0]);
        t = next[1].at;
        next[1].fn();
      }
      t = end;
    },
    pending: () => due.size,
  };
}
