import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Services } from './services.ts';
import { HostGuard } from '../http/host-guard.ts';
import type { HttpSurface } from '../http/surface.ts';
import { serveMetrics } from '../http/metrics-route.ts';
import { sendProblem } from '../http/problem.ts';
import { GatehouseError, isGatehouseError } from '../kernel/errors.ts';
import type { Secret } from '../kernel/secret.ts';

/** Readiness: the store answers and a policy set is loaded. */
export async function readiness(svc: Services): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  try {
    await svc.db.query('SELECT 1');
    checks.store = 'ok';
  } catch {
    checks.store = 'unreachable';
  }
  checks.policies = svc.policy.policies().length > 0 ? 'ok' : 'none loaded';
  // Rules may name connections created through the admin API (api_connections): until each
  // exists, masking or reviews the configuration promises are not in force for it.
  const expected = svc.config.api_connections;
  if (expected.length > 0) {
    const missing: string[] = [];
    for (const name of expected) {
      try {
        if (!(await svc.connections.get(name))) missing.push(name);
      } catch {
        missing.push(name);
      }
    }
    checks.api_connections = missing.length === 0 ? 'ok' : `missing: ${missing.join(', ')}`;
  }
  return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
}

/**
 * The HTTP listener's request handler over the mounted surfaces (`app/http-surfaces.ts`): each is
 * asked in order; a path no surface serves is `not_found`. Every error becomes problem+json with
 * a stable code.
 */
export function createHttpHandler(svc: Pick<Services, 'metrics' | 'log'>, surfaces: readonly HttpSurface[]) {
  const raw = surfaces.filter((s) => s.rawPrefix !== undefined);
  return (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    let route = 'unmatched';
    const done = (): void => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      svc.metrics.httpServed(route, res.statusCode, seconds);
      svc.log.debug({ method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 }, 'http');
    };
    res.once('finish', done);
    dispatch(surfaces, raw, req, res).then((r) => { route = r; }, (err: unknown) => {
      if (isGatehouseError(err) && err.extra.client_aborted === true) {
        svc.log.info({ method: req.method, route }, 'client aborted the request');
        return;
      }
      if (!isGatehouseError(err)) svc.log.error({ err: err instanceof Error ? err.stack : String(err), method: req.method }, 'unhandled error');
      const headers: Record<string, string> = {};
      if (isGatehouseError(err) && err.status === 401) headers['www-authenticate'] = 'Bearer realm="gatehouse"';
      if (isGatehouseError(err, 'method_not_allowed') && err.extra.allow !== undefined) headers.allow = err.extra.allow.join(', ');
      sendProblem(res, err, headers);
    });
  };
}

async function dispatch(surfaces: readonly HttpSurface[], raw: readonly HttpSurface[], req: IncomingMessage, res: ServerResponse): Promise<string> {
  const target = req.url ?? '';
  for (const s of raw) {
    if (target.startsWith(s.rawPrefix!)) {
      const label = await s.serve(req, res, target, undefined);
      if (label !== undefined) return label;
    }
  }
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://gateway');
  } catch {
    throw new GatehouseError('bad_request', 'malformed request target');
  }
  const path = url.pathname;
  for (const s of surfaces) {
    if (s.rawPrefix !== undefined) continue; // served by its raw prefix only
    const label = await s.serve(req, res, path, url);
    if (label !== undefined) return label;
  }
  throw new GatehouseError('not_found', `nothing at ${path.slice(0, 200)}`);
}

/** `{ token }` when `server.metrics.token` is set. */
export function optionalToken(svc: Pick<Services, 'config'>): { token?: Secret } {
  const token = svc.config.server.metrics.token;
  return token === undefined ? {} : { token };
}

/**
 * The handler of the separate metrics listener (`server.metrics.listen`): only `/metrics`, behind
 * the same guard (its own address in `Host`, or `server.allowed_hosts`) and the optional token.
 */
export function createMetricsHandler(svc: Services, listen: { host: string; port: number }) {
  const guard = new HostGuard(listen, undefined, svc.config.server.allowed_hosts);
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0];
    const served = path === '/metrics'
      ? serveMetrics(svc.metrics, { guard, ...optionalToken(svc) }, req, res)
      : Promise.reject(new GatehouseError('not_found', 'this listener serves /metrics only'));
    served.catch((err: unknown) => {
      const headers: Record<string, string> = isGatehouseError(err) && err.status === 401 ? { 'www-authenticate': 'Bearer realm="gatehouse-metrics"' } : {};
      sendProblem(res, err, headers);
    });
  };
}

/** Starts listening; resolves with the bound address. */
export async function listenHttp(server: Server, host: string, port: number): Promise<{ host: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('unexpected server address');
  return { host: addr.address, port: addr.port };
}

export { createServer };
