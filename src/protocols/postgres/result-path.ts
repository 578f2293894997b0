import { BE, parseRowDescription, type FieldDescription } from './backend-messages.ts';
import { errorResponse, ProtocolError } from './errors.ts';
import type { Frame } from './frame-reader.ts';
import { FE, type BindMessage } from './frontend-messages.ts';
import type { Plan } from './output-lineage.ts';
import { ResponseMasking } from './response-masking.ts';
import { ResultTracker, type ShapeLineage } from './result-tracker.ts';
import { ColumnMaskError, RowShapeError, type RowMasker } from './row-masker.ts';
import type { SessionLink } from './session-link.ts';
import type { SessionRecording } from './session-recording.ts';
import { MessageWriter } from './writer.ts';
import type { ErrorCode } from '../../kernel/errors.ts';

/** A row could not be masked and the session cannot go on (kept for the session's FATAL path). */
export class MaskingError extends Error {
  override readonly name = 'MaskingError';
  /** The registry code (XX000). */
  readonly code = 'masking_failed' satisfies ErrorCode;
}

/**
 * The backend result path of one session: which shape each DataRow has (a {@link ResultTracker}
 * fed by the frontend messages forwarded), masking rows, CopyData, notifications and server texts
 * ({@link ResponseMasking}), and COPY TO STDOUT on a connection with column rules. With nothing
 * to mask there is no tracker and rows pass through untouched.
 */
export class ResultPath {
  readonly masking: ResponseMasking;
  readonly #link: SessionLink;
  readonly #rec: SessionRecording;
  readonly #tracker: ResultTracker | undefined;
  #copyOutBlocked: 'columns' | 'binary' | false = false;
  /** A statement failed in masking: the server's messages are swallowed until ReadyForQuery. */
  #failed = false;
  /** Output plans of the next Query forwarded (column lineage). */
  #nextPlans: readonly (Plan | undefined)[] | undefined;
  /** The last batch reading a protected column: its server texts are withheld. */
  #sensitive: { batch: number; column: string } | undefined;
  /** A batch reading a protected column (or running a hidden function) was sent: settings may hold its values. */
  #settingsTainted = false;

  constructor(link: SessionLink, masking: ResponseMasking, rec: SessionRecording) {
    this.#link = link;
    this.masking = masking;
    this.#rec = rec;
    this.#tracker = masking.active ? new ResultTracker() : undefined;
  }

  // ---- client → upstream: what was forwarded, in order ------------------------------------

  /** A Query was forwarded (its answer ends with ReadyForQuery). */
  queryForwarded(): void {
    const plans = this.#nextPlans;
    this.#nextPlans = undefined;
    this.#tracker?.query(plans);
  }

