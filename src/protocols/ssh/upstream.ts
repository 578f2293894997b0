import ssh2 from 'ssh2';
import type { Connection } from '../../connections/registry.ts';
import { fingerprint, hostKeyAlgorithms, matchesPinned, parsePinnedKey } from './pinned-key.ts';
import type { ErrorCode } from '../../kernel/errors.ts';

/** Where and how an ssh connection logs in upstream, from its URL and vaulted credentials. */
export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string;
}

/** Why the upstream could not be used; `message` is safe to show to the client (no secret). */
export class SshUpstreamError extends Error {
  override readonly name = 'SshUpstreamError';
  readonly reason: 'config' | 'host_key_mismatch' | 'unreachable' | 'auth';
  /** The registry code (also for a connection that cannot be used as configured: to the client, the upstream cannot be reached). */
  readonly code = 'upstream_unreachable' satisfies ErrorCode;
  constructor(reason: SshUpstreamError['reason'], message: string) {
    super(message);
    this.reason = reason;
  }
}

/**
 * Parses `ssh://<user>@<host>[:<port>]` (port 22 by default; IPv6 hosts in brackets).
 *
 * @example sshTarget('ssh://deploy@web01:2222') // { host: 'web01', port: 2222, username: 'deploy' }
 */
export function sshTarget(url: string): SshTarget {
  let u: URL;
  try { u = new URL(url); } catch { throw new SshUpstreamError('config', 'the connection url is not ssh://<user>@<host>[:<port>]'); }
  if (u.protocol !== 'ssh:' || u.username === '' || u.hostname === '' || u.password !== '') {
    throw new SshUpstreamError('config', 'the connection url must be ssh://<user>@<host>[:<port>] (no password in it)');
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port: u.port === '' ? 22 : Number(u.port), username: decodeURIComponent(u.username) };
}

/** Options of {@link connectUpstream}. */
export interface UpstreamOptions {
  /** Time allowed for TCP connect, key exchange and authentication (ms). */
  readonly timeoutMs: number;
}

/**
 * Opens an authenticated SSH client session to the connection's upstream. The server must present
 * exactly the host key pinned in the connection (`host_key`): another key refuses the connection
 * (`host_key_mismatch`, naming both fingerprints) before any credential is sent; a connection
 * without a pinned key is refused (nothing is trusted on first use). Authenticates with the
 * vaulted `private_key` (with `passphrase`) and/or `password`.
 *
 * @example const client = await connectUpstream(conn, { timeoutMs: 10_000 }); client.exec('ls', cb);
 */
export function connectUpstream(conn: Connection, opts: UpstreamOptions): Promise<ssh2.Client> {
  let target: SshTarget;
  let pinned;
  try {
    target = sshTarget(conn.url);
    if (conn.host_key === undefined) throw new SshUpstreamError('config', `connection "${conn.name}" has no host_key pinned; Gatehouse does not trust an upstream host key on first use`);
    pinned = parsePinnedKey(conn.host_key);
  } catch (err) {
    return Promise.reject(err instanceof SshUpstreamError ? err : new SshUpstreamError('config', `connection "${conn.name}": ${err instanceof Error ? err.message : String(err)}`));
  }
  const privateKey = conn.credentials.private_key?.reveal();
  const password = conn.credentials.password?.reveal();
  const passphrase = conn.credentials.passphrase?.reveal();
  if (privateKey === undefined && password === undefined) {
    return Promise.reject(new SshUpstreamError('config', `connection "${conn.name}" has neither a private_key nor a password credential`));
  }
  const client = new ssh2.Client();
  let presented: Buffer | undefined;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: SshUpstreamError): void => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };
    client.once('ready', () => {
      if (settled) { client.end(); return; }
      settled = true;
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      resolve(client);
    });
    client.on('error', (err: Error & { level?: string }) => {
      if (presented !== undefined && !matchesPinned(pinned, presented)) {
        fail(new SshUpstreamError('host_key_mismatch', `the upstream of "${conn.name}" presented host key ${fingerprint(presented)}, not the pinned ${pinned.type} ${fingerprint(pinned.blob)}: refused (update host_key only after checking the server)`));
      } else if (err.level === 'client-authentication') {
        fail(new SshUpstreamError('auth', `the upstream of "${conn.name}" refused the vaulted credential`));
      } else {
        fail(new SshUpstreamError('unreachable', `the upstream of "${conn.name}" could not be reached: ${err.message}`));
      }
    });
    client.once('close', () => { fail(new SshUpstreamError('unreachable', `the upstream of "${conn.name}" closed the connection`)); });
    client.connect({
      host: target.host, port: target.port, username: target.username,
      ...(privateKey === undefined ? {} : { privateKey }),
      ...(passphrase === undefined ? {} : { passphrase }),
      ...(password === undefined ? {} : { password }),
      readyTimeout: opts.timeoutMs,
      algorithms: { serverHostKey: hostKeyAlgorithms(pinned) as ssh2.ServerHostKeyAlgorithm[] },
      hostVerifier: (key: Buffer): boolean => {
        presented = Buffer.from(key);
        return matchesPinned(pinned, presented);
      },
      keepaliveInterval: 30_000,
    });
  });
}
