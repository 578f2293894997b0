/** Bounds of a `TextLru`. */
export interface TextLruLimits {
  /** Most entries kept. */
  readonly maxEntries: number;
  /** Most key characters kept in total (keys are the large part: SQL texts). */
  readonly maxKeyChars: number;
}

/**
 * A least-recently-used cache keyed by exact text, bounded both in entries and in total key size.
 * A key longer than `maxKeyChars` is never stored. Values should be immutable (they are shared).
 *
 * @example
 *   const cache = new TextLru<number>({ maxEntries: 2, maxKeyChars: 100 });
 *   cache.set('a', 1); cache.set('b', 2); cache.get('a'); cache.set('c', 3); // evicts 'b'
 */
export class TextLru<V> {
  readonly #limits: TextLruLimits;
  readonly #map = new Map<string, V>();
  #keyChars = 0;

  constructor(limits: TextLruLimits) {
    if (!(limits.maxEntries >= 0) || !(limits.maxKeyChars >= 0)) throw new RangeError('TextLru limits must be ≥ 0');
    this.#limits = limits;
  }

  /** The value for `key`, marking it most recently used. */
  get(key: string): V | undefined {
    const value = this.#map.get(key);
    if (value === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, value);
    return value;
  }

  /** Stores `value`, evicting least recently used entries until both bounds hold. */
  set(key: string, value: V): void {
    if (this.#map.has(key)) {
      this.#map.delete(key);
      this.#keyChars -= key.length;
    }
    if (key.length > this.#limits.maxKeyChars || this.#limits.maxEntries === 0) return;
    this.#map.set(key, value);
    this.#keyChars += key.length;
    while (this.#map.size > this.#limits.maxEntries || this.#keyChars > this.#limits.maxKeyChars) {
      const oldest = this.#map.keys().next();
      if (oldest.done === true) break;
      this.#map.delete(oldest.value);
      this.#keyChars -= oldest.value.length;
    }
  }

  /** Number of entries. */
  get size(): number {
    return this.#map.size;
  }

  /** Total characters of the stored keys. */
  get keyChars(): number {
    return this.#keyChars;
  }

  clear(): void {
    this.#map.clear();
    this.#keyChars = 0;
  }
}
