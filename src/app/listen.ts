import { isIP } from 'node:net';
import { GatehouseError } from '../kernel/errors.ts';
import type { GatehouseConfig } from '../config/types.ts';

/** Parses `host:port` / `[v6]:port`. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new GatehouseError('config_invalid', `listen address "${text}" is not host:port`);
  return { host: m[1] ?? m[2]!, port };
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * SPEC: without TLS the listeners bind to loopback only, unless `server.allow_insecure_public`.
 * Credentials would otherwise cross the network in clear text.
 */
export function checkExposure(host: string, config: GatehouseConfig): void {
  if (config.server.tls || config.server.allow_insecure_public || isLoopback(host)) return;
  throw new GatehouseError('config_invalid', `refusing to listen on ${host} without TLS: configure server.tls, or set server.allow_insecure_public: true`);
}
