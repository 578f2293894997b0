import { timingSafeEqual, hash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HostGuard } from './host-guard.ts';
import type { Metrics } from '../kernel/metrics.ts';
import { GatehouseError } from '../kernel/errors.ts';
import type { Secret } from '../kernel/secret.ts';

/** How `/metrics` is guarded (config `server.metrics`). */
export interface MetricsAccess {
  /** When set, a scrape must send `Authorization: Bearer <token>`. */
  readonly token?: Secret;
  /** DNS-rebinding protection: the `Host` must name this listener (the admin API's guard). */
  readonly guard: HostGuard;
}

/**
 * Serves the Prometheus text on `/metrics`, only to a scrape that passes the guard: the `Host`
 * header names this gateway (a DNS-rebinding page cannot read connection names and decision
 * counts) and, when `server.metrics.token` is set, the bearer token matches (compared in
 * constant time on digests). Throws `host_not_allowed` / `unauthenticated` otherwise.
 *
 * @example await serveMetrics(metrics, { guard, token }, req, res);
 */
export async function serveMetrics(metrics: Metrics, access: MetricsAccess, req: IncomingMessage, res: ServerResponse): Promise<void> {
  access.guard.check(req.headers);
  if (access.token !== undefined && !bearerMatches(req.headers.authorization, access.token)) {
    throw new GatehouseError('unauthenticated', '/metrics needs "Authorization: Bearer <server.metrics.token>"');
  }
  const text = await metrics.registry.metrics();
  res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
  res.end(text);
}

function bearerMatches(header: string | undefined, token: Secret): boolean {
  const m = /^Bearer +(\S{1,4096})\s*$/i.exec(header ?? '');
  if (!m) return false;
  const got = hash('sha256', m[1]!, 'buffer');
  const want = hash('sha256', token.reveal(), 'buffer');
  return timingSafeEqual(got, want);
}
