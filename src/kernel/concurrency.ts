/**
 * Counts what each key (a principal) holds at once, with one cap for every key. Memory is bounded
 * by the number of keys currently holding something: a key's entry is removed when its count
 * drops to zero.
 *
 * @example
 *   const sessions = new ConcurrencyLimiter(32);
 *   const release = sessions.acquire('user:alice');
 *   if (release === undefined) refuse(); // the 33rd at once
 *   else socket.once('close', release);
 */
export class ConcurrencyLimiter {
  readonly #max: number;
  readonly #held = new Map<string, number>();

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${max}`);
    this.#max = max;
  }

  /** The cap per key. */
  get max(): number {
    return this.#max;
  }

  /** How many `key` holds now. */
  held(key: string): number {
    return this.#held.get(key) ?? 0;
  }

  /** Keys holding anything now (for metrics). */
  get keys(): number {
    return this.#held.size;
  }

  /**
   * Takes one unit for `key`, or returns undefined when `key` already holds `max`. The returned
   * release function gives the unit back; calling it more than once has no further effect.
   */
  acquire(key: string): (() => void) | undefined {
    const n = this.#held.get(key) ?? 0;
    if (n >= this.#max) return undefined;
    this.#held.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const m = (this.#held.get(key) ?? 1) - 1;
      if (m <= 0) this.#held.delete(key);
      else this.#held.set(key, m);
    };
  }
}
