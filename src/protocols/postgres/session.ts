import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Services } from '../../app/services.ts';
import type { Connection } from '../../connections/registry.ts';
import type { Principal } from '../../identity/principal.ts';
import { PreparedStatements } from '../../inspect/sql/prepared.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import type { RecordEvent } from '../../recording/recorder.ts';
import {
  BE, parseCommandComplete, parseErrorFields, parseNotification, parseReadyForQuery, parseRowDescription, validateBackend,
} from './backend-messages.ts';
import type { CatalogResolver } from './catalog.ts';
import { errorResponse, ProtocolError, SQLSTATE } from './errors.ts';
import type { Frame, FrameReader } from './frame-reader.ts';
import { FE, parseBind, parseExecute, parseParse, parseQuery, parseTarget, validateFrontend } from './frontend-messages.ts';
import { ResultTracker, type ResultShape } from './result-tracker.ts';
import { planColumns, RowMasker } from './row-masker.ts';
import { SerialPump } from './serial-pump.ts';
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
interface Marker { readonly token: string; readonly message: string; readonly batch: number }

const MAX_RECORDED_TEXT = 4096;

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
  readonly #catalog: CatalogResolver | undefined;
  readonly #onClose: () => void;
  readonly #prepared = new PreparedStatements();
  readonly #clientPump: SerialPump;
  readonly #upPump: SerialPump;
  readonly #masker: TextMasker | undefined;
  readonly #columnRules: boolean;
  readonly #tracker: ResultTracker | undefined;
  readonly #rowMaskers = new WeakMap<ResultShape, RowMasker>();
  readonly #markers: Marker[] = [];
  #discardUntilSync = false;
  #batchesSent = 0;
  #batchesDone = 0;
  #copyOutBlocked = false;
  #rows = 0;
  #startedAt = 0;
  #closed = false;
  /** Transaction status from the last upstream ReadyForQuery. */
  txStatus = 0x49;

  constructor(init: SessionInit) {
    this.#svc = init.svc;
    this.#id = init.id;
    this.#client = init.client;
    this.#up = init.upstream;
    this.#principal = init.principal;
    this.#conn = init.connection;
    this.#catalog = init.catalog;
    this.#onClose = init.onClose;
    this.#masker = this.#svc.masking.textMasker(this.#conn.name, 'response');
    this.#columnRules = this.#svc.masking.hasColumnRules(this.#conn.name);
    this.#tracker = this.#masker !== undefined || this.#columnRules ? new ResultTracker() : undefined;
    const upSocket = this.#up.socket;
    this.#clientPump = new SerialPump(this.#client, (f) => this.#frontend(f), (e) => this.#fail(e, 'client'), () => { while (upSocket.writableCorked > 0) upSocket.uncork(); });
    this.#upPump = new SerialPump(upSocket, (f) => this.#backend(f), (e) => this.#fail(e, 'upstream'), () => { while (this.#client.writableCorked > 0) this.#client.uncork(); });
    const clientReader = init.clientReader;
    this.#client.on('data', (c: Buffer) => {
      try { upSocket.cork(); this.#clientPump.push(clientReader.push(c)); } catch (e) { this.#fail(e, 'client'); }
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
        ...(this.#principal.agent ? { agent: this.#principal.agent.id } : {}), connection: this.#conn.name, data,
      });
    } catch { /* the recorder must never break the data path */ }
  }

  #maskForRecord(text: string): string {
    const t = text.length > MAX_RECORDED_TEXT ? text.slice(0, MAX_RECORDED_TEXT) : text;
    try { return this.#masker ? this.#masker.mask(t).text : t; } catch { return '[unrecordable]'; }
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
        this.#tracker?.bind(b.portal, b.statement, b.resultFormats);
        this.#record('request', { message: 'bind', portal: b.portal, statement: b.statement, params: b.params.map((p) => (p === null ? null : this.#maskForRecord(p.toString('utf8')))) });
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
      default: this.#toUpstream(f.raw); // Close, Flush, CopyData, CopyDone, CopyFail
    }
  }

  #sync(raw: Buffer): void {
    this.#tracker?.expect({ kind: 'sync' });
    this.#batchesSent++;
    this.#toUpstream(raw);
  }

  async #query(f: Frame): Promise<void> {
    const sql = parseQuery(f.body);
    this.#startedAt = this.#svc.clock.now();
    this.#record('request', { message: 'query', sql: this.#maskForRecord(sql) });
    const v = await guardSql(this.#guardCtx(), sql);
    this.#recordVerdict(v);
    this.#up.socket.cork();
    if (v.ok) {
      this.#tracker?.expect({ kind: 'query' });
      this.#batchesSent++;
      this.#toUpstream(f.raw);
    } else this.#deny(v.message, 'query');
  }

  async #parse(f: Frame): Promise<void> {
    const p = parseParse(f.body);
    this.#record('request', { message: 'parse', statement: p.name, sql: this.#maskForRecord(p.sql) });
    const v = await guardSql(this.#guardCtx(), p.sql, p.name);
    this.#recordVerdict(v);
    this.#up.socket.cork();
    if (v.ok) { this.#tracker?.parsed(p.name); this.#toUpstream(f.raw); }
    else { this.#deny(v.message, 'parse'); this.#discardUntilSync = true; }
  }

  #guardCtx(): Parameters<typeof guardSql>[0] {
    return { svc: this.#svc, principal: this.#principal, connection: this.#conn, prepared: this.#prepared };
  }

  #recordVerdict(v: Verdict): void {
    this.#record('decision', v.ok ? { effect: 'allow', actions: v.actions } : { effect: v.effect, actions: v.actions, reasons: v.reasons });
  }

  /** Sends upstream a statement that fails at once; its error is rewritten into `message`. */
  #deny(message: string, as: 'query' | 'parse'): void {
    const token = `GATEHOUSE_DENIED_${randomBytes(12).toString('hex')}`;
    this.#markers.push({ token, message, batch: this.#batchesSent });
    if (as === 'query') {
      this.#tracker?.expect({ kind: 'query' });
      this.#batchesSent++;
      this.#toUpstream(new MessageWriter().cstring(token).frame(FE.query));
    } else {
      this.#toUpstream(new MessageWriter().cstring('').cstring(token).int16(0).frame(FE.parse));
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
        const pending = this.#tracker ? this.#prepareShape() : undefined;
        if (hidden) return pending;
        if (pending) return pending.then(() => this.#toClient(f.raw));
        this.#toClient(f.raw);
        return;
      }
      case BE.noData: if (this.#tracker?.rowDescription(null) === true) return; break;
      case BE.commandComplete: case BE.emptyQuery: case BE.portalSuspended: {
        this.#tracker?.completed();
        if (this.#copyOutBlocked && f.type === BE.commandComplete) {
          this.#copyOutBlocked = false;
          this.#toClient(errorResponse({ code: SQLSTATE.insufficientPrivilege, message: 'Gatehouse denied COPY TO STDOUT: the connection has column masking rules' }));
          return;
        }
        this.#record('response', { tag: f.type === BE.commandComplete ? parseCommandComplete(f.body) : null, rows: this.#rows, ms: this.#svc.clock.now() - this.#startedAt });
        this.#rows = 0;
        break;
      }
      case BE.error: this.#error(f); return;
      case BE.readyForQuery:
        this.txStatus = parseReadyForQuery(f.body);
        this.#tracker?.ready(this.txStatus);
        this.#batchesDone++;
        while (this.#markers.length > 0 && this.#markers[0]!.batch < this.#batchesDone) this.#markers.shift();
        this.#copyOutBlocked = false;
        break;
      case BE.copyOutResponse:
        if (this.#columnRules) { this.#copyOutBlocked = true; return; }
        break;
      case BE.copyData:
        if (this.#copyOutBlocked) return;
        if (this.#masker) { this.#toClient(this.#maskCopyData(f.body)); return; }
        break;
      case BE.copyDone: if (this.#copyOutBlocked) return; break;
      case BE.notification:
        if (this.#masker) { this.#toClient(this.#maskNotification(f.body)); return; }
        break;
      case BE.auth: case BE.backendKeyData: throw new ProtocolError('unexpected authentication message from upstream');
      default: break;
    }
    this.#toClient(f.raw);
  }

  #error(f: Frame): void {
    this.#tracker?.error();
    this.#copyOutBlocked = false;
    const marker = this.#markers[0];
    if (marker) {
      const m = parseErrorFields(f.body).get('M') ?? '';
      if (m.includes(marker.token)) {
        this.#markers.shift();
        this.#toClient(errorResponse({ code: SQLSTATE.insufficientPrivilege, message: marker.message }));
        return;
      }
    }
    this.#toClient(f.raw);
  }

  /** Resolves the column rules of the current shape (catalog lookups) before its rows arrive. */
  #prepareShape(): Promise<void> | undefined {
    const shape = this.#tracker?.shape();
    if (!shape || this.#rowMaskers.has(shape)) return undefined;
    return this.#maskerFor(shape).then(() => undefined);
  }

  async #maskerFor(shape: ResultShape): Promise<RowMasker> {
    const known = this.#rowMaskers.get(shape);
    if (known) return known;
    const strategies = await Promise.all(shape.fields.map(async (fd) => {
      if (!this.#columnRules || fd.tableOid === 0 || fd.attnum <= 0) return undefined;
      if (!this.#catalog) throw new Error('no catalog resolver for column rules');
      const t = await this.#catalog.table(fd.tableOid);
      const column = t?.columns.get(fd.attnum);
      return t && column !== undefined ? this.#svc.masking.columnStrategy(this.#conn.name, t.schema, t.table, column) : undefined;
    }));
    const m = new RowMasker(planColumns(shape.fields, shape.formats, strategies, this.#masker !== undefined), this.#masker, this.#svc.masking.hashKey);
    this.#rowMaskers.set(shape, m);
    return m;
  }

  #dataRow(f: Frame): void | Promise<void> {
    this.#rows++;
    if (!this.#tracker) { this.#toClient(f.raw); return; }
    const shape = this.#tracker.shape();
    if (!shape) throw new MaskingError('a row arrived whose columns are unknown');
    const m = this.#rowMaskers.get(shape);
    if (m) { this.#toClient(m.mask(f.body) ?? f.raw); return; }
    return this.#maskerFor(shape).then((mm) => this.#toClient(mm.mask(f.body) ?? f.raw));
  }

  #maskCopyData(body: Buffer): Buffer {
    const text = body.toString('utf8');
    const masked = this.#masker!.mask(text).text;
    return masked === text ? new MessageWriter(0).bytes(body).frame(BE.copyData) : new MessageWriter().bytes(Buffer.from(masked, 'utf8')).frame(BE.copyData);
  }

  #maskNotification(body: Buffer): Buffer {
    const n = parseNotification(body);
    return new MessageWriter().int32(n.pid).cstring(n.channel).cstring(this.#masker!.mask(n.payload).text).frame(BE.notification);
  }

  // ---- lifecycle --------------------------------------------------------------------------

  #fail(err: unknown, side: 'client' | 'upstream'): void {
    if (this.#closed) return;
    const protocol = err instanceof ProtocolError;
    const masking = err instanceof MaskingError;
    this.#svc.log.warn({ session: this.#id, side, err: err instanceof Error ? err.message : String(err) }, 'postgres session failed');
    this.#record('error', { side, error: err instanceof Error ? err.message : String(err) });
    const message = protocol
      ? (side === 'client' ? `protocol violation: ${err.message}` : 'protocol violation by the upstream server')
      : masking ? `Gatehouse could not mask the result: ${err.message}` : 'Gatehouse internal error';
    while (this.#client.writableCorked > 0) this.#client.uncork();
    this.#client.end(errorResponse({ severity: 'FATAL', code: protocol ? SQLSTATE.protocolViolation : SQLSTATE.internalError, message }));
    this.close();
  }

  /** Ends both sides. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clientPump.stop();
    this.#upPump.stop();
    if (!this.#up.socket.destroyed) this.#up.socket.end(emptyMessage(FE.terminate));
    this.#up.socket.destroySoon();
    if (!this.#client.destroyed) this.#client.end();
    this.#record('session.close', {});
    this.#onClose();
  }
}

/** A row could not be masked: the session ends with an error (no unmasked byte goes out). */
class MaskingError extends Error {
  override readonly name = 'MaskingError';
}
