import type { Socket } from 'node:net';
import type { PostgresDeps } from './deps.ts';
import type { Connection } from '../../connections/registry.ts';
import { after } from '../../kernel/clock.ts';
import { optionalAgent, type Principal } from '../../identity/principal.ts';
import { BE, parseCommandComplete, parseReadyForQuery, validateBackend } from './backend-messages.ts';
import type { CatalogResolver } from './catalog.ts';
import type { FunctionVolatility } from './function-volatility.ts';
import { DenialMarkers } from './denial-markers.ts';
import { errorResponse, MessageLengthError, ProtocolError, SQLSTATE } from './errors.ts';
import type { Frame, FrameReader } from './frame-reader.ts';
import { FE } from './frontend-messages.ts';
import { FrontendGuard } from './frontend-guard.ts';
import { LocalSettings } from './local-settings.ts';
import { ResponseMasking } from './response-masking.ts';
import { MaskingError, ResultPath } from './result-path.ts';
import { SerialPump } from './serial-pump.ts';
import type { SessionLink } from './session-link.ts';
import { StatementNames, type NameOp } from './statement-names.ts';
import { RecordingError, SessionRecording } from './session-recording.ts';
import type { UpstreamSession } from './upstream.ts';
import { emptyMessage } from './writer.ts';
import type { RevokeReason } from '../../enforce/session-revoker.ts';

/** Everything a session is started with. */
export interface SessionInit {
  readonly svc: PostgresDeps;
  readonly id: string;
  readonly client: Socket;
  readonly clientReader: FrameReader;
  readonly upstream: UpstreamSession;
  readonly principal: Principal;
  readonly connection: Connection;
  readonly catalog: CatalogResolver | undefined;
  /** Which functions the upstream marks volatile (statements calling them are writes). */
  readonly volatility?: FunctionVolatility;
  /** The process id in the client's BackendKeyData (its own notifications carry it too). */
  readonly clientPid?: number;
  /** Deadline for one client message, first byte to last (default 60 s). */
  readonly messageTimeoutMs?: number;
  readonly onClose: () => void;
}

/**
 * One proxied PostgreSQL session after authentication: the plumbing. Two serial pumps (client →
 * upstream, upstream → client) with backpressure both ways; each message goes to the part that
 * owns its guarantee:
 * - {@link FrontendGuard}: every client message validated, every Query/Parse authorized before
 *   it is forwarded, reviews held (`statement-hold.ts`);
 * - {@link DenialMarkers}: a denial replaced upstream by a statement that fails at once, its error
 *   rewritten in place (42501 with the reason);
 * - {@link LocalSettings}: `SET gatehouse.justification`, never sent upstream;
 * - {@link ResultPath}: rows, COPY, notices and notifications masked on the way out;
 * - {@link SessionRecording}: what is recorded, and the durability wait at ReadyForQuery.
 */
export class PgSession {
  readonly #svc: PostgresDeps;
  readonly #id: string;
  readonly #client: Socket;
  readonly #up: UpstreamSession;
  readonly #onClose: () => void;
  readonly #clientPid: number | undefined;
  readonly #clientPump: SerialPump;
  readonly #upPump: SerialPump;
  readonly #link: SessionLink;
  readonly #rec: SessionRecording;
  readonly #results: ResultPath;
  readonly #markers: DenialMarkers;
  readonly #settings: LocalSettings;
  readonly #guard: FrontendGuard;
  readonly #names: StatementNames;
  #closed = false;
  /** Running while a client message is incomplete (server.postgres.message_timeout). */
  /** Cancels the running message deadline (on `svc.clock`). */
  #messageTimer: (() => void) | undefined;
  /** Who authenticated this session (its credential's bound API keys decide revocation). */
  readonly principal: Principal;
  readonly #connectionName: string;
  /** Transaction status from the last upstream ReadyForQuery. */
  txStatus = 0x49;

