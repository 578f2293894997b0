import { parseRowDescription, type FieldDescription } from './backend-messages.ts';
import { errorResponse, SQLSTATE } from './errors.ts';
import type { Frame } from './frame-reader.ts';
import { FE, type BindMessage } from './frontend-messages.ts';
import { ResponseMasking } from './response-masking.ts';
import { ResultTracker } from './result-tracker.ts';
import type { RowMasker } from './row-masker.ts';
import type { SessionLink } from './session-link.ts';
import type { SessionRecording } from './session-recording.ts';
import { MessageWriter } from './writer.ts';

/** A row could not be masked: the session ends with an error (no unmasked byte goes out). */
export class MaskingError extends Error {
  override readonly name = 'MaskingError';
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
  #copyOutBlocked = false;

  constructor(link: SessionLink, masking: ResponseMasking, rec: SessionRecording) {
    this.#link = link;
    this.masking = masking;
    this.#rec = rec;
    this.#tracker = masking.active ? new ResultTracker() : undefined;
  }

  // ---- client → upstream: what was forwarded, in order ------------------------------------

  /** A Query was forwarded (its answer ends with ReadyForQuery). */
  queryForwarded(): void { this.#tracker?.expect({ kind: 'query' }); }

  /** A Sync was forwarded. */
  syncForwarded(): void { this.#tracker?.expect({ kind: 'sync' }); }

  /** A Parse was forwarded (the statement's shape is new). */
  parsed(name: string): void { this.#tracker?.parsed(name); }

  /** A Bind was forwarded. */
  bound(b: BindMessage): void { this.#tracker?.bind(b.portal, b.statement, b.resultFormats); }

  /** A Describe was forwarded. */
  described(target: 'S' | 'P', name: string): void { this.#tracker?.expect({ kind: 'describe', target, name }); }

  /**
   * An Execute is about to be forwarded. Rows must be interpretable to be masked: when neither
   * the portal nor its statement was described, a Describe of the portal is sent first, hidden
   * from the client.
   */
  execute(portal: string): void {
    if (this.#tracker?.needsDescribe(portal)) {
      this.#tracker.expect({ kind: 'describe', target: 'P', name: portal, hidden: true });
      this.#link.toUpstream(new MessageWriter().byte(0x50).cstring(portal).frame(FE.describe));
    }
    this.#tracker?.expect({ kind: 'execute', portal });
  }

  // ---- upstream → client ------------------------------------------------------------------

  rowDescription(f: Frame): void | Promise<void> {
    const fields = parseRowDescription(f.body);
    const hidden = this.#tracker?.rowDescription(fields) ?? false;
    this.#rec.columns(fields);
    const shape = this.#tracker?.shape();
    const pending = shape ? this.masking.prepare(shape) : undefined;
    if (hidden) return pending;
    if (pending) return pending.then(() => this.#link.toClient(f.raw));
    this.#link.toClient(f.raw);
  }

  /** NoData: true when it answers a hidden Describe (not forwarded). */
  noData(): boolean {
    return this.#tracker?.rowDescription(null) === true;
  }

  dataRow(f: Frame): void | Promise<void> {
    if (!this.#tracker) { this.#sendRow(f.raw, undefined); return; }
    const shape = this.#tracker.shape();
    if (!shape) throw new MaskingError('a row arrived whose columns are unknown');
    const m = this.masking.rowMasker(shape);
    if (m instanceof Promise) return m.then((mm) => this.#maskedRow(mm, f, shape.fields));
    return this.#maskedRow(m, f, shape.fields);
  }

  #maskedRow(m: RowMasker, f: Frame, fields: readonly FieldDescription[]): void | Promise<void> {
    const out = this.masking.maskRow(m, f.body);
    if (out instanceof Promise) return out.then((o) => { this.#sendRow(o ?? f.raw, fields); });
    this.#sendRow(out ?? f.raw, fields);
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
    if (!this.#copyOutBlocked) return undefined;
    this.#copyOutBlocked = false;
    return errorResponse({ code: SQLSTATE.insufficientPrivilege, message: 'Gatehouse denied COPY TO STDOUT: the connection has column masking rules' });
  }

  /** CopyOutResponse: true when blocked (column rules: its columns cannot be mapped). */
  copyOut(): boolean {
    if (!this.masking.columnRules) return false;
    this.#copyOutBlocked = true;
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
  serverText(f: Frame): Buffer { return this.masking.serverText(f); }

  /** A NotificationResponse as the client receives it (payload masked). */
  notification(f: Frame): Buffer { return this.masking.notification(f); }

  /** ReadyForQuery with the server's transaction status. */
  ready(txStatus: number): void {
    this.#tracker?.ready(txStatus);
    this.#copyOutBlocked = false;
  }
}
