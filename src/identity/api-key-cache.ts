import type { Principal } from './principal.ts';

/** One verified key: its id, principal and expiry (checked again on every hit by the caller). */
export interface VerifiedKey {
  readonly id: string;
  readonly principal: Principal;
  readonly expiresAt: number | undefined;
}

interface Entry extends VerifiedKey {
  readonly hash: string;
  /** Cache time after which the entry is dead (ms since epoch, injected clock). */
  readonly until: number;
}

/**
 * A bounded LRU of verified API keys keyed by `sha256(key)` (so a lookup reveals nothing about the
 * secret and a wrong secret for a known id can never hit). Only successes are cached; failures
 * always go to the store. Entries live `ttlMs` at most.
 *
 * Revocation: `drop(id)` removes the key's entry and bumps a generation; a verification that
 * started before a drop must not fill the cache (`set` ignores stale generations), so a store read
 * that raced with a revocation can never resurrect the key.
 *
 * @example
 *   const cache = new VerifiedKeyCache(30_000, 10_000);
 *   const gen = cache.generation;
 *   // … verify against the store …
 *   cache.set(hash, { id, principal, expiresAt }, gen, now);
 *   cache.get(hash, now)?.principal;
 */
export class VerifiedKeyCache {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #byHash = new Map<string, Entry>();
  readonly #hashById = new Map<string, string>();
  #generation = 0;

  constructor(ttlMs: number, max: number) {
    this.#ttlMs = Math.max(0, ttlMs);
    this.#max = Math.max(0, Math.trunc(max));
  }

  /** Bumped by every drop/clear; pass the value read before the store lookup to {@link set}. */
  get generation(): number {
    return this.#generation;
  }

  /** Entries held now. */
  get size(): number {
    return this.#byHash.size;
  }

  /** The live entry for `hash`, refreshed as most recently used; undefined when absent or stale. */
  get(hash: string, now: number): VerifiedKey | undefined {
    const e = this.#byHash.get(hash);
    if (e === undefined) return undefined;
    if (now >= e.until) {
      this.#delete(e);
      return undefined;
    }
    this.#byHash.delete(hash);
    this.#byHash.set(hash, e);
    return e;
  }

  /** The live entry of key `id` (by id, not by secret: for tokens bound to the key), or undefined. */
  getById(id: string, now: number): VerifiedKey | undefined {
    const hash = this.#hashById.get(id);
    return hash === undefined ? undefined : this.get(hash, now);
  }

  /** Caches a verified key unless a drop happened since `generation` was read. */
  set(hash: string, v: VerifiedKey, generation: number, now: number): void {
    if (generation !== this.#generation || this.#ttlMs === 0 || this.#max === 0) return;
    const old = this.#hashById.get(v.id);
    if (old !== undefined) this.#byHash.delete(old);
    this.#byHash.delete(hash);
    while (this.#byHash.size >= this.#max) {
      const oldest = this.#byHash.values().next();
      if (oldest.done === true) break;
      this.#delete(oldest.value);
    }
    this.#byHash.set(hash, { ...v, hash, until: now + this.#ttlMs });
    this.#hashById.set(v.id, hash);
  }

  /** Forgets key `id` (revoked here or on another replica). */
  drop(id: string): void {
    this.#generation++;
    const hash = this.#hashById.get(id);
    if (hash === undefined) return;
    this.#hashById.delete(id);
    this.#byHash.delete(hash);
  }

  /** Forgets everything (e.g. when the revocation feed is lost). */
  clear(): void {
    this.#generation++;
    this.#byHash.clear();
    this.#hashById.clear();
  }

  #delete(e: Entry): void {
    this.#byHash.delete(e.hash);
    if (this.#hashById.get(e.id) === e.hash) this.#hashById.delete(e.id);
  }
}
