/** Monotonic milliseconds (`performance.now()`: no BigInt per call, unlike `process.hrtime.bigint()`). */
export function nowMs(): number {
  return performance.now();
}

/**
 * The `Server-Timing` value for the time the gateway itself added (upstream time excluded).
 *
 * @example serverTiming(0.42) === 'gatehouse;dur=0.420'
 */
export function serverTiming(ms: number): string {
  return `gatehouse;dur=${Math.max(0, ms).toFixed(3)}`;
}
