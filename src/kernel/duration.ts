const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration such as `500ms`, `60s`, `15m`, `24h`, `7d` into milliseconds.
 * Returns undefined for anything else.
 *
 * @example parseDuration('15m') === 900_000
 */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = UNITS[m[2]!];
  return unit === undefined ? undefined : Number(m[1]) * unit;
}

/** Parses a size such as `1mb`, `512kb`, `100b` into bytes. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)(b|kb|mb|gb)$/i.exec(text.trim());
  if (!m) return undefined;
  const mult: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
  return Number(m[1]) * (mult[m[2]!.toLowerCase()] ?? 0);
}
