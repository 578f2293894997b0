import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { GatehouseError, isGatehouseError } from '../../../kernel/errors.ts';
import type { Connection } from '../../../connections/registry.ts';
import { urlParts } from '../../../http/target.ts';

/** Upstream timeouts in milliseconds. */
export interface Timeouts { readonly connect: number; readonly headers: number; readonly body: number }

/** Defaults of `connections[].timeouts` (config schema), for connections created without them. */
export const DEFAULT_TIMEOUTS: Timeouts = { connect: 10_000, headers: 60_000, body: 300_000 };

/**
 * Keep-alive undici pools, one per (origin, connect timeout). Pools are created on first use
 * and live until `close()`.
 *
 * @example
 *   const up = svc.upstreams;
 *   const r = await up.request(conn, { method: 'POST', path: '/v1/x', headers, body, signal });
 */
export class Upstreams {
  readonly #pools = new Map<string, Pool>();

  /** A connection's timeouts in ms (numbers since the connection was built; no parsing here). */
  timeoutsOf(conn: Connection): Timeouts {
    return conn.timeoutsMs ?? DEFAULT_TIMEOUTS;
  }

  pool(origin: string, connectTimeout: number): Pool {
    const key = `${origin} ${connectTimeout}`;
    let p = this.#pools.get(key);
    if (!p) {
      p = new Pool(origin, { connections: 128, keepAliveTimeout: 30_000, pipelining: 1, connect: { timeout: connectTimeout } });
      this.#pools.set(key, p);
    }
    return p;
  }

  /** Sends a request to the connection's origin. Failures become `upstream_unreachable` / `upstream_timeout`. */
  async request(conn: Connection, opts: { method: string; path: string; headers: Record<string, string>; body: Buffer | undefined; signal: AbortSignal }): Promise<Dispatcher.ResponseData> {
    const t = this.timeoutsOf(conn);
    const pool = this.pool(urlParts(conn.url).origin, t.connect);
    try {
      return await pool.request({
        method: opts.method, path: opts.path, headers: opts.headers,
        body: opts.body ?? null, signal: opts.signal, headersTimeout: t.headers, bodyTimeout: t.body,
      });
    } catch (err) {
      throw upstreamError(err);
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}

/** Maps an undici/network error to the client-facing problem (never leaking internals). */
export function upstreamError(err: unknown): GatehouseError {
  if (isGatehouseError(err)) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const name = (err as { name?: unknown } | null)?.name;
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || name === 'TimeoutError') {
    return new GatehouseError('upstream_timeout', 'the upstream did not answer in time', {}, { cause: err });
  }
  return new GatehouseError('upstream_unreachable', `the upstream could not be reached${typeof code === 'string' ? ` (${code})` : ''}`, {}, { cause: err });
}
