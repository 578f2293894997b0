import { GatehouseError } from '../kernel/errors.ts';
import { parseDuration } from '../kernel/duration.ts';

/**
 * A point in time given as an ISO-8601 timestamp or as a duration ago (`24h`, `7d`, `30m`),
 * in ms since the epoch. Throws `validation_failed` for anything else.
 *
 * @example parseTimeFilter('24h', now) === now - 86_400_000
 */
export function parseTimeFilter(text: string, nowMs: number, name = 'time'): number {
  const ago = parseDuration(text);
  if (ago !== undefined) return nowMs - ago;
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    const t = Date.parse(text);
    if (Number.isFinite(t)) return t;
  }
  throw new GatehouseError('validation_failed', `${name} must be an ISO-8601 time or a duration such as 24h`);
}
