import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Services } from '../../app/services.ts';
import type { Connection } from '../../connections/registry.ts';
import { optionalAgent, type Principal } from '../../identity/principal.ts';
import { PreparedStatements } from '../../inspect/sql/prepared.ts';
import { DecisionMemo } from '../../policy/decision-memo.ts';
import { isRecording, type RecordEvent } from '../../recording/recorder.ts';
import {
  BE, parseCommandComplete, parseErrorFields, parseReadyForQuery, parseRowDescription, validateBackend,
} from './backend-messages.ts';
import type { FieldDescription } from './backend-messages.ts';
import type { CatalogResolver } from './catalog.ts';
import { errorResponse, ProtocolError, SQLSTATE } from './errors.ts';
import type { Frame, FrameReader } from './frame-reader.ts';
import { FE, parseBind, parseExecute, parseParse, parseQuery, parseTarget, validateFrontend, type BindMessage } from './frontend-messages.ts';
import { ResultTracker } from './result-tracker.ts';
import { RowExcerpt } from './row-excerpt.ts';
import { ResponseMasking } from './response-masking.ts';
import { SerialPump } from './serial-pump.ts';
import { holdStatement, justificationCommand, type HoldResult, type ReviewVerdict } from './review-hold.ts';
import { guardSql, type Verdict } from './statement-guard.ts';
import type { UpstreamSession } from './upstream.ts';
import { emptyMessage, MessageWriter } from './writer.ts';

/** Everything a session is started with. */
export interface SessionInit {
  readonly svc: Services;
  readonly id: string;
  readonly client: Socket;
  readonly clientReader: FrameReader;
  readonly upstream: UpstreamSession;
  readonly principal: Principal;
  readonly connection: Connection;
  readonly catalog: CatalogResolver | undefined;
  readonly onClose: () => void;
}

/** A denial forwarded upstream as a statement that fails at once, so its error lands in order. */
interface Marker { readonly token: string; readonly message: string; readonly code: string; readonly batch: number }

/** A statement held for review: aborted by CancelRequest or the client going away. */
interface Held { readonly ac: AbortController; bytes: number; cancelled: boolean }

const MAX_RECORDED_TEXT = 4096;
/** Client bytes read (and queued) while a statement is held, before the socket is paused. */
const HOLD_BUFFER_LIMIT = 1024 * 1024;
/** Named prepared statements that need a review at Bind (beyond this, such a Parse is denied). */
const MAX_REVIEWABLE = 1000;

/**
 * One proxied PostgreSQL session after authentication. Client messages are validated, every
 * Query and Parse is inspected and authorized before it is forwarded; a denied one is replaced
 * upstream by a statement that fails at once (`GATEHOUSE_DENIED_<nonce>`), whose ErrorResponse
 * is rewritten into SQLSTATE 42501 with the reason — so the error arrives exactly where the
 * statement's own response would have, the server discards the rest of an extended batch until
 * Sync, and ReadyForQuery carries the server's true transaction status. Backend rows are masked
 * one DataRow at a time.
 */
export class PgSession {
  readonly #svc: Services;
  readonly #id: string;
  readonly #client: Socket;
  readonly #up: UpstreamSession;
  readonly #principal: Principal;
  readonly #conn: Connection;
  readonly #onClose: () => void;
  readonly #prepared = new PreparedStatements();
  /** Decisions of this session (one principal, one connection), by facts object and action. */
  readonly #decisions = new DecisionMemo();
  readonly #clientPump: SerialPump;
  readonly #upPump: SerialPump;
  readonly #masking: ResponseMasking;
  readonly #tracker: ResultTracker | undefined;
  readonly #markers: Marker[] = [];
  /** Statements (by name) whose text needs a review; each Bind of them is held. */
  readonly #reviewable = new Map<string, { readonly sql: string; readonly verdict: ReviewVerdict }>();
  /** Batches whose EmptyQueryResponse answers a local `SET gatehouse.justification`. */
  readonly #localSets: { readonly batch: number; readonly tag: string }[] = [];
  #justification: string | undefined;
  #held: Held | undefined;
  #discardUntilSync = false;
  #batchesSent = 0;
  #batchesDone = 0;
  #copyOutBlocked = false;
  #rows = 0;
  /** False when the recorder keeps nothing: events are then not even built. */
  readonly #recording: boolean;
  /** The first rows of the current result as sent, for the recording. */
  readonly #excerpt = new RowExcerpt((t) => this.#maskForRecord(t));
  #startedAt = 0;
  #closed = false;
  /** Transaction status from the last upstream ReadyForQuery. */
  txStatus = 0x49;

