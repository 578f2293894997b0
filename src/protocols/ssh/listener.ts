import ssh2 from 'ssh2';
import type { SshDeps } from './deps.ts';
import type { Connection } from '../../connections/registry.ts';
import type { Principal } from '../../identity/principal.ts';
import { authenticateAndAudit } from '../../enforce/authenticate.ts';
import { newId } from '../../kernel/ids.ts';
import { defaultDetectors, TextMasker } from '../../masking/text-masker.ts';
import { SshClientSession } from './client-session.ts';
import type { InspectCommand } from '../../shell/inspector.ts';

/** Options of an {@link SshListener}. */
export interface SshListenerOptions {
  readonly host: string;
  readonly port: number;
  /** The gateway's host key (OpenSSH private key text), see `loadOrCreateHostKey`. */
  readonly hostKey: string;
  readonly inspect: InspectCommand;
  /** Time a client has to authenticate (ms). */
  readonly authTimeoutMs: number;
  /** Time allowed to connect and log in upstream (ms). */
  readonly upstreamTimeoutMs: number;
}

/** Most authentication attempts per client connection. */
const MAX_AUTH_ATTEMPTS = 6;

/**
 * The SSH listener (`server.ssh.listen`, ssh2's server): the user name selects the connection
 * (`ssh -p 2222 web01@gateway`), the password — or the answer to the keyboard-interactive prompt —
 * is a Gatehouse credential (API key or token). A failed authentication is audited
 * (`auth.failure`, surface `ssh`, never the credential). Each authenticated client becomes an
 * {@link SshClientSession}; forwarding requests (tcpip, streamlocal, tcpip-forward) are refused.
 *
 * @example
 *   const l = new SshListener(svc, { host: '127.0.0.1', port: 2222, hostKey, inspect, authTimeoutMs: 30_000, upstreamTimeoutMs: 10_000 });
 *   const { port } = await l.start(); … await l.close();
 */
export class SshListener {
  readonly #svc: SshDeps;
  readonly #opts: SshListenerOptions;
  readonly #server: ssh2.Server;
  readonly #scanner: TextMasker;
  readonly #clients = new Set<ssh2.Connection>();

  constructor(svc: SshDeps, opts: SshListenerOptions) {
    this.#svc = svc;
    this.#opts = opts;
    this.#scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: svc.masking.hashKey });
    this.#server = new ssh2.Server({ hostKeys: [opts.hostKey], ident: 'Gatehouse' }, (client, info) => { this.#accept(client, info.ip); });
  }

  /** Binds; resolves with the bound address. */
  start(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        this.#server.off('error', reject);
        const a = this.#server.address();
        resolve({ host: this.#opts.host, port: typeof a === 'object' && a ? a.port : this.#opts.port });
      });
    });
  }

  /** Stops accepting and ends every client connection (their sessions are closed in the recording). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => { this.#server.close(() => { resolve(); }); });
    for (const c of this.#clients) c.end();
    await closed;
  }

  #accept(client: ssh2.Connection, remote: string): void {
    this.#clients.add(client);
    let session: SshClientSession | undefined;
    let attempts = 0;
    const deadline = setTimeout(() => { client.end(); }, this.#opts.authTimeoutMs);
    deadline.unref();
    let authed: { principal: Principal; connection: Connection } | undefined;
    client.on('error', () => undefined);
    client.on('close', () => {
      clearTimeout(deadline);
      this.#clients.delete(client);
      session?.close('client closed');
    });
    client.on('authentication', (ctx) => {
      if (++attempts > MAX_AUTH_ATTEMPTS) { client.end(); return; }
      if (ctx.method === 'password') {
        void this.#authenticate(ctx.username, ctx.password, remote).then((a) => {
          if (a) { authed = a; ctx.accept(); } else ctx.reject(['password', 'keyboard-interactive']);
        });
        return;
      }
      if (ctx.method === 'keyboard-interactive') {
        ctx.prompt([{ prompt: 'Gatehouse credential: ', echo: false }], 'Gatehouse', '', (answers) => {
          void this.#authenticate(ctx.username, answers[0] ?? '', remote).then((a) => {
            if (a) { authed = a; ctx.accept(); } else ctx.reject(['password', 'keyboard-interactive']);
          });
        });
        return;
      }
      ctx.reject(['password', 'keyboard-interactive']);
    });
    client.on('ready', () => {
      clearTimeout(deadline);
      if (!authed) { client.end(); return; }
      const s = new SshClientSession({ svc: this.#svc, inspect: this.#opts.inspect, scanner: this.#scanner, upstreamTimeoutMs: this.#opts.upstreamTimeoutMs }, newId(), authed.principal, authed.connection, remote);
      session = s;
      client.on('session', (accept) => { s.onSession(accept()); });
      client.on('tcpip', (_accept, reject) => { s.refusedForwarding('direct-tcpip'); reject(); });
      client.on('openssh.streamlocal', (_accept, reject) => { s.refusedForwarding('direct-streamlocal'); reject(); });
      client.on('request', (_accept, reject, name) => { s.refusedForwarding(name); reject?.(); });
    });
  }

  /**
   * Authenticates a credential and resolves the connection the user name names (an ssh one).
   * Failures are audited; an unknown connection is told apart only after a valid credential.
   */
  async #authenticate(username: string, credential: string, remote: string): Promise<{ principal: Principal; connection: Connection } | undefined> {
    const svc = this.#svc;
    let principal: Principal;
    try {
      principal = await authenticateAndAudit(svc, credential, { surface: 'ssh', protocol: 'ssh', remote, detail: { connection: username.slice(0, 64) } });
    } catch {
      return undefined;
    }
    const connection = await svc.connections.get(username).catch(() => undefined);
    if (!connection || connection.type !== 'ssh') {
      await svc.audit.append({
        kind: 'auth.failure', outcome: 'unknown_connection', user: principal.id,
        detail: { surface: 'ssh', remote, connection: username.slice(0, 64) },
      }).catch((e: unknown) => { svc.log.error({ err: String(e) }, 'audit append failed'); });
      return undefined;
    }
    return { principal, connection };
  }
}
