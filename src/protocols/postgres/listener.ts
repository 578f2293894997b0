import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { PostgresDeps } from './deps.ts';
import type { Connection } from '../../connections/registry.ts';
import { describePrincipal } from '../../identity/principal.ts';
import { after } from '../../kernel/clock.ts';
import { newId } from '../../kernel/ids.ts';
import { CancelMap } from './cancel-map.ts';
import { CatalogResolver } from './catalog.ts';
import { FunctionVolatility } from './function-volatility.ts';
import { DEFAULT_MAX_MESSAGE } from './frame-reader.ts';
import { clientHandshake, HandshakeError, rejectClient } from './handshake.ts';
import { PgSession } from './session.ts';
import { SessionRevoker } from '../../enforce/session-revoker.ts';
import { connectUpstream, upstreamTarget } from './upstream.ts';
import { MessageWriter, readyForQuery } from './writer.ts';
import { upstreamFailureReason } from './upstream-reason.ts';

/** Options of a {@link PostgresListener}. */
export interface PostgresListenerOptions {
  readonly host: string;
  readonly port: number;
  /** `server.tls`: PEM file paths; enables SSLRequest → TLS. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Accept cleartext passwords without TLS (loopback-only listener or `allow_insecure_auth`). */
  readonly insecureAuthOk: boolean;
  /** Largest message either side may send (default 64 MiB). */
  readonly maxMessage?: number;
  /** Startup phase deadline (default 30 s). */
  readonly startupTimeoutMs?: number;
  /** Deadline for one client message once signed in (default 60 s). */
  readonly messageTimeoutMs?: number;
  /** `server.postgres.safe_functions`. */
  readonly safeFunctions?: readonly string[];
  /** How often open sessions' API keys are re-checked (ms; default 30 000; 0: only on revocation events). */
  readonly credentialRecheckMs?: number;
}

/**
 * The PostgreSQL wire-protocol listener (`server.postgres.listen`): handshake, upstream session,
 * then a {@link PgSession} per client. Errors on one connection never reach the process.
 *
 * @example
 *   const pg = new PostgresListener(services, { host: '127.0.0.1', port: 15432, insecureAuthOk: true });
 *   const { port } = await pg.start(); … await pg.close();
 */
export class PostgresListener {
  readonly #svc: PostgresDeps;
  readonly #opts: PostgresListenerOptions;
  readonly #server: Server;
  readonly #secure: SecureContext | undefined;
  readonly #cancels = new CancelMap();
  readonly #catalogs = new Map<string, CatalogResolver>();
  readonly #volatility = new Map<string, FunctionVolatility>();
  readonly #sessions = new Set<PgSession>();
  readonly #sockets = new Set<Socket>();
  readonly #revoker: SessionRevoker;

  constructor(svc: PostgresDeps, opts: PostgresListenerOptions) {
    this.#svc = svc;
    this.#opts = opts;
    this.#secure = opts.tls ? createSecureContext({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }) : undefined;
    this.#revoker = new SessionRevoker(svc, () => this.#sessions, opts.credentialRecheckMs);
    this.#server = createServer({ pauseOnConnect: true, noDelay: true }, (s) => { void this.#accept(s); });
  }

