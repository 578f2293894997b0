import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, systemClock, type Clock } from '../../kernel/clock.ts';
import { GatehouseError, isGatehouseError } from '../../kernel/errors.ts';
import { BE, parseAuth, parseBackendKeyData, parseErrorFields, parseParameterStatus, parseReadyForQuery } from './backend-messages.ts';
import { ProtocolError } from './errors.ts';
import { FrameReader, type Frame } from './frame-reader.ts';
import { PROTOCOL_3, SSL_REQUEST } from './frontend-messages.ts';
import { md5Password, ScramClient } from './scram.ts';
import { MessageWriter } from './writer.ts';

/** Where and how to reach the upstream server, from a connection's URL and vaulted password. */
export interface UpstreamTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string | undefined;
  readonly sslmode: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
}

/** Parses `postgres://user@host:port/db?sslmode=…` (the password comes from the vault). */
export function upstreamTarget(url: string, password: string | undefined): UpstreamTarget {
  const u = new URL(url);
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new GatehouseError('config_invalid', 'connection URL is not postgres://');
  const mode = u.searchParams.get('sslmode') ?? 'disable';
  if (!['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(mode)) {
    throw new GatehouseError('config_invalid', `unsupported sslmode "${mode}"`);
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return {
    host: host || '127.0.0.1', port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username) || 'postgres',
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres',
    password: password ?? (u.password ? decodeURIComponent(u.password) : undefined),
    sslmode: mode === 'allow' ? 'prefer' : mode as UpstreamTarget['sslmode'],
  };
}

/** An authenticated upstream session, ready for queries. */
export interface UpstreamSession {
  readonly socket: Socket | TLSSocket;
  /** The reader, possibly holding bytes that followed ReadyForQuery. */
  readonly reader: FrameReader;
  readonly parameters: ReadonlyMap<string, string>;
  readonly key: { readonly pid: number; readonly secret: number } | undefined;
  /** Transaction status of the first ReadyForQuery. */
  readonly status: number;
}

export interface UpstreamOptions {
  readonly params?: ReadonlyMap<string, string>;
  readonly maxMessage?: number;
  readonly timeoutMs?: number;
  /** Runs the connect, SSLRequest and start-up deadlines (default: real time). */
  readonly clock?: Clock;
}

/**
 * Connects and authenticates to the upstream server: optional TLS (sslmode), then
 * SCRAM-SHA-256, md5, cleartext or trust, then waits for ReadyForQuery. Failures are
 * GatehouseError `upstream_unreachable` (the detail never contains the password).
 *
 * @example
 *   const up = await connectUpstream(upstreamTarget(conn.url, conn.credentials.password?.reveal()));
 */
export async function connectUpstream(t: UpstreamTarget, opts: UpstreamOptions = {}): Promise<UpstreamSession> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const clock = opts.clock ?? systemClock;
  let socket: Socket | TLSSocket = await openSocket(t.host, t.port, timeoutMs, clock);
  try {
    if (t.sslmode !== 'disable') socket = await negotiateTls(socket, t, timeoutMs, clock);
    return await handshake(socket, t, opts, timeoutMs, clock);
  } catch (err) {
    socket.destroy();
    if (isGatehouseError(err)) throw err;
    throw new GatehouseError('upstream_unreachable', `upstream ${t.host}:${t.port}: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
  }
}

function openSocket(host: string, port: number, timeoutMs: number, clock: Clock): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port });
    const cancel = after(clock, timeoutMs, () => { s.destroy(); reject(new Error('connect timed out')); });
    s.once('connect', () => { cancel(); s.setNoDelay(true); s.removeAllListeners('error'); resolve(s); });
    s.once('error', (e) => { cancel(); reject(e); });
  });
}

async function negotiateTls(s: Socket, t: UpstreamTarget, timeoutMs: number, clock: Clock): Promise<Socket | TLSSocket> {
  s.write(new MessageWriter().int32(SSL_REQUEST).untyped());
  const answer = await new Promise<number>((resolve, reject) => {
    const cancel = after(clock, timeoutMs, () => { reject(new Error('SSLRequest timed out')); });
    s.once('data', (b: Buffer) => {
      cancel();
      // A server must not send anything after the answer byte before the handshake (CVE-2021-23222).
      if (b.length !== 1) { reject(new ProtocolError('unexpected data after the SSL answer')); return; }
      resolve(b[0]!);
    });
    s.once('error', (e) => { cancel(); reject(e); });
  });
  if (answer === 0x4e) {
    if (t.sslmode === 'prefer') return s;
    throw new Error('the server does not support TLS (sslmode requires it)');
  }
  if (answer !== 0x53) throw new ProtocolError('invalid answer to SSLRequest');
  const verify = t.sslmode === 'verify-ca' || t.sslmode === 'verify-full';
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({
      socket: s, servername: t.host, rejectUnauthorized: verify,
      ...(t.sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    });
    tls.once('secureConnect', () => { tls.removeAllListeners('error'); resolve(tls); });
    tls.once('error', reject);
  });
}

function handshake(s: Socket | TLSSocket, t: UpstreamTarget, opts: UpstreamOptions, timeoutMs: number, clock: Clock): Promise<UpstreamSession> {
  const reader = new FrameReader({ maxMessage: opts.maxMessage ?? 1024 * 1024 });
  const parameters = new Map<string, string>();
  let key: UpstreamSession['key'];
  let scram: ScramClient | undefined;
  const startup = new MessageWriter().int32(PROTOCOL_3).cstring('user').cstring(t.user).cstring('database').cstring(t.database);
  for (const [k, v] of opts.params ?? []) startup.cstring(k).cstring(v);
  s.write(startup.byte(0).untyped());

  const password = (): string => {
    if (t.password === undefined) throw new Error('the server asks for a password and the connection has none');
    return t.password;
  };
  const onFrame = (f: Frame): UpstreamSession | undefined => {
    switch (f.type) {
      case BE.auth: {
        const { code, data } = parseAuth(f.body);
        if (code === 0) return undefined;
        if (code === 3) s.write(new MessageWriter().cstring(password()).frame(0x70));
        else if (code === 5) s.write(new MessageWriter().cstring(md5Password(t.user, password(), data.subarray(0, 4))).frame(0x70));
        else if (code === 10) {
          if (!data.toString('latin1').split('\0').includes('SCRAM-SHA-256')) throw new Error('no supported SASL mechanism');
          scram = new ScramClient(password());
          const first = Buffer.from(scram.clientFirst());
          s.write(new MessageWriter().cstring('SCRAM-SHA-256').int32(first.length).bytes(first).frame(0x70));
        } else if (code === 11 && scram) s.write(new MessageWriter().bytes(Buffer.from(scram.clientFinal(data.toString('utf8')))).frame(0x70));
        else if (code === 12 && scram) scram.verifyServerFinal(data.toString('utf8'));
        else throw new Error(`unsupported authentication method ${code}`);
        return undefined;
      }
      case BE.parameterStatus: { const p = parseParameterStatus(f.body); parameters.set(p.name, p.value); return undefined; }
      case BE.backendKeyData: key = parseBackendKeyData(f.body); return undefined;
      case BE.notice: case BE.negotiateProtocol: return undefined;
      case BE.error: {
        const e = parseErrorFields(f.body);
        const sqlstate = e.get('C');
        throw new GatehouseError('upstream_unreachable', `upstream refused the session: ${sqlstate ?? ''} ${e.get('M') ?? ''}`.trim(), sqlstate === undefined ? {} : { sqlstate });
      }
      case BE.readyForQuery:
        return { socket: s, reader, parameters, key, status: parseReadyForQuery(f.body) };
      default:
        throw new ProtocolError(`unexpected message 0x${f.type.toString(16)} during startup`);
    }
  };

  return new Promise((resolve, reject) => {
    const cleanup = (): void => { cancelTimer(); s.off('data', onData); s.off('error', onError); s.off('close', onClose); };
    const fail = (e: unknown): void => { cleanup(); reject(e instanceof Error ? e : new Error(String(e))); };
    const onError = (e: Error): void => fail(e);
    const onClose = (): void => fail(new Error('upstream closed the connection during startup'));
    const onData = (chunk: Buffer): void => {
      try {
        for (const f of reader.push(chunk)) {
          const done = onFrame(f);
          if (done) {
            cleanup();
            if (reader.buffered > 0) { fail(new ProtocolError('upstream sent data after ReadyForQuery')); return; }
            s.pause();
            resolve(done);
            return;
          }
        }
      } catch (e) { fail(e); }
    };
    const cancelTimer = after(clock, timeoutMs, () => { fail(new Error('startup timed out')); });
    s.on('data', onData);
    s.on('error', onError);
    s.on('close', onClose);
  });
}
