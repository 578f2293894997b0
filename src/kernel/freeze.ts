/**
 * Freezes `value` and everything reachable from it (cycles included); returns it.
 *
 * @example deepFreeze({ a: [1] }).a.push(2) // throws TypeError
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
