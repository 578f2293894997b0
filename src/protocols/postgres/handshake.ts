import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { PostgresDeps } from './deps.ts';
import type { Connection } from '../../connections/registry.ts';
import type { Principal } from '../../identity/principal.ts';
import { GatehouseError, isGatehouseError, type ErrorCode } from '../../kernel/errors.ts';
import { authenticateAndAudit } from '../../enforce/authenticate.ts';
import { errorResponse, MessageLengthError, ProtocolError, SQLSTATE, type Sqlstate } from './errors.ts';
import { FrameReader, type Frame } from './frame-reader.ts';
import { FE, parsePassword, parseStartup } from './frontend-messages.ts';
import { FrameSource } from './frame-source.ts';
import { filterStartupParams } from './startup-params.ts';
import { MessageWriter } from './writer.ts';

/** Listener settings the handshake needs. */
export interface HandshakeOptions {
  readonly secureContext: SecureContext | undefined;
  /** Cleartext passwords are accepted without TLS (loopback-only listener, or allow_insecure_auth). */
  readonly insecureAuthOk: boolean;
  readonly maxMessage: number;
  readonly timeoutMs: number;
  readonly onCancel: (pid: number, secret: number) => void;
}

/** An authenticated client, ready for its upstream session. */
export interface ClientHello {
  readonly socket: Socket;
  readonly source: FrameSource;
  readonly principal: Principal;
  readonly connection: Connection;
  readonly params: ReadonlyMap<string, string>;
  readonly tls: boolean;
}

/**
 * A handshake failure the client is told about (FATAL ErrorResponse), then the socket closes:
 * its registry `code`, sent as that code's SQLSTATE or as `sqlstate` when the site names a more
 * specific one (3D000 for an unknown database, 0A000 for an unsupported startup parameter).
 */
export class HandshakeError extends Error {
  readonly code: ErrorCode;
  readonly sqlstate: Sqlstate | undefined;
  constructor(code: ErrorCode, message: string, sqlstate?: Sqlstate) {
    super(message);
    this.code = code;
    this.sqlstate = sqlstate;
  }
}

async function startTls(socket: Socket, ctx: SecureContext): Promise<TLSSocket> {
  const tls = new TLSSocket(socket, { isServer: true, secureContext: ctx });
  await new Promise<void>((resolve, reject) => {
    tls.once('secure', resolve);
    tls.once('error', reject);
  });
  tls.removeAllListeners('error');
  return tls;
}

/**
 * Runs the startup phase of one client connection: SSLRequest (TLS when configured, else `N`),
 * GSSENCRequest (`N`), CancelRequest (forwarded through `onCancel`), StartupMessage, then the
 * cleartext password — a Gatehouse credential — authenticated by `svc.authenticator`. The
 * database name selects the connection (unknown or not `postgres` → 3D000, after authentication
 * so that names do not leak). Returns undefined for a CancelRequest.
 */
export async function clientHandshake(svc: PostgresDeps, raw: Socket, opts: HandshakeOptions): Promise<ClientHello | undefined> {
  let socket: Socket = raw;
  let tls = false;
  let source = new FrameSource(socket, new FrameReader({ untyped: true, maxMessage: opts.maxMessage }), svc.clock);
  let startup: ReadonlyMap<string, string> | undefined;
  for (let round = 0; round < 3 && !startup; round++) {
    const m = parseStartup((await startupPacket(source, opts.timeoutMs)).body);
    if (m.kind === 'cancel') { source.detach(); opts.onCancel(m.pid, m.secret); raw.end(); return undefined; }
    if (m.kind === 'startup') { startup = m.params; break; }
    // Anything sent after SSLRequest/GSSENCRequest before our answer would be injected (CVE-2021-23214).
    if (source.hasPending) throw new ProtocolError('unexpected data after an encryption request');
    if (m.kind === 'ssl' && opts.secureContext && !tls) {
      source.detach();
      raw.write('S');
      socket = await startTls(raw, opts.secureContext);
      tls = true;
      source = new FrameSource(socket, new FrameReader({ untyped: true, maxMessage: opts.maxMessage }), svc.clock);
    } else {
      socket.write('N');
    }
  }
  if (!startup) throw new ProtocolError('expected a StartupMessage');
  const user = startup.get('user');
  if (user === undefined || user === '') throw new HandshakeError('unauthenticated', 'no user name in the startup packet');
  const database = startup.get('database') ?? user;
  const filtered = filterStartupParams(startup);
  if (!filtered.ok) throw new HandshakeError('bad_request', filtered.error, SQLSTATE.featureNotSupported);
  if (!tls && !opts.insecureAuthOk) {
    throw new HandshakeError('unauthenticated', 'Gatehouse requires TLS (sslmode=require) to accept a password on this listener');
  }

  socket.write(new MessageWriter().int32(3).frame(0x52)); // AuthenticationCleartextPassword
  source.reader.typed();
  const pw = await source.next(opts.timeoutMs);
  if (pw.type !== FE.password) throw new ProtocolError('expected a password message');
  let principal: Principal;
  let password: string | undefined;
  let malformed: unknown;
  try {
    password = parsePassword(pw.body);
  } catch (err) {
    malformed = err;
  }
  try {
    principal = await authenticateAndAudit(svc, password, {
      surface: 'postgres', protocol: 'postgres', remote: raw.remoteAddress ?? null, detail: { database },
      missing: () => isGatehouseError(malformed) ? malformed : new GatehouseError('invalid_credential'),
    });
  } catch {
    throw new HandshakeError('invalid_credential', `Gatehouse authentication failed for user "${user}"`);
  }
  const connection = await svc.connections.get(database);
  if (!connection || connection.type !== 'postgres') {
    throw new HandshakeError('not_found', `database "${database}" does not exist (no postgres connection of that name in Gatehouse)`, SQLSTATE.invalidCatalogName);
  }
  return { socket, source, principal, connection, params: filtered.forward, tls };
}

/**
 * The next startup-phase packet. One whose length is impossible — e.g. a Terminate sent where the
 * startup packet belongs (a driver closing at once) — ends the connection silently, as
 * PostgreSQL does (it only logs "invalid length of startup packet").
 */
async function startupPacket(source: FrameSource, timeoutMs: number): Promise<Frame> {
  try {
    return await source.next(timeoutMs);
  } catch (err) {
    if (err instanceof MessageLengthError && err.startup) throw new SilentClose(err.message);
    throw err;
  }
}

/** The connection ends without an answer (what PostgreSQL does for an invalid startup packet). */
export class SilentClose extends Error {
  override readonly name = 'SilentClose';
  /** The registry code (an invalid startup packet; nothing is sent). */
  readonly code = 'bad_request' satisfies ErrorCode;
}

/** Writes a FATAL error for a failed handshake and closes the socket (a {@link SilentClose}: no error). */
export function rejectClient(socket: Socket, err: unknown): void {
  if (err instanceof SilentClose) { socket.destroy(); return; }
  const e = err instanceof HandshakeError ? err
    : err instanceof ProtocolError ? new HandshakeError(err.code, `protocol violation: ${err.message}`)
    : new HandshakeError('internal', 'Gatehouse could not open the session', SQLSTATE.connectionFailure);
  if (socket.writable) socket.end(errorResponse({ severity: 'FATAL', code: e.code, ...(e.sqlstate === undefined ? {} : { sqlstate: e.sqlstate }), message: e.message }));
  socket.destroySoon();
}