  constructor(init: SessionInit) {
    this.#svc = init.svc;
    this.#recording = isRecording(init.svc.recorder);
    this.#id = init.id;
    this.#client = init.client;
    this.#up = init.upstream;
    this.#principal = init.principal;
    this.#conn = init.connection;
    this.#onClose = init.onClose;
    this.#masking = new ResponseMasking(this.#svc.masking, this.#conn.name, init.catalog);
    this.#tracker = this.#masking.active ? new ResultTracker() : undefined;
    const upSocket = this.#up.socket;
    this.#clientPump = new SerialPump(this.#client, (f) => this.#frontend(f), (e) => this.#fail(e, 'client'), () => { while (upSocket.writableCorked > 0) upSocket.uncork(); });
    this.#upPump = new SerialPump(upSocket, (f) => this.#backend(f), (e) => this.#fail(e, 'upstream'), () => { while (this.#client.writableCorked > 0) this.#client.uncork(); });
    const clientReader = init.clientReader;
    this.#client.on('data', (c: Buffer) => {
      try { upSocket.cork(); this.#clientPump.push(clientReader.push(c)); } catch (e) { this.#fail(e, 'client'); }
      const held = this.#held;
      if (held && (held.bytes += c.length) > HOLD_BUFFER_LIMIT) this.#client.pause();
    });
    upSocket.on('data', (c: Buffer) => {
      try { this.#client.cork(); this.#upPump.push(this.#up.reader.push(c)); } catch (e) { this.#fail(e, 'upstream'); }
    });
    // Backpressure: a slow client pauses the upstream, and the other way round.
    this.#client.on('drain', () => upSocket.resume());
    upSocket.on('drain', () => this.#client.resume());
    this.#client.on('close', () => this.close());
    upSocket.on('close', () => this.close());
    this.#client.on('error', () => this.close());
    upSocket.on('error', () => this.close());
    this.#record('session.open', { pid: this.#up.key?.pid ?? null });
    this.#client.resume();
    upSocket.resume();
  }

  #record(type: RecordEvent['type'], data: Record<string, unknown>): void {
    try {
      this.#svc.recorder.record({
        session: this.#id, protocol: 'postgres', type, at: this.#svc.clock.now(), user: this.#principal.id,
        ...optionalAgent(this.#principal), connection: this.#conn.name, data,
      });
    } catch { /* the recorder must never break the data path */ }
  }

  #maskForRecord(text: string): string {
    const t = text.length > MAX_RECORDED_TEXT ? text.slice(0, MAX_RECORDED_TEXT) : text;
    try { return this.#masking.content ? this.#masking.content.mask(t).text : t; } catch { return '[unrecordable]'; }
  }

  #toUpstream(b: Buffer): void {
    if (!this.#up.socket.write(b)) this.#client.pause();
  }

  #toClient(b: Buffer): void {
    if (!this.#client.write(b)) this.#up.socket.pause();
  }

  // ---- client → upstream ------------------------------------------------------------------

  #frontend(f: Frame): void | Promise<void> {
    validateFrontend(f.type, f.body);
    if (this.#discardUntilSync) {
      if (f.type === FE.sync) { this.#discardUntilSync = false; this.#sync(f.raw); }
      else if (f.type === FE.terminate) this.close();
      return;
    }
    switch (f.type) {
      case FE.query: return this.#query(f);
      case FE.parse: return this.#parse(f);
      case FE.bind: {
        const b = parseBind(f.body);
        if (this.#recording) this.#record('request', { message: 'bind', portal: b.portal, name: b.statement, params: b.params.map((p) => (p === null ? null : this.#maskForRecord(p.toString('utf8')))) });
        if (this.#reviewable.has(b.statement)) return this.#heldBind(f, b);
        this.#tracker?.bind(b.portal, b.statement, b.resultFormats);
        this.#toUpstream(f.raw);
        return;
      }
      case FE.describe: {
        const d = parseTarget(f.body);
        this.#tracker?.expect({ kind: 'describe', target: d.target, name: d.name });
        this.#toUpstream(f.raw);
        return;
      }
      case FE.execute: {
        const portal = parseExecute(f.body).portal;
        if (this.#tracker?.needsDescribe(portal)) {
          // Rows must be interpretable to be masked: describe the portal, hidden from the client.
          this.#tracker.expect({ kind: 'describe', target: 'P', name: portal, hidden: true });
          this.#toUpstream(new MessageWriter().byte(0x50).cstring(portal).frame(FE.describe));
        }
        this.#tracker?.expect({ kind: 'execute', portal });
        this.#startedAt = this.#svc.clock.now();
        this.#toUpstream(f.raw);
        return;
      }
      case FE.sync: this.#sync(f.raw); return;
      case FE.functionCall:
        // Fast-path function calls (lo_export …) bypass SQL inspection: always denied.
        this.#deny('Gatehouse denied a fast-path function call (FunctionCall messages are not allowed)', 'query');
        return;
      case FE.password: throw new ProtocolError('unexpected password message');
      case FE.terminate: this.#toUpstream(f.raw); this.close(); return;
      case FE.close: {
        // Closing a statement always succeeds upstream: its name is free again.
        const c = parseTarget(f.body);
        if (c.target === 'S') this.#reviewable.delete(c.name);
        this.#toUpstream(f.raw);
        return;
      }
      default: this.#toUpstream(f.raw); // Flush, CopyData, CopyDone, CopyFail
    }
  }

  #sync(raw: Buffer): void {
    this.#tracker?.expect({ kind: 'sync' });
    this.#batchesSent++;
    this.#toUpstream(raw);
  }

  #query(f: Frame): void | Promise<void> {
    const sql = parseQuery(f.body);
    this.#startedAt = this.#svc.clock.now();
    const local = justificationCommand(sql);
    if (local) { this.#setJustification(local.tag, local.value); return; }
    if (this.#recording) this.#record('request', { message: 'query', statement: this.#maskForRecord(sql) });
    // Synchronous on the fast path (no promise: the pump neither pauses the client nor uncorks).
    const v = guardSql(this.#guardCtx(), sql);
    if (v instanceof Promise) return v.then((verdict) => this.#afterQueryGuard(f, sql, verdict));
    return this.#afterQueryGuard(f, sql, v);
  }

  #afterQueryGuard(f: Frame, sql: string, v: Verdict): void | Promise<void> {
    this.#recordVerdict(v);
    if (!v.ok && v.effect === 'review') return this.#hold(v, sql, undefined).then((held) => { this.#forwardQuery(f, v, held); });
    this.#forwardQuery(f, v, undefined);
  }

  #forwardQuery(f: Frame, v: Verdict, held: HoldResult | undefined): void {
    if (this.#closed) return;
    this.#up.socket.cork();
    if (v.ok || held?.run === true) {
      this.#tracker?.expect({ kind: 'query' });
      this.#batchesSent++;
      this.#toUpstream(f.raw);
    } else if (held) this.#deny(held.message, 'query', held.code);
    else this.#deny(v.message, 'query');
  }

  #parse(f: Frame): void | Promise<void> {
    const p = parseParse(f.body);
    if (this.#recording) this.#record('request', { message: 'parse', name: p.name, statement: this.#maskForRecord(p.sql) });
    const v = guardSql(this.#guardCtx(), p.sql, p.name);
    if (v instanceof Promise) return v.then((verdict) => { this.#afterParseGuard(f, p, verdict); });
    this.#afterParseGuard(f, p, v);
  }

  #afterParseGuard(f: Frame, p: ReturnType<typeof parseParse>, v: Verdict): void {
    this.#recordVerdict(v);
    this.#up.socket.cork();
    // Parsing runs nothing: a statement that needs review is prepared now and held at each Bind,
    // where its parameters are known (the approval is for the exact statement + parameters).
    if (!v.ok && v.effect === 'review' && (p.name === '' || this.#reviewable.has(p.name) || this.#reviewable.size < MAX_REVIEWABLE)) {
      this.#reviewable.set(p.name, { sql: p.sql, verdict: v });
      this.#tracker?.parsed(p.name);
      this.#toUpstream(f.raw);
    } else if (v.ok) {
      // The unnamed statement is replaced by every Parse; a named one keeps needing review until Closed.
      if (p.name === '') this.#reviewable.delete('');
      this.#tracker?.parsed(p.name);
      this.#toUpstream(f.raw);
    } else {
      const message = v.effect === 'review' ? 'Gatehouse denied the statement: too many prepared statements awaiting review in this session' : v.message;
      this.#deny(message, 'parse');
      this.#discardUntilSync = true;
    }
  }

  /** Bind of a statement that needs review: held here, so nothing after it is forwarded meanwhile. */
  async #heldBind(f: Frame, b: BindMessage): Promise<void> {
    const entry = this.#reviewable.get(b.statement);
    if (!entry) throw new Error('reviewable statement vanished');
    const held = await this.#hold(entry.verdict, entry.sql, b.params);
    if (this.#closed) return;
    this.#up.socket.cork();
    if (held.run) {
      this.#tracker?.bind(b.portal, b.statement, b.resultFormats);
      this.#toUpstream(f.raw);
      return;
    }
    this.#deny(held.message, 'bind', held.code);
    this.#discardUntilSync = true;
  }

  /**
   * Holds the statement via the review gate. Earlier messages are flushed upstream first; the
   * client socket keeps being read (bounded) so that its going away aborts the hold.
   */
  async #hold(v: ReviewVerdict, sql: string, params: readonly (Buffer | null)[] | undefined): Promise<HoldResult> {
    const h: Held = { ac: new AbortController(), bytes: 0, cancelled: false };
    this.#held = h;
    while (this.#up.socket.writableCorked > 0) this.#up.socket.uncork();
    // The pump pauses the client while a handler is pending; read on so a close is noticed.
    setImmediate(() => { if (this.#held === h && !this.#closed && h.bytes <= HOLD_BUFFER_LIMIT) this.#client.resume(); });
    try {
      const r = await holdStatement({
        svc: this.#svc, principal: this.#principal, connection: this.#conn.name, justification: this.#justification,
        signal: h.ac.signal, cancelled: () => h.cancelled,
      }, v, sql, params);
      this.#record('review', r.run ? { outcome: 'run', review_ids: r.reviewIds } : { outcome: 'refused', code: r.code, review_id: r.reviewId ?? null, message: r.message });
      return r;
    } finally {
      if (this.#held === h) this.#held = undefined;
    }
  }

  /** CancelRequest for this session: a held statement fails with 57014 (the review stays pending). */
  cancelHold(): void {
    const h = this.#held;
    if (!h) return;
    h.cancelled = true;
    h.ac.abort();
  }

  /**
   * `SET gatehouse.justification`: kept by the session, never sent upstream. An empty query takes
   * its place upstream so the answer (CommandComplete + ReadyForQuery with the true transaction
   * status) lands in order behind anything still in flight.
   */
  #setJustification(tag: 'SET' | 'RESET', value: string | undefined): void {
    this.#justification = value;
    this.#record('request', { message: 'query', statement: `${tag} gatehouse.justification`, local: true });
    this.#localSets.push({ batch: this.#batchesSent, tag });
    this.#tracker?.expect({ kind: 'query' });
    this.#batchesSent++;
    this.#toUpstream(new MessageWriter().cstring('').frame(FE.query));
  }

  #guardCtx(): Parameters<typeof guardSql>[0] {
    return { svc: this.#svc, principal: this.#principal, connection: this.#conn, prepared: this.#prepared, decisions: this.#decisions };
  }

  #recordVerdict(v: Verdict): void {
    if (this.#recording) this.#record('decision', v.ok ? { effect: 'allow', actions: v.actions } : { effect: v.effect, actions: v.actions, reasons: v.reasons });
  }

  /**
   * Sends upstream a message that fails at once (a Query or Parse of an invalid statement, or a
   * Bind of a statement that does not exist); its error is rewritten into `message`.
   */
  #deny(message: string, as: 'query' | 'parse' | 'bind', code: string = SQLSTATE.insufficientPrivilege): void {
    const token = `GATEHOUSE_DENIED_${randomBytes(12).toString('hex')}`;
    this.#markers.push({ token, message, code, batch: this.#batchesSent });
    if (as === 'query') {
      this.#tracker?.expect({ kind: 'query' });
      this.#batchesSent++;
      this.#toUpstream(new MessageWriter().cstring(token).frame(FE.query));
    } else if (as === 'parse') {
      this.#toUpstream(new MessageWriter().cstring('').cstring(token).int16(0).frame(FE.parse));
    } else {
      this.#toUpstream(new MessageWriter().cstring('').cstring(token).int16(0).int16(0).int16(0).frame(FE.bind));
    }
  }

  // ---- upstream → client ------------------------------------------------------------------

  #backend(f: Frame): void | Promise<void> {
    validateBackend(f.type, f.body);
    switch (f.type) {
      case BE.dataRow: return this.#dataRow(f);
      case BE.rowDescription: {
        const fields = parseRowDescription(f.body);
        const hidden = this.#tracker?.rowDescription(fields) ?? false;
        if (this.#recording) this.#excerpt.columns(fields);
        const shape = this.#tracker?.shape();
        const pending = shape ? this.#masking.prepare(shape) : undefined;
        if (hidden) return pending;
        if (pending) return pending.then(() => this.#toClient(f.raw));
        this.#toClient(f.raw);
        return;
      }
      case BE.noData: if (this.#tracker?.rowDescription(null) === true) return; break;
      case BE.commandComplete: case BE.emptyQuery: case BE.portalSuspended: {
        this.#tracker?.completed();
        const local = this.#localSets[0];
        if (f.type === BE.emptyQuery && local?.batch === this.#batchesDone) {
          this.#localSets.shift();
          this.#toClient(new MessageWriter().cstring(local.tag).frame(BE.commandComplete));
          return;
        }
        if (this.#copyOutBlocked && f.type === BE.commandComplete) {
          this.#copyOutBlocked = false;
          this.#toClient(errorResponse({ code: SQLSTATE.insufficientPrivilege, message: 'Gatehouse denied COPY TO STDOUT: the connection has column masking rules' }));
          return;
        }
        if (this.#recording) this.#record('response', {
          tag: f.type === BE.commandComplete ? parseCommandComplete(f.body) : null, rows: this.#rows, ms: this.#svc.clock.now() - this.#startedAt,
          ...this.#excerpt.take(),
        });
        this.#rows = 0;
        break;
      }
      case BE.error: this.#error(f); return;
      case BE.notice: this.#toClient(this.#masking.serverText(f)); return;
      case BE.readyForQuery:
        this.txStatus = parseReadyForQuery(f.body);
        this.#tracker?.ready(this.txStatus);
        this.#batchesDone++;
        while (this.#markers.length > 0 && this.#markers[0]!.batch < this.#batchesDone) this.#markers.shift();
        while (this.#localSets.length > 0 && this.#localSets[0]!.batch < this.#batchesDone) this.#localSets.shift();
        this.#copyOutBlocked = false;
        if (this.#recording) this.#excerpt.take(); // a description without rows (Describe at prepare time) names nothing later
        return this.#readyForQuery(f.raw);
      case BE.copyOutResponse:
        if (this.#masking.columnRules) { this.#copyOutBlocked = true; return; }
        break;
      case BE.copyData:
        if (this.#copyOutBlocked) return;
        this.#toClient(this.#masking.copyData(f));
        return;
      case BE.copyDone: if (this.#copyOutBlocked) return; break;
      case BE.notification:
        this.#toClient(this.#masking.notification(f));
        return;
      case BE.auth: case BE.backendKeyData: throw new ProtocolError('unexpected authentication message from upstream');
      default: break;
    }
    this.#toClient(f.raw);
  }

  /**
   * Durability: the ReadyForQuery that completes a statement's response is held (the pump waits,
   * so order is kept) until everything recorded before is committed. A lost recording ends the
   * session with an error instead of completing an unrecorded response (fail closed).
   */
  #readyForQuery(raw: Buffer): void | Promise<void> {
    if (this.#svc.recorder.flushedNow?.(this.#id) === true) { this.#toClient(raw); return; }
    const flushed = this.#svc.recorder.flush?.(this.#id);
    if (!flushed) { this.#toClient(raw); return; }
    return flushed.then(() => { this.#toClient(raw); }, () => { throw new RecordingError('the session could not be recorded'); });
  }

  #error(f: Frame): void {
    this.#tracker?.error();
    this.#copyOutBlocked = false;
    const marker = this.#markers[0];
    if (marker) {
      const m = parseErrorFields(f.body).get('M') ?? '';
      if (m.includes(marker.token)) {
        this.#markers.shift();
        this.#toClient(errorResponse({ code: marker.code, message: marker.message }));
        return;
      }
    }
    this.#toClient(this.#masking.serverText(f));
  }

  #dataRow(f: Frame): void | Promise<void> {
    this.#rows++;
    if (!this.#tracker) { this.#sendRow(f.raw); return; }
    const shape = this.#tracker.shape();
    if (!shape) throw new MaskingError('a row arrived whose columns are unknown');
    const m = this.#masking.rowMasker(shape);
    if (m instanceof Promise) return m.then((mm) => { this.#sendRow(mm.mask(f.body) ?? f.raw, shape.fields); });
    this.#sendRow(m.mask(f.body) ?? f.raw, shape.fields);
  }

  /** A DataRow frame as the client receives it: sent, and its first rows kept for the recording. */
  #sendRow(frame: Buffer, fields?: readonly FieldDescription[]): void {
    if (this.#recording) this.#excerpt.add(frame.subarray(5), fields);
    this.#toClient(frame);
  }

  // ---- lifecycle --------------------------------------------------------------------------

  #fail(err: unknown, side: 'client' | 'upstream'): void {
    if (this.#closed) return;
    const protocol = err instanceof ProtocolError;
    const masking = err instanceof MaskingError;
    const recording = err instanceof RecordingError;
    this.#svc.log.warn({ session: this.#id, side, err: err instanceof Error ? err.message : String(err) }, 'postgres session failed');
    this.#record('error', { side, error: err instanceof Error ? err.message : String(err) });
    const message = protocol
      ? (side === 'client' ? `protocol violation: ${err.message}` : 'protocol violation by the upstream server')
      : masking ? `Gatehouse could not mask the result: ${err.message}`
        : recording ? 'Gatehouse could not record the session (store unavailable); the result is withheld' : 'Gatehouse internal error';
    while (this.#client.writableCorked > 0) this.#client.uncork();
    this.#client.end(errorResponse({ severity: 'FATAL', code: protocol ? SQLSTATE.protocolViolation : SQLSTATE.internalError, message }));
    this.close();
  }

  /** Ends both sides. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#held?.ac.abort();
    this.#clientPump.stop();
    this.#upPump.stop();
    if (!this.#up.socket.destroyed) this.#up.socket.end(emptyMessage(FE.terminate));
    this.#up.socket.destroySoon();
    if (!this.#client.destroyed) this.#client.end();
    this.#record('session.close', {});
    this.#onClose();
  }
}

/** The recording of the session failed: the statement's completion is withheld and the session ends. */
class RecordingError extends Error {
  override readonly name = 'RecordingError';
}

/** A row could not be masked: the session ends with an error (no unmasked byte goes out). */
class MaskingError extends Error {
  override readonly name = 'MaskingError';
}