  /** The next Query's statements have these output plans (column lineage); call just before forwarding it. */
  planQuery(plans: readonly (Plan | undefined)[]): void { this.#nextPlans = plans; }

  /**
   * The batch being sent (a Query about to be forwarded, or the extended batch in progress) reads
   * a protected column: error and notice texts answering it are withheld.
   */
  markSensitive(column: string): void {
    this.#sensitive = { batch: this.#link.batches.sent, column };
    this.#settingsTainted = true;
  }

  /** A Sync was forwarded. */
  syncForwarded(): void { this.#tracker?.sync(); }

  /** A Parse was forwarded. */
  parsed(_name: string): void { this.#tracker?.interrupt(); }

  /** A Bind was forwarded (a portal is created or replaced). */
  bound(_b: BindMessage): void { this.#tracker?.interrupt(); }

  /** A Describe was forwarded. */
  described(target: 'S' | 'P', name: string): void { this.#tracker?.describe(target, name); }

  /**
   * An Execute is about to be forwarded. Its rows are masked with the answer to a Describe of
   * the portal sent right before it: the client's own when it was the message just before,
   * else one Gatehouse sends now and hides from the client (see {@link ResultTracker}).
   */
  execute(portal: string, lineage?: ShapeLineage): void {
    if (this.#tracker?.execute(portal, lineage)) this.#link.toUpstream(new MessageWriter().byte(0x50).cstring(portal).frame(FE.describe));
  }

  // ---- upstream → client ------------------------------------------------------------------

  rowDescription(f: Frame): void | Promise<void> {
    // Validated by the session (validateBackend); the fields are read only when something uses them.
    if (!this.#tracker && !this.#rec.on) { this.#link.toClient(f.raw); return; }
    const fields = parseRowDescription(f.body);
    const hidden = this.#tracker?.rowDescription(fields) ?? false;
    if (!hidden) this.#rec.columns(fields);
    const shape = this.#tracker?.shape();
    const pending = shape ? this.#settle(() => this.masking.prepare(shape)) : undefined;
    if (hidden) return pending;
    if (pending) return pending.then(() => { if (!this.#failed) this.#link.toClient(f.raw); });
    this.#link.toClient(f.raw);
  }

  /** NoData: true when it answers a hidden Describe (not forwarded). */
  noData(): boolean {
    return this.#tracker?.rowDescription(null) === true;
  }

  dataRow(f: Frame): void | Promise<void> {
    if (!this.#tracker) { this.#sendRow(f.raw, undefined); return; }
    const shape = this.#tracker.shape();
    if (!shape) { this.#failStatement(new RowShapeError('a row arrived that no result description announced')); return; }
    return this.#settle(() => {
      const m = this.masking.rowMasker(shape);
      if (m instanceof Promise) return m.then((mm) => this.#maskedRow(mm, f, shape.fields));
      return this.#maskedRow(m, f, shape.fields);
    });
  }

  #maskedRow(m: RowMasker, f: Frame, fields: readonly FieldDescription[]): void | Promise<void> {
    const out = this.masking.maskRow(m, f.body);
    if (out instanceof Promise) return out.then((o) => { this.#sendRow(o ?? f.raw, fields); });
    this.#sendRow(out ?? f.raw, fields);
  }

  /**
   * Runs a masking step; a failure (sync or async) ends the statement with an error instead of
   * the session, except a malformed message from the server (a protocol error: the session ends).
   */
  #settle(step: () => unknown): void | Promise<void> {
    let r: unknown;
    try { r = step(); } catch (e) { this.#failStatement(e); return; }
    if (r instanceof Promise) return r.then(() => undefined, (e: unknown) => { this.#failStatement(e); });
  }

  /**
   * Ends the current statement with an error (the server's own answer is withheld until its
   * ReadyForQuery, as after a server error), so that no byte of a result that could not be masked
   * reaches the client. The message names the column and the reason, never a value.
   */
  #failStatement(e: unknown): void {
    if (e instanceof ProtocolError) throw e;
    if (this.#failed) return;
    this.#failed = true;
    const column = e instanceof ColumnMaskError;
    const message = column ? e.message : `Gatehouse could not mask the result: ${e instanceof Error ? e.message : String(e)}`;
    this.#rec.event('error', { side: 'upstream', error: message });
    this.#link.toClient(errorResponse({ code: column ? e.code : 'masking_failed', message }));
  }

  /**
   * After a statement failed in masking, the server's messages up to its ReadyForQuery are not
   * forwarded (asynchronous ones — notices, notifications, parameter changes — still are).
   * True when `f` is swallowed. A COPY FROM STDIN that starts meanwhile is failed upstream.
   */
  swallowed(f: Frame): boolean {
    if (!this.#failed) return false;
    switch (f.type) {
      case BE.readyForQuery: this.#failed = false; return false;
      case BE.notice: case BE.notification: case BE.parameterStatus: return false;
      case BE.copyInResponse:
        this.#link.toUpstream(new MessageWriter().cstring('Gatehouse: the statement failed').frame(FE.copyFail));
        return true;
      default: return true;
    }
  }

  #sendRow(frame: Buffer, fields: Parameters<SessionRecording['row']>[1]): void {
    this.#rec.row(frame, fields);
    this.#link.toClient(frame);
  }

  /** CommandComplete, EmptyQueryResponse or PortalSuspended arrived. */
  completed(): void { this.#tracker?.completed(); }

  /**
   * CommandComplete of a blocked COPY TO STDOUT: the client's error instead (else undefined).
   */
  copyCompleted(): Buffer | undefined {
    const blocked = this.#copyOutBlocked;
    if (!blocked) return undefined;
    this.#copyOutBlocked = false;
    return errorResponse(blocked === 'binary'
      ? { code: 'uninspectable_media', message: 'Gatehouse cannot mask COPY TO STDOUT in binary format; use the text or csv format' }
      : { code: 'policy_denied', message: 'Gatehouse denied COPY TO STDOUT: the connection has column masking rules' });
  }

  /**
   * CopyOutResponse: true when blocked — with column rules (its columns cannot be mapped), and
   * in binary COPY format with content rules (its values are not text, and are never passed unread).
   */
  copyOut(f: Frame): boolean {
    if (this.masking.columnRules) this.#copyOutBlocked = 'columns';
    else if (this.masking.content && f.body[0] === 1) this.#copyOutBlocked = 'binary';
    else return false;
    return true;
  }

  /** CopyData as the client receives it, or undefined when the COPY is blocked. */
  copyData(f: Frame): Buffer | undefined {
    return this.#copyOutBlocked ? undefined : this.masking.copyData(f);
  }

  /** CopyDone: false when the COPY is blocked (not forwarded). */
  copyDone(): boolean { return !this.#copyOutBlocked; }

  /** An upstream ErrorResponse arrived (the server skips to Sync). */
  error(): void {
    this.#tracker?.error();
    this.#copyOutBlocked = false;
  }

  /** An ErrorResponse or NoticeResponse as the client receives it (texts masked). */
  serverText(f: Frame): Buffer {
    const s = this.#sensitive;
    if (s && this.#link.batches.done <= s.batch) return this.masking.withheldText(f, s.column);
    return this.masking.serverText(f);
  }

  /** A NotificationResponse as the client receives it (payload masked). */
  notification(f: Frame): Buffer {
    const s = this.#sensitive;
    if (s && this.#link.batches.done <= s.batch) return this.masking.withheldNotification(f, s.column);
    return this.masking.notification(f);
  }

  /**
   * A ParameterStatus as the client receives it. Once a batch reading a protected column was
   * sent, a setting the server reports may hold what that batch's hidden code set it to (and a
   * later COMMIT or ROLLBACK may report it again), so for the rest of the session settings that
   * can carry data are reported as `[REDACTED]` on a connection with column rules.
   */
  parameterStatus(f: Frame): Buffer {
    return this.masking.parameterStatus(f, this.masking.columnRules && this.#settingsTainted);
  }

  /** ReadyForQuery with the server's transaction status. */
  ready(_txStatus: number): void {
    this.#tracker?.ready();
    this.#copyOutBlocked = false;
  }
}