  /** Binds; resolves with the bound address. Live sessions end when their credential is revoked. */
  start(): Promise<{ host: string; port: number }> {
    this.#revoker.start();
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        this.#server.off('error', reject);
        const a = this.#server.address();
        resolve({ host: this.#opts.host, port: typeof a === 'object' && a ? a.port : this.#opts.port });
      });
    });
  }

  /** Number of open proxied sessions. */
  get sessions(): number {
    return this.#sessions.size;
  }

  async #accept(socket: Socket): Promise<void> {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    const maxMessage = this.#opts.maxMessage ?? DEFAULT_MAX_MESSAGE;
    const startupMs = this.#opts.startupTimeoutMs ?? 10_000;
    // One deadline for the whole startup phase (encryption requests, TLS handshake, startup
    // message, password, authentication): a client that dawdles anywhere in it is dropped.
    const cancelDeadline = after(this.#svc.clock, startupMs, () => { socket.destroy(); });
    let release: (() => void) | undefined;
    try {
      const hello = await clientHandshake(this.#svc, socket, {
        secureContext: this.#secure, insecureAuthOk: this.#opts.insecureAuthOk, maxMessage,
        timeoutMs: startupMs,
        onCancel: (pid, secret) => { this.#cancels.cancel(pid, secret); },
      }).finally(cancelDeadline);
      if (!hello) return;
      release = this.#svc.limits.acquire(this.#svc, 'postgres', hello.principal);
      if (release === undefined) {
        throw new HandshakeError('too_many_requests', `too many connections: ${describePrincipal(hello.principal)} already has ${this.#svc.limits.limiter('postgres').max} Gatehouse sessions open (limits.per_principal.postgres_sessions)`);
      }
      const target = upstreamTarget(hello.connection.url, hello.connection.credentials.password?.reveal());
      let upstream;
      try {
        upstream = await connectUpstream(target, { params: hello.params, maxMessage, clock: this.#svc.clock });
      } catch (err) {
        this.#svc.log.warn({ connection: hello.connection.name, err: err instanceof Error ? err.message : String(err) }, 'postgres upstream connection failed');
        throw new HandshakeError('upstream_unreachable', `Gatehouse could not connect to the upstream of "${hello.connection.name}": ${upstreamFailureReason(err)}`);
      }
      if (hello.source.hasPending) { upstream.socket.destroy(); throw new HandshakeError('bad_request', 'protocol violation: data before authentication completed'); }
      hello.source.detach();
      // From here the session owns the unit: it gives it back when it closes.
      const sessionRelease = release;
      release = undefined;
      const ref: { session?: PgSession } = {};
      const key = this.#cancels.register(upstream.key && { host: target.host, port: target.port, ...upstream.key }, () => ref.session?.cancelHold());
      const out = new MessageWriter();
      const parts = [out.int32(0).frame(0x52)];
      for (const [k, v] of upstream.parameters) parts.push(out.cstring(k).cstring(v).frame(0x53));
      parts.push(out.int32(key.pid).int32(key.secret).frame(0x4b), readyForQuery(upstream.status));
      hello.socket.write(Buffer.concat(parts));
      const session: PgSession = new PgSession({
        svc: this.#svc, id: newId(), client: hello.socket, clientReader: hello.source.reader, upstream,
        principal: hello.principal, connection: hello.connection, catalog: this.#catalogFor(hello.connection),
        volatility: this.#volatilityFor(hello.connection), clientPid: key.pid,
        messageTimeoutMs: this.#opts.messageTimeoutMs ?? 60_000,
        onClose: () => { this.#sessions.delete(session); this.#cancels.unregister(key); sessionRelease(); },
      });
      ref.session = session;
      this.#sessions.add(session);
    } catch (err) {
      release?.();
      rejectClient(socket, err);
    }
  }

  #catalogFor(c: Connection): CatalogResolver | undefined {
    // Column rules need table names; content rules need the binary layout of non-builtin types
    // (enums, domains, extension types). The catalog connects on first use only.
    if (!this.#svc.masking.hasColumnRules(c.name) && !this.#svc.masking.textMasker(c.name, 'response')) return undefined;
    return this.#resolverFor(c);
  }

  #resolverFor(c: Connection): CatalogResolver {
    const key = `${c.name}\0${c.url}`;
    let r = this.#catalogs.get(key);
    if (!r) {
      r = new CatalogResolver(upstreamTarget(c.url, c.credentials.password?.reveal()), { clock: this.#svc.clock });
      this.#catalogs.set(key, r);
    }
    return r;
  }

  /** Every connection's statements are checked for volatile functions (one catalog read per minute). */
  #volatilityFor(c: Connection): FunctionVolatility {
    const key = `${c.name}\0${c.url}`;
    let v = this.#volatility.get(key);
    if (!v) {
      const catalog = this.#resolverFor(c);
      v = new FunctionVolatility((sql) => catalog.rows(sql), { clock: this.#svc.clock, safe: this.#opts.safeFunctions ?? [] });
      this.#volatility.set(key, v);
    }
    return v;
  }

  /** Stops accepting, ends every session and closes catalog connections. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#revoker.stop();
    for (const s of this.#sessions) s.close();
    for (const s of this.#sockets) s.destroy();
    for (const c of this.#catalogs.values()) c.close();
    await closed;
  }
}