  constructor(init: SessionInit) {
    this.#svc = init.svc;
    this.#id = init.id;
    this.#client = init.client;
    this.#up = init.upstream;
    this.#onClose = init.onClose;
    this.#clientPid = init.clientPid;
    this.principal = init.principal;
    this.#connectionName = init.connection.name;
    const upSocket = this.#up.socket;
    const client = this.#client;
    this.#link = {
      toUpstream: (b) => { if (!upSocket.write(b)) client.pause(); },
      toClient: (b) => { if (!client.write(b)) upSocket.pause(); },
      corkUpstream: () => upSocket.cork(),
      flushUpstream: () => { while (upSocket.writableCorked > 0) upSocket.uncork(); },
      pauseClient: () => client.pause(),
      resumeClient: () => client.resume(),
      isClosed: () => this.#closed,
      batches: { sent: 0, done: 0 },
    };
    const masking = new ResponseMasking(init.svc.masking, init.connection.name, init.catalog);
    this.#rec = new SessionRecording(init.svc, init.id, init.principal, init.connection, masking.content, this.#link.batches);
    this.#results = new ResultPath(this.#link, masking, this.#rec);
    const names = new StatementNames();
    const sendQuery = (raw: Buffer, ops: NameOp[] = []): void => {
      names.query(ops);
      this.#results.queryForwarded();
      this.#link.batches.sent++;
      this.#link.toUpstream(raw);
    };
    const sendSync = (raw: Buffer): void => {
      names.sync();
      this.#rec.sync();
      this.#results.syncForwarded();
      this.#link.batches.sent++;
      this.#link.toUpstream(raw);
    };
    this.#names = names;
    this.#markers = new DenialMarkers(this.#link, sendQuery);
    this.#settings = new LocalSettings(this.#link, sendQuery);
    this.#guard = new FrontendGuard({
      svc: init.svc, principal: init.principal, connection: init.connection, link: this.#link, markers: this.#markers,
      settings: this.#settings, results: this.#results, rec: this.#rec, catalog: init.catalog, sendQuery, sendSync, names,
      ...(init.volatility ? { volatility: init.volatility } : {}), close: () => this.close(),
    });
    this.#clientPump = new SerialPump(client, (f) => this.#guard.frontend(f), (e) => this.#fail(e, 'client'), () => { while (upSocket.writableCorked > 0) upSocket.uncork(); });
    this.#upPump = new SerialPump(upSocket, (f) => this.#backend(f), (e) => this.#fail(e, 'upstream'), () => { while (client.writableCorked > 0) client.uncork(); });
    const clientReader = init.clientReader;
    const messageMs = init.messageTimeoutMs ?? 60_000;
    // A message started must be finished within messageMs. Time the gateway itself is not reading
    // (backpressure, a held statement) does not count: the deadline is re-armed while paused.
    const onMessageDeadline = (): void => {
      this.#messageTimer = undefined;
      if (this.#closed || clientReader.buffered === 0) return;
      if (client.isPaused()) { this.#messageTimer = after(this.#svc.clock, messageMs, onMessageDeadline); return; }
      this.#fail(new ProtocolError(`a message from the client was not completed within ${messageMs / 1000} s (server.postgres.message_timeout)`), 'client');
    };
    client.on('data', (c: Buffer) => {
      let completed = 0;
      try {
        upSocket.cork();
        const frames = clientReader.push(c);
        completed = frames.length;
        this.#clientPump.push(frames);
      } catch (e) { this.#fail(e, 'client'); }
      // The deadline is per message: a message completed in this read ends the running one, and
      // the next (partial) message gets a deadline of its own.
      if (completed > 0 || clientReader.buffered === 0) {
        if (this.#messageTimer) { this.#messageTimer(); this.#messageTimer = undefined; }
      }
      if (clientReader.buffered > 0 && !this.#messageTimer && !this.#closed) {
        this.#messageTimer = after(this.#svc.clock, messageMs, onMessageDeadline);
      }
      if (this.#guard.hold.clientBytes(c.length)) client.pause();
    });
    upSocket.on('data', (c: Buffer) => {
      try { client.cork(); this.#upPump.push(this.#up.reader.push(c)); } catch (e) { this.#fail(e, 'upstream'); }
    });
    // Backpressure: a slow client pauses the upstream, and the other way round.
    client.on('drain', () => upSocket.resume());
    upSocket.on('drain', () => client.resume());
    client.on('close', () => this.close());
    upSocket.on('close', () => this.close());
    client.on('error', () => this.close());
    upSocket.on('error', () => this.close());
    this.#rec.event('session.open', { pid: this.#up.key?.pid ?? null });
    // Read before the client can open a transaction (some upstreams serialize connections).
    init.volatility?.warm();
    client.resume();
    upSocket.resume();
  }

  /** CancelRequest for this session: a held statement fails with 57014 (the review stays pending). */
  cancelHold(): void {
    this.#guard.hold.cancel();
  }

  // ---- upstream → client ------------------------------------------------------------------

  #backend(f: Frame): void | Promise<void> {
    validateBackend(f.type, f.body);
    // A statement that failed in masking: the rest of its answer is withheld until ReadyForQuery.
    if (this.#results.swallowed(f)) return;
    const link = this.#link;
    switch (f.type) {
      case BE.dataRow: return this.#results.dataRow(f);
      // A Describe's answer (a Query's RowDescription counts too: its batch awaits none of these).
      case BE.rowDescription: this.#rec.acknowledged(); return this.#results.rowDescription(f);
      case BE.noData: this.#rec.acknowledged(); if (this.#results.noData()) return; break;
      case BE.parseComplete: this.#names.parseComplete(); this.#rec.acknowledged(); break;
      case BE.bindComplete: this.#rec.acknowledged(); break;
      case BE.closeComplete: this.#names.closeComplete(); break;
      case BE.commandComplete: case BE.emptyQuery: case BE.portalSuspended: {
        if (f.type === BE.commandComplete) this.#names.commandComplete(() => parseCommandComplete(f.body));
        this.#results.completed();
        const local = f.type === BE.emptyQuery ? this.#settings.emptyQuery() : undefined;
        if (local) { link.toClient(local); return; }
        const copyDenied = f.type === BE.commandComplete ? this.#results.copyCompleted() : undefined;
        if (copyDenied) { link.toClient(copyDenied); return; }
        this.#rec.completed(f);
        break;
      }
      case BE.error: {
        this.#names.error();
        this.#results.error();
        const denial = this.#markers.rewrite(f.body);
        if (denial) { link.toClient(denial); return; }
        this.#rec.failed(f.body);
        link.toClient(this.#results.serverText(f));
        return;
      }
      case BE.notice: link.toClient(this.#results.serverText(f)); return;
      case BE.readyForQuery:
        this.txStatus = parseReadyForQuery(f.body);
        link.batches.done++;
        this.#names.ready();
        if (this.txStatus === 0x49 && link.batches.done === link.batches.sent) this.#guard.idle();
        this.#results.ready(this.txStatus);
        this.#markers.ready();
        this.#settings.ready();
        this.#rec.ready();
        return this.#rec.readyForQuery(f.raw, (b) => { link.toClient(b); });
      case BE.copyOutResponse: if (this.#results.copyOut(f)) return; break;
      case BE.copyData: {
        const data = this.#results.copyData(f);
        if (data) link.toClient(data);
        return;
      }
      case BE.copyDone: if (!this.#results.copyDone()) return; break;
      case BE.notification: link.toClient(this.#ownPid(this.#results.notification(f))); return;
      case BE.parameterStatus: link.toClient(this.#results.parameterStatus(f)); return;
      case BE.auth: case BE.backendKeyData: throw new ProtocolError('unexpected authentication message from upstream');
      default: break;
    }
    link.toClient(f.raw);
  }

  /**
   * A NotificationResponse of this session's own backend carries the pid the client was given in
   * BackendKeyData, so that a client recognizes its own notifications (others' are left as sent).
   */
  #ownPid(frame: Buffer): Buffer {
    const up = this.#up.key?.pid;
    if (up === undefined || this.#clientPid === undefined || frame.length < 9 || frame.readInt32BE(5) !== up) return frame;
    const copy = Buffer.from(frame);
    copy.writeInt32BE(this.#clientPid, 5);
    return copy;
  }

  /**
   * The credential of this session is no longer valid (its API key, or a key its token is bound
   * to, was revoked or has expired): audited (`postgres.session_revoked`), recorded, then the
   * client gets FATAL 28000 "credential revoked: …" and both sides are closed (a held statement
   * fails with the session). Idempotent. `keyId`: the dead key, never a secret.
   */
  endRevoked(keyId: string, why: RevokeReason): void {
    if (this.#closed) return;
    try {
      this.#svc.audit.enqueue({
        kind: 'postgres.session_revoked', outcome: 'closed', user: this.principal.id, ...optionalAgent(this.principal),
        resource: this.#connectionName, detail: { session: this.#id, key_id: keyId, via: this.principal.via, reason: why },
      });
    } catch (err) {
      // The session ends whether or not the event could be queued (the audit gate handles the rest).
      this.#svc.log.warn({ session: this.#id, err: String(err) }, 'revoked postgres session not audited');
    }
    this.#rec.event('error', { side: 'gateway', error: why === 'expired' ? 'credential expired' : 'credential revoked', key_id: keyId });
    const message = why === 'expired'
      ? `credential expired: this session's credential (${keyId}) is past its expiry; sign in again`
      : `credential revoked: the API key ${keyId} this session's credential depends on was ${why}`;
    while (this.#client.writableCorked > 0) this.#client.uncork();
    if (!this.#client.destroyed) this.#client.end(errorResponse({ severity: 'FATAL', code: 'invalid_credential', sqlstate: SQLSTATE.invalidAuthorization, message }));
    this.close();
  }

  // ---- lifecycle --------------------------------------------------------------------------

  #fail(err: unknown, side: 'client' | 'upstream'): void {
    if (this.#closed) return;
    const protocol = err instanceof ProtocolError;
    const masking = err instanceof MaskingError;
    const recording = err instanceof RecordingError;
    this.#svc.log.warn({ session: this.#id, side, err: err instanceof Error ? err.message : String(err) }, 'postgres session failed');
    this.#rec.event('error', { side, error: err instanceof Error ? err.message : String(err) });
    const message = err instanceof MessageLengthError && err.limit !== undefined
      ? (side === 'client'
        ? `message of ${err.size} bytes from the client exceeds server.postgres.max_message_size (${err.limit} bytes)`
        : `message of ${err.size} bytes from the upstream server exceeds server.postgres.max_message_size (${err.limit} bytes); raise the limit or fetch less at once`)
      : protocol
      ? (side === 'client' ? `protocol violation: ${err.message}` : 'protocol violation by the upstream server')
      : masking ? `Gatehouse could not mask the result: ${err.message}`
        : recording ? err.message : 'Gatehouse internal error';
    while (this.#client.writableCorked > 0) this.#client.uncork();
    // The registry code of the failure (08P01 for a protocol violation; XX000 for the rest).
    const code = protocol || masking || recording ? err.code : 'internal';
    this.#client.end(errorResponse({ severity: 'FATAL', code, message }));
    this.close();
  }

  /** Ends both sides. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#messageTimer) { this.#messageTimer(); this.#messageTimer = undefined; }
    this.#guard.hold.abort();
    this.#clientPump.stop();
    this.#upPump.stop();
    if (!this.#up.socket.destroyed) this.#up.socket.end(emptyMessage(FE.terminate));
    this.#up.socket.destroySoon();
    if (!this.#client.destroyed) this.#client.end();
    this.#rec.event('session.close', {});
    this.#onClose();
  }
}
