import { createServer, type Server, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { SshDeps } from './deps.ts';
import type { Connection } from '../../connections/registry.ts';
import type { Principal } from '../../identity/principal.ts';
import { authenticateAndAudit } from '../../enforce/authenticate.ts';
import { after, type Clock } from '../../kernel/clock.ts';
import { newId } from '../../kernel/ids.ts';
import { defaultDetectors, TextMasker } from '../../masking/text-masker.ts';
import { SshClientSession } from './client-session.ts';
import type { InspectCommandAsync } from '../../shell/inspector.ts';
import { describePrincipal, optionalAgent } from '../../identity/principal.ts';
import { SESSION_RECHECK_MS, SessionRevoker, type RevocableSession } from '../../enforce/session-revoker.ts';
import { sshExitOf } from '../../kernel/errors.ts';

/** Options of an {@link SshListener}. */
export interface SshListenerOptions {
  readonly host: string;
  readonly port: number;
  /** The gateway's host key (OpenSSH private key text), see `loadOrCreateHostKey`. */
  readonly hostKey: string;
  readonly inspect: InspectCommandAsync;
  /** Time a client has to authenticate (ms). */
  readonly authTimeoutMs: number;
  /** Time allowed to connect and log in upstream (ms). */
  readonly upstreamTimeoutMs: number;
  /** How often live connections' API keys are checked again (tests shorten it). */
  readonly credentialRecheckMs?: number;
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
  /** The TCP listener: it hands each socket to ssh2 and times the whole pre-authentication phase. */
  readonly #net: Server;
  /** Sockets not yet authenticated, by `ip:port`: their deadline, cleared on authentication. */
  readonly #unauthenticated = new Map<string, { readonly socket: Socket; readonly cancelDeadline: () => void }>();
  readonly #scanner: TextMasker;
  readonly #clients = new Set<ssh2.Connection>();
  /** Authenticated connections, for the revoker. */
  readonly #live = new Set<RevocableSession>();
  readonly #revoker: SessionRevoker;

  constructor(svc: SshDeps, opts: SshListenerOptions) {
    this.#svc = svc;
    this.#opts = opts;
    this.#scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: svc.masking.hashKey });
    this.#server = new ssh2.Server({ hostKeys: [opts.hostKey], ident: 'Gatehouse' }, (client, info) => { this.#accept(client, info.ip, `${info.ip}:${info.port}`); });
    // ssh2 announces a connection only after the client's identification line: a client that
    // sends nothing (or dribbles it) would never meet a deadline. One deadline from the TCP accept
    // to a successful authentication (server.ssh.auth_timeout) covers every step before it.
    this.#net = createServer((socket) => {
      socket.on('error', () => undefined);
      const key = `${socket.remoteAddress}:${socket.remotePort}`;
      const cancelDeadline = after(svc.clock, opts.authTimeoutMs, () => { socket.destroy(); });
      this.#unauthenticated.set(key, { socket, cancelDeadline });
      socket.once('close', () => { cancelDeadline(); this.#unauthenticated.delete(key); });
      this.#server.injectSocket(socket);
    });
    this.#revoker = new SessionRevoker(svc, () => this.#live, opts.credentialRecheckMs ?? SESSION_RECHECK_MS, 'ssh');
  }

  /** Binds; resolves with the bound address. */
  start(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#net.once('error', reject);
      this.#net.listen(this.#opts.port, this.#opts.host, () => {
        this.#net.off('error', reject);
        this.#revoker.start();
        const a = this.#net.address();
        resolve({ host: this.#opts.host, port: typeof a === 'object' && a ? a.port : this.#opts.port });
      });
    });
  }

  /** Stops accepting and ends every client connection (their sessions are closed in the recording). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => { this.#net.close(() => { resolve(); }); });
    this.#revoker.stop();
    for (const { socket } of this.#unauthenticated.values()) socket.destroy();
    for (const c of this.#clients) c.end();
    await closed;
  }

  #accept(client: ssh2.Connection, remote: string, key: string): void {
    this.#clients.add(client);
    let session: SshClientSession | undefined;
    let attempts = 0;
    let authed: { principal: Principal; connection: Connection } | undefined;
    client.on('error', () => undefined);
    client.on('close', () => {
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
      const pending = this.#unauthenticated.get(key);
      if (pending) { pending.cancelDeadline(); this.#unauthenticated.delete(key); }
      if (!authed) { client.end(); return; }
      const { principal, connection } = authed;
      const release = this.#svc.limits.acquire(this.#svc, 'ssh', principal);
      if (release === undefined) {
        refuseAll(client, this.#svc.clock, `gatehouse: too many SSH connections: ${describePrincipal(principal)} already has ${this.#svc.limits.limiter('ssh').max} open through Gatehouse (limits.per_principal.ssh_sessions); close one and retry`);
        return;
      }
      client.once('close', release);
      const s = new SshClientSession({ svc: this.#svc, inspect: this.#opts.inspect, scanner: this.#scanner, upstreamTimeoutMs: this.#opts.upstreamTimeoutMs }, newId(), authed.principal, authed.connection, remote);
      session = s;
      const live: RevocableSession = {
        principal,
        endRevoked: (keyId, why) => {
          // Once: the revocation arrives from this replica and again through the store's feed.
          if (!this.#live.delete(live)) return;
          try {
            this.#svc.audit.enqueue({
              kind: 'ssh.session_revoked', outcome: 'closed', user: principal.id, ...optionalAgent(principal),
              resource: connection.name, detail: { key_id: keyId, via: principal.via, remote, reason: why },
            });
          } catch (err) {
            // The connection ends whether or not the event could be queued (the audit gate handles the rest).
            this.#svc.log.warn({ err: String(err) }, 'revoked ssh connection not audited');
          }
          s.rec.event('error', { side: 'gateway', error: why === 'expired' ? 'credential expired' : 'credential revoked', key_id: keyId });
          s.close(`credential ${why}`);
          client.end();
        },
      };
      this.#live.add(live);
      client.once('close', () => { this.#live.delete(live); });
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

/**
 * Serves an authenticated connection that is over its principal's limit: every command, shell or
 * subsystem request gets `message` on stderr and exit status 126 (`too_many_requests`), then the connection ends (SSH
 * has no other way to tell a password-authenticated client why). Ends after 10 s regardless.
 */
function refuseAll(client: ssh2.Connection, clock: Clock, message: string): void {
  const bye = after(clock, 10_000, () => { client.end(); });
  client.once('close', bye);
  const refuse = (accept: () => ssh2.ServerChannel): void => {
    const channel = accept();
    channel.once('close', () => { client.end(); });
    try {
      channel.stderr.write(`${message}\n`);
      channel.exit(sshExitOf('too_many_requests'));
      channel.end();
    } catch { client.end(); }
  };
  client.on('session', (accept) => {
    const session = accept();
    session.on('pty', (ok: (() => void) | undefined) => { ok?.(); });
    session.on('env', (ok: (() => void) | undefined) => { ok?.(); });
    session.on('exec', refuse);
    session.on('shell', refuse);
    session.on('subsystem', refuse);
  });
  client.on('tcpip', (_accept, reject) => { reject(); });
  client.on('openssh.streamlocal', (_accept, reject) => { reject(); });
  client.on('request', (_accept, reject) => { reject?.(); });
}
