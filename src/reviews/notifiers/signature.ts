import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header carrying the signature of a webhook body. */
export const SIGNATURE_HEADER = 'Gatehouse-Signature';

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` — the receiver recomputes the
 * HMAC over the timestamp and the raw body, compares in constant time and rejects old timestamps.
 *
 * @example sign('s3cret', '{"a":1}', 1700000000) // 't=1700000000,v1=…'
 */
export function sign(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * Checks a signature header against `body` (for receivers and tests). False when malformed, when
 * the HMAC differs, or when the timestamp is more than `toleranceS` from `nowS`.
 */
export function verify(secret: string, body: string, header: string, nowS: number, toleranceS = 300): boolean {
  const parts = new Map(header.split(',').map((kv) => { const i = kv.indexOf('='); return [kv.slice(0, i).trim(), kv.slice(i + 1).trim()] as const; }));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/.test(v1) || Math.abs(nowS - t) > toleranceS) return false;
  const want = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'), 'hex');
  return timingSafeEqual(want, Buffer.from(v1, 'hex'));
}
