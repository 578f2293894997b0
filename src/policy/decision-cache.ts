/** Default number of entries of a decision cache. */
export const DEFAULT_DECISION_CACHE_ENTRIES = 10_000;
/** Keys longer than this (UTF-16 code units) are not cached. */
export const MAX_DECISION_CACHE_KEY = 4096;

/**
 * A bounded least-recently-used map from a canonical request key to a decision. Bounded both in
 * entries and in key length (a longer key is neither stored nor looked up), so its memory is
 * at most `maxEntries × maxKeyLength` characters plus the values. `maxEntries` 0 disables it.
 *
 * @example
 *   const cache = new DecisionCache<Decision>(10_000);
 *   cache.get(key) ?? cache.set(key, decide());
 */
export class DecisionCache<V> {
  readonly #max: number;
  readonly #maxKey: number;
  readonly #map = new Map<string, V>();

  constructor(maxEntries = DEFAULT_DECISION_CACHE_ENTRIES, maxKeyLength = MAX_DECISION_CACHE_KEY) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) throw new RangeError('maxEntries must be an integer ≥ 0');
    this.#max = maxEntries;
    this.#maxKey = maxKeyLength;
  }

  /** The value for `key` (marking it recently used), or undefined. */
  get(key: string): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  /** Stores `value` under `key` unless the key is too long; evicts the least recently used. Returns `value`. */
  set(key: string, value: V): V {
    if (this.#max === 0 || key.length > this.#maxKey) return value;
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next();
      if (oldest.done !== true) this.#map.delete(oldest.value);
    }
    return value;
  }

  /** Forgets every entry (after a policy reload). */
  clear(): void {
    this.#map.clear();
  }

  /** Number of entries held. */
  get size(): number {
    return this.#map.size;
  }
}
