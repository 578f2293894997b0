/** Monotonic milliseconds. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * The `Server-Timing` value for the time the gateway itself added (upstream time excluded).
 *
 * @example serverTiming(0.42) === 'gatehouse;dur=0.420'
 */
export function serverTiming(ms: number): string {
  return `gatehouse;dur=${Math.max(0, ms).toFixed(3)}`;
}
