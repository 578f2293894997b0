import type { IncomingHttpHeaders } from 'node:http';
import { GatehouseError } from '../kernel/errors.ts';

/**
 * DNS-rebinding and cross-site protection for the admin API (as caddy's admin endpoint does):
 * the `Host` header must name this gateway, and a browser `Origin`, when sent, must be one of
 * this gateway's own origins.
 */
export class HostGuard {
  readonly #hosts: Set<string>;
  readonly #origins: Set<string>;

  /**
   * @param listen the HTTP listen address (`host:port`)
   * @param publicUrl the externally visible base URL, if configured
   * @param extraHosts additional accepted `host[:port]` values (config `server.allowed_hosts`)
   */
  constructor(listen: { host: string; port: number }, publicUrl: string | undefined, extraHosts: readonly string[]) {
    const port = listen.port;
    const hosts = new Set<string>([`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]);
    if (!isWildcard(listen.host)) hosts.add(`${bracket(listen.host)}:${port}`);
    for (const h of extraHosts) hosts.add(h.toLowerCase());
    const origins = new Set<string>();
    if (publicUrl) {
      const u = new URL(publicUrl);
      hosts.add(u.host.toLowerCase());
      origins.add(u.origin.toLowerCase());
    }
    for (const h of hosts) { origins.add(`http://${h}`); origins.add(`https://${h}`); }
    this.#hosts = hosts;
    this.#origins = origins;
  }

  /** Throws `host_not_allowed` or `origin_not_allowed`. */
  check(headers: IncomingHttpHeaders): void {
    this.checkHost(headers);
    const origin = headers.origin;
    if (origin !== undefined && origin !== 'null' && !this.#origins.has(origin.toLowerCase())) {
      throw new GatehouseError('origin_not_allowed', 'cross-origin requests to the admin API are refused');
    }
    if (origin === 'null') throw new GatehouseError('origin_not_allowed', 'cross-origin requests to the admin API are refused');
  }

  /**
   * The Host check alone, for the one route a foreign origin posts to by design (the SAML
   * assertion consumer service, authenticated by the assertion's signature instead).
   */
  checkHost(headers: IncomingHttpHeaders): void {
    const host = (headers.host ?? '').toLowerCase();
    if (!this.#hosts.has(host)) throw new GatehouseError('host_not_allowed', `Host "${host.slice(0, 100)}" is not this gateway`);
  }
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host.toLowerCase();
}
