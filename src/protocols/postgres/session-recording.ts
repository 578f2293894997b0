import type { PostgresDeps } from './deps.ts';
import type { Connection } from '../../connections/registry.ts';
import type { Principal } from '../../identity/principal.ts';
import { RecordingTap } from '../../enforce/tap.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import type { RecordEvent } from '../../recording/recorder.ts';
import { parseCommandComplete, BE } from './backend-messages.ts';
import type { FieldDescription } from './backend-messages.ts';
import type { Frame } from './frame-reader.ts';
import { RowExcerpt } from './row-excerpt.ts';
import type { Verdict } from '../../sql/guard.ts';
import type { ErrorCode } from '../../kernel/errors.ts';

/** The PostgreSQL text limit: most characters of one recorded statement or value. */
const MAX_RECORDED_TEXT = 4096;

/** The recording of the session failed: the statement's completion is withheld and the session ends. */
export class RecordingError extends Error {
  override readonly name = 'RecordingError';
  /** The registry code (the recording store failed; XX000). */
  readonly code = 'store_unavailable' satisfies ErrorCode;
}

/**
 * What one PostgreSQL session records: requests (texts content-masked, ≤ 4 KiB), decisions,
 * review outcomes, responses (tag, rows, ms, the first rows as the client received them) and the
 * session's lifecycle. Recording never breaks the data path, except that a ReadyForQuery waits
 * until everything recorded before it is committed ({@link readyForQuery}).
 */
export class SessionRecording {
  /** False when the recorder keeps nothing: events are then not even built. */
  readonly on: boolean;
  readonly #svc: PostgresDeps;
  readonly #id: string;
  readonly #tap: RecordingTap;
  /** The first rows of the current result as sent. */
  readonly #excerpt = new RowExcerpt((t) => this.text(t));
  #rows = 0;
  #startedAt = 0;

  constructor(svc: PostgresDeps, id: string, principal: Principal, conn: Connection, content: TextMasker | undefined) {
    this.#svc = svc;
    this.#id = id;
    this.#tap = new RecordingTap(svc, id, { protocol: 'postgres', principal, connection: conn.name, textLimit: MAX_RECORDED_TEXT, masker: content });
    this.on = this.#tap.on;
  }

  /** Records one event (a recorder failure is logged, never thrown into the data path). */
  event(type: RecordEvent['type'], data: Record<string, unknown>): void {
    this.#tap.event(type, data);
  }

  /** A client text as recorded: at most 4 KiB, content-masked; `[unrecordable]` when masking fails. */
  text(text: string): string {
    return this.#tap.text(text);
  }

  /** A decision of the guard. */
  verdict(v: Verdict): void {
    // Keys in canonical (sorted) order: the recorder then serializes with JSON.stringify.
    if (this.on) this.event('decision', v.ok ? { actions: v.actions, effect: 'allow' } : { actions: v.actions, effect: v.effect, reasons: v.reasons });
  }

  /** A statement starts running (Query or Execute forwarded): its response's `ms` counts from now. */
  started(): void {
    this.#startedAt = this.#svc.clock.now();
  }

  /** A RowDescription as sent (names the excerpt's columns). */
  columns(fields: readonly FieldDescription[]): void {
    if (this.on) this.#excerpt.columns(fields);
  }

  /** A DataRow frame as the client receives it. */
  row(frame: Buffer, fields: readonly FieldDescription[] | undefined): void {
    this.#rows++;
    if (this.on) this.#excerpt.add(frame.subarray(5), fields);
  }

  /** CommandComplete, EmptyQueryResponse or PortalSuspended as forwarded: one `response` event. */
  completed(f: Frame): void {
    if (this.on) {
      const x = this.#excerpt.take();
      // Keys in canonical (sorted) order: the recorder then serializes with JSON.stringify.
      this.event('response', {
        ...(x?.columns === undefined ? {} : { columns: x.columns }), ms: this.#svc.clock.now() - this.#startedAt, rows: this.#rows,
        ...(x === undefined ? {} : { sample: x.sample, sample_truncated: x.sample_truncated }),
        tag: f.type === BE.commandComplete ? parseCommandComplete(f.body) : null,
      });
    }
    this.#rows = 0;
  }

  /** ReadyForQuery: a description without rows (Describe at prepare time) names nothing later. */
  ready(): void {
    if (this.on) this.#excerpt.take();
  }

  /**
   * Durability: the ReadyForQuery that completes a statement's response is held (the pump waits,
   * so order is kept) until everything recorded before is committed. A lost recording ends the
   * session with an error instead of completing an unrecorded response (fail closed).
   */
  readyForQuery(raw: Buffer, send: (b: Buffer) => void): void | Promise<void> {
    if (this.#svc.recorder.flushedNow?.(this.#id) === true) { send(raw); return; }
    const flushed = this.#svc.recorder.flush?.(this.#id);
    if (!flushed) { send(raw); return; }
    return flushed.then(() => { send(raw); }, () => { throw new RecordingError('the session could not be recorded'); });
  }
}
