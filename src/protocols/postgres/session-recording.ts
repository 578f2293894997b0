import type { PostgresDeps } from './deps.ts';
import type { Connection } from '../../connections/registry.ts';
import type { Principal } from '../../identity/principal.ts';
import { RecordingTap } from '../../enforce/tap.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import type { RecordEvent } from '../../recording/recorder.ts';
import { parseCommandComplete, parseErrorFields, BE } from './backend-messages.ts';
import type { FieldDescription } from './backend-messages.ts';
import type { Frame } from './frame-reader.ts';
import type { SessionLink } from './session-link.ts';
import { RowExcerpt } from './row-excerpt.ts';
import type { Verdict } from '../../sql/guard.ts';
import { GatehouseError, type ErrorCode } from '../../kernel/errors.ts';
import { after } from '../../kernel/clock.ts';
import { jsonBound, jsonBytes, stringBytes } from '../../recording/json-bytes.ts';

/** The PostgreSQL text limit: most characters of one recorded statement or value. */
const MAX_RECORDED_TEXT = 4096;
/** Most characters of a recorded command tag (the server's are under 64) and SQLSTATE (5). */
const MAX_TAG = 64;
const MAX_CODE = 16;
/** Most characters of a recorded `error` event's text. */
const ERROR_CHARS = 512;
/**
 * Bytes of a session's recording never reserved for statements: room for its last `error` event
 * (≤ ERROR_CHARS characters at ≤ 6 bytes each, plus its keys), so the session can say why it
 * ended. Events that are not a statement's own (decision, review, a local SET) must fit without it.
 */
const SLACK = 8 * 1024;
/**
 * Most bytes one result adds to its statement event, or a `response` event is, besides its portal
 * name, sample rows and column names (those are cut to the room there is when it is recorded):
 * `error` (≤ MAX_CODE characters) or `ms`, `rows` (numbers, ≤ 32 characters each),
 * `sample_truncated`, an empty `sample` and `columns`, `tag` (≤ MAX_TAG characters), each character
 * at most 6 bytes of JSON, with keys, quotes, commas and braces: ≤ 500 by count, doubled.
 */
const RESULT_CORE = 1024;
/** The `portal` member of a result, besides its name: `,"portal":`. */
const PORTAL_KEY = 10;

/** A statement's result as recorded. */
interface Result {
  readonly columns: string[] | undefined;
  readonly ms: number;
  readonly rows: number;
  readonly sample: (string | null)[][] | undefined;
  readonly sample_truncated: boolean | undefined;
  readonly tag: string | null;
}

const FULL = 'the session reached recording.max_session_bytes and can no longer be recorded; start a new session';

/** The flush's rejection as a {@link RecordingError}: a full session says so, anything else is the store. */
function recordingError(err: unknown): RecordingError {
  const full = err instanceof GatehouseError && err.extra.reason === 'max_session_bytes';
  return new RecordingError(full ? FULL : 'Gatehouse could not record the session (store unavailable); the result is withheld');
}

/** The recording of the session failed: the statement's completion is withheld and the session ends (the message is the client's). */
export class RecordingError extends Error {
  override readonly name = 'RecordingError';
  /** The registry code (the recording store failed; XX000). */
  readonly code = 'store_unavailable' satisfies ErrorCode;
}

/** A statement's request and decision, waiting to be recorded with its result. */
interface Exchange {
  readonly message: 'query' | 'parse' | 'bind';
  /** The statement text as recorded (Query, Parse). */
  readonly statement?: string;
  /** The prepared statement name (Parse, Bind). */
  readonly name?: string;
  /** The Bind merged into this Parse, or this Bind's own: its parameters as recorded, and portal. */
  params?: (string | null)[];
  portal?: string;
  decision?: { readonly actions: readonly string[]; readonly effect: string; readonly reasons?: readonly string[] };
  /** Its outcome once known: a result, an error, or `null` (it gets none); undefined while awaited. */
  outcome?: Result | { error: string | null } | null;
  /** Recorded already: a result arriving for it later is a `response` event. */
  recorded?: boolean;
  /** Bytes reserved for its event's request part (the data as it stands, without a result). */
  held: number;
  /** Bytes reserved for its result (taken from its batch's reservation when the result arrived). */
  res: number;
  /** Where its own Parse and Bind sit among its batch's acknowledged messages (see {@link SessionRecording.acknowledgeable}): from, and past the last. */
  ack?: { readonly batch: number; readonly from: number; to: number };
}

/** A statement's execution forwarded (Query or Execute): its result is the next one of its batch. */
interface Slot {
  readonly batch: number;
  /** Its place among the session's executions (the sweep of running statements records those up to a mark). */
  readonly seq: number;
  /** The exchange its portal was bound by (or its Query); undefined when unknown (its result is then an event of its own). */
  readonly ex: Exchange | undefined;
  /** The Execute's portal (undefined for a Query). */
  readonly portal: string | undefined;
  /** Messages of its batch sent before it that the server acknowledges (Parse, Bind, Describe): an error arriving before all of them are is not its own. */
  readonly acks: number;
  /** Of those, its exchange's own (its Parse, its Bind): an error answering one of them is its exchange's. Empty when none are in its batch. */
  readonly own: { readonly from: number; readonly to: number };
}

/** The size of a result's part, besides sample and columns, when its execution ran `portal`. */
function resultCore(portal: string | undefined): number {
  return RESULT_CORE + (portal === undefined ? 0 : PORTAL_KEY + stringBytes(portal));
}

/** A text cut to `n` characters. */
function cut(s: string | null, n: number): string | null {
  return s !== null && s.length > n ? s.slice(0, n) : s;
}

/** Executions awaiting their result past which the session stops pairing results with statements (until it is idle). */
const MAX_SLOTS = 4096;
/** Unrecorded exchanges held at most: past it they are recorded before their results. */
const MAX_HELD = 64;
/**
 * A statement still running this long (ms; the recorder's group-commit interval) is recorded
 * without its result: a gateway killed mid-statement still leaves its request and decision. The
 * session's one sweep timer records those executed before it was armed, so within 1-2 intervals.
 */
const RUNNING_MS = 200;

/**
 * What one PostgreSQL session records: one `statement` event per statement exchange — the
 * request (text content-masked, ≤ 4 KiB; a Bind's parameters), its decision and its result (tag,
 * rows, ms, the first rows as the client received them, or the SQLSTATE of the error that ended
 * it) —, review outcomes, errors and the session's lifecycle. A statement is recorded when it
 * completes; one denied or held for review at its decision; one still running after one
 * group-commit interval then, without its result (a gateway killed mid-statement leaves its
 * request and decision; one sweep timer per session); statement records keep the order the
 * client sent the statements in, so an exchange that cannot wait for its result (something else
 * must be recorded first) is recorded without it, and its result follows as a `response` event
 * (see docs/design/recording.md, "Data paths"). Recording never breaks the data path, except that
 * a ReadyForQuery waits until everything recorded before it is committed ({@link readyForQuery}).
 *
 * `recording.max_session_bytes`: no statement runs unless its record is sure to fit. Every
 * exchange reserves the exact size of its request part (text, parameters, decision) in the
 * session's room ({@link Recorder.room}) as it is built, and every execution (Query, Execute)
 * reserves a bound of its result's part ({@link RESULT_CORE}, per statement of a Query) before it
 * is forwarded; a reservation that does not fit (keeping {@link SLACK} free) ends the session
 * with a {@link RecordingError} before anything more is forwarded. Reservations are released as
 * their events are recorded; sample rows and column names take only the room left unreserved
 * (cut to it, `sample_truncated`). An event larger than its reservation (a wrong bound) is still
 * recorded, and the session ends.
 */
export class SessionRecording {
  /** False when the recorder keeps nothing: events are then not even built. */
  readonly on: boolean;
  readonly #svc: PostgresDeps;
  readonly #id: string;
  readonly #tap: RecordingTap;
  readonly #batches: SessionLink['batches'];
  /** The first rows of the current result as sent. */
  readonly #excerpt = new RowExcerpt((t) => this.text(t));
  #rows = 0;
  #startedAt = 0;
  /** The statement being sent (request, decision, Bind), not yet executed. */
  #building: Exchange | undefined;
  /** Executions forwarded, oldest first, awaiting their result. */
  readonly #slots: Slot[] = [];
  /** Exchanges not yet recorded, in the order sent (bounded by MAX_HELD); recorded from the head as their outcomes are known. */
  readonly #queue: Exchange[] = [];
  /** Portals bound in the current batch and not yet executed: the exchange of the Bind that made each. */
  readonly #portals = new Map<string, Exchange>();
  /** Too many executions in flight: results are recorded on their own until the session is idle. */
  #unpaired = false;
  /** Executions forwarded so far (a slot's `seq`). */
  #executions = 0;
  /** The sweep of running statements, while armed: it records held slots up to `#sweepMark`. */
  #sweep: (() => void) | undefined;
  #sweepMark = 0;
  /** Whether the recorder reports the session's room (else sizes are not counted). */
  readonly #limited: boolean;
  /** Bytes reserved in the session's recording for events not yet recorded: exchanges' `held` and `res`, and `#pools`. */
  #reserved = 0;
  /** Bytes reserved for the results of each batch's executions, by batch (taken as results arrive, the rest released at its ReadyForQuery). */
  readonly #pools = new Map<number, number>();
  /** An event was larger than its reservation, or an error event found no room: the session ends (fail closed). */
  #broken = false;
  /** Acknowledged messages (Parse, Bind, Describe) forwarded in the batch being sent, and that batch. */
  #acksSent = 0;
  #acksSentBatch = 0;
  /** Their acknowledgements received in the batch being answered, and that batch. */
  #acksDone = 0;
  #acksDoneBatch = 0;

  constructor(svc: PostgresDeps, id: string, principal: Principal, conn: Connection, content: TextMasker | undefined, batches: SessionLink['batches']) {
    this.#svc = svc;
    this.#id = id;
    this.#batches = batches;
    this.#tap = new RecordingTap(svc, id, { protocol: 'postgres', principal, connection: conn.name, textLimit: MAX_RECORDED_TEXT, masker: content });
    this.on = this.#tap.on;
    this.#limited = this.on && typeof svc.recorder.room === 'function';
  }

  /**
   * Records one event of its own (a recorder failure is logged, never thrown into the data path);
   * every statement sent before it is recorded first.
   */
  event(type: RecordEvent['type'], data: Record<string, unknown>): void {
    if (!this.on) return;
    this.#recordPending();
    if (type === 'session.close') {
      // Nothing can be running any more: the session's sweep is not left armed behind it.
      this.#sweep?.();
      this.#sweep = undefined;
    }
    if (type === 'error') { this.#error(data); return; }
    if (type === 'session.close' || type === 'session.open') { this.#tap.event(type, data); return; }
    // A decision or a review: before its statement is forwarded, so one that does not fit ends
    // the session instead (the audit log has it).
    this.#emitFree(type, data);
  }

  /**
   * An `error` event (its text cut to ERROR_CHARS): it may use the slack. One that finds no room
   * is not recorded (it would take a statement's reserved room) and the session ends.
   */
  #error(data: Record<string, unknown>): void {
    const d = typeof data.error === 'string' && data.error.length > ERROR_CHARS ? { ...data, error: data.error.slice(0, ERROR_CHARS) } : data;
    if (this.#limited && jsonBytes(d) > this.#room() - this.#reserved) { this.#broken = true; return; }
    this.#tap.event('error', d);
  }

  /** An event that is no statement's own: recorded only if it fits the room nothing reserved (less SLACK); else a {@link RecordingError}. */
  #emitFree(type: RecordEvent['type'], data: Record<string, unknown>): void {
    if (this.#limited && jsonBytes(data) > this.#free()) throw new RecordingError(FULL);
    this.#tap.event(type, data);
  }

  /** The session's room in its recording (see {@link Recorder.room}). */
  #room(): number {
    return this.#svc.recorder.room?.(this.#id) ?? Infinity;
  }

  /** Room neither reserved nor kept as SLACK. */
  #free(): number {
    return Math.max(0, this.#room() - this.#reserved - SLACK);
  }

  /** Reserves `bytes` of the session's room, or throws a {@link RecordingError} when they do not fit. */
  #reserve(bytes: number): void {
    if (!this.#limited || bytes <= 0) return;
    if (this.#reserved + bytes > this.#room() - SLACK) throw new RecordingError(FULL);
    this.#reserved += bytes;
  }

  /**
   * The exchange being built reserves the size of its request part as it stands now. When that
   * does not fit, the exchange is dropped (its message is not forwarded; the session ends).
   */
  #hold(ex: Exchange): void {
    if (!this.#limited) return;
    const data = this.#data(ex, undefined);
    // Far from the limit, a bound of its size is reserved (cheap: no text is looked at); the
    // exact size only when that does not fit.
    const bound = jsonBound(data);
    if (bound <= ex.held) return;
    if (this.#reserved + bound - ex.held <= this.#room() - SLACK) {
      this.#reserved += bound - ex.held;
      ex.held = bound;
      return;
    }
    const need = jsonBytes(data);
    if (need <= ex.held) return;
    try {
      this.#reserve(need - ex.held);
    } catch (err) {
      if (this.#building === ex) this.#building = undefined;
      this.#reserved -= ex.held;
      ex.held = 0;
      ex.recorded = true;
      throw err;
    }
    ex.held = need;
  }

  /** A client text as recorded: at most 4 KiB, content-masked; `[unrecordable]` when masking fails. */
  text(text: string): string {
    return this.#tap.text(text);
  }

  /** A Query or Parse arrived (`statement` as recorded): its exchange starts. */
  request(message: 'query' | 'parse', statement: string, name?: string): void {
    if (!this.on) return;
    this.#queueBuilding();
    this.#building = name === undefined ? { message, statement, held: 0, res: 0 } : { message, name, statement, held: 0, res: 0 };
    if (message === 'parse') this.#building.ack = this.#ackStart();
    this.#hold(this.#building);
  }

  /** A Query handled by the gateway itself (`SET gatehouse.justification`): recorded at once. */
  local(statement: string): void {
    if (!this.on) return;
    this.#recordPending();
    this.#emitFree('statement', { local: true, message: 'query', statement });
  }

  /**
   * A Bind arrived (parameters as recorded). It joins the exchange of the Parse just sent for the
   * same statement name (its request and decision); otherwise it is an exchange of its own.
   */
  bind(name: string, params: (string | null)[], portal: string): void {
    if (!this.on) return;
    const b = this.#building;
    if (b?.message === 'parse' && b.name === name && b.params === undefined && b.decision !== undefined) {
      b.params = params;
      b.portal = portal;
      this.#hold(b);
      return;
    }
    this.#queueBuilding();
    this.#building = { message: 'bind', name, params, portal, held: 0, res: 0, ack: this.#ackStart() };
    this.#hold(this.#building);
  }

  /** A decision of the guard: part of the statement's exchange; one denied or held is recorded now. */
  verdict(v: Verdict): void {
    if (!this.on) return;
    const decision = v.ok ? { actions: v.actions, effect: 'allow' } : { actions: v.actions, effect: v.effect, reasons: v.reasons };
    const b = this.#building;
    if (b?.decision !== undefined || b === undefined) {
      // Not the first decision of an exchange (a Bind deciding several definitions): its own event.
      // Keys in canonical (sorted) order: the recorder then serializes with JSON.stringify.
      this.event('decision', decision);
      return;
    }
    b.decision = decision;
    this.#hold(b);
    if (!v.ok) this.#recordPending();
  }

  /** A statement starts running (Query arrived, Execute forwarded): its result's `ms` counts from now. */
  started(): void {
    this.#startedAt = this.#svc.clock.now();
  }

  /**
   * A statement's execution is forwarded (a Query, or an Execute of `portal`; call before it
   * counts a batch): the next result of its batch is its own, recorded with the exchange of the
   * Bind that made the portal (not the last one sent). An Execute of a portal the session does not
   * know a pending Bind for (executed before, bound in an earlier batch) pairs with nothing: its
   * result is a `response` event.
   */
  executing(portal?: string, results = 1): void {
    if (!this.on) return;
    // Its result's part is reserved before anything is forwarded; a Query that does not fit is
    // dropped with it (not recorded: it did not run).
    const pool = resultCore(portal) * Math.max(1, results);
    try {
      this.#reserve(pool);
    } catch (err) {
      const b = this.#building;
      if (portal === undefined && b !== undefined) { this.#building = undefined; this.#reserved -= b.held; b.held = 0; b.recorded = true; }
      throw err;
    }
    if (this.#limited) this.#pools.set(this.#batches.sent, (this.#pools.get(this.#batches.sent) ?? 0) + pool);
    let ex: Exchange | undefined;
    if (portal === undefined) {
      ex = this.#building;
      this.#building = undefined;
    } else {
      this.#queueBuilding();
      ex = this.#portals.get(portal);
      this.#portals.delete(portal);
    }
    if (ex?.recorded === true) ex = undefined;
    if (this.#unpaired) { if (ex) this.#forceRecord(ex); return; }
    if (this.#slots.length >= MAX_SLOTS) {
      this.#unpaired = true;
      this.#recordPending();
      this.#slots.length = 0;
      if (ex) this.#forceRecord(ex);
      return;
    }
    if (ex && portal === undefined) this.#enqueue(ex);
    const acks = this.#ackMark().n;
    const own = ex?.ack !== undefined && ex.ack.batch === this.#batches.sent ? { from: ex.ack.from, to: ex.ack.to } : { from: acks, to: acks };
    this.#slots.push({ batch: this.#batches.sent, ex, portal, seq: ++this.#executions, acks, own });
    if (ex) this.#armSweep();
  }

  /** Arms the session's one sweep (when none is armed): in one interval, it records the statements executed until now that are still running. */
  #armSweep(): void {
    if (this.#sweep !== undefined || this.#queue.length === 0) return;
    this.#sweepMark = this.#executions;
    this.#sweep = after(this.#svc.clock, RUNNING_MS, () => {
      this.#sweep = undefined;
      this.#recordRunning(this.#sweepMark);
      this.#armSweep();
    });
  }

  /**
   * Records, in order, the exchanges of executions up to `mark` still awaiting their result (it
   * follows as a `response` event), with every exchange sent before them.
   */
  #recordRunning(mark: number): void {
    let last: Exchange | undefined;
    for (const s of this.#slots) {
      if (s.seq > mark) break;
      if (s.ex && s.ex.recorded !== true && s.ex.outcome === undefined) last = s.ex;
    }
    if (!last) return;
    const q = this.#queue;
    const upto = q.indexOf(last);
    for (let i = 0; i <= upto; i++) { q[i]!.recorded = true; this.#record(q[i]!, q[i]!.outcome ?? undefined); }
    q.splice(0, upto + 1);
  }

  /**
   * A message the server answers with an acknowledgement of its own before it goes on (Parse:
   * ParseComplete, Bind: BindComplete, Describe: RowDescription or NoData) is forwarded, a
   * denial's replacement included. Results pair with executions, but an ErrorResponse may answer
   * one of these instead: counting them tells which ({@link failed}).
   */
  acknowledgeable(message: 'parse' | 'bind' | 'describe'): void {
    if (!this.on) return;
    const { batch, n } = this.#ackMark();
    this.#acksSent++;
    // A Parse or Bind forwarded is the exchange being built's own message.
    const ack = this.#building?.ack;
    if (message !== 'describe' && ack !== undefined && ack.batch === batch) ack.to = n + 1;
  }

  /** The server acknowledged one such message (ParseComplete, BindComplete, or a RowDescription or NoData). */
  acknowledged(): void {
    if (!this.on) return;
    this.#acksAnswered();
    this.#acksDone++;
  }

  /** An exchange's first message is being sent: its place (its range grows as its messages are forwarded). */
  #ackStart(): { batch: number; from: number; to: number } {
    const { batch, n } = this.#ackMark();
    return { batch, from: n, to: n };
  }

  /** The batch being sent and how many acknowledged messages it holds so far. */
  #ackMark(): { batch: number; n: number } {
    if (this.#acksSentBatch !== this.#batches.sent) { this.#acksSentBatch = this.#batches.sent; this.#acksSent = 0; }
    return { batch: this.#acksSentBatch, n: this.#acksSent };
  }

  /** Acknowledgements received so far in the batch being answered. */
  #acksAnswered(): number {
    if (this.#acksDoneBatch !== this.#batches.done) { this.#acksDoneBatch = this.#batches.done; this.#acksDone = 0; }
    return this.#acksDone;
  }

  /** A Sync is forwarded: a statement parsed or bound but not executed in its batch gets no result. */
  sync(): void {
    if (!this.on) return;
    this.#queueBuilding();
    for (const ex of this.#portals.values()) if (ex.outcome === undefined) ex.outcome = null;
    this.#portals.clear();
    this.#drain();
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

  /**
   * CommandComplete, EmptyQueryResponse or PortalSuspended as forwarded: the statement's record
   * with its result, or a `response` event when its exchange was recorded already.
   */
  completed(f: Frame): void {
    if (this.on) {
      const x = this.#excerpt.take();
      const result: Result = {
        columns: x?.columns, ms: this.#svc.clock.now() - this.#startedAt, rows: this.#rows,
        sample: x?.sample, sample_truncated: x?.sample_truncated,
        tag: f.type === BE.commandComplete ? cut(parseCommandComplete(f.body), MAX_TAG) : null,
      };
      const slot = this.#slot();
      const res = this.#take(slot?.portal);
      if (slot?.ex && slot.ex.recorded !== true) {
        slot.ex.outcome = result;
        slot.ex.res += res;
        this.#drain();
      } else {
        // Keys in canonical (sorted) order: the recorder then serializes with JSON.stringify.
        this.#emit('response', {
          ...(x?.columns === undefined ? {} : { columns: x.columns }), ms: result.ms,
          ...(slot?.portal === undefined ? {} : { portal: slot.portal }), rows: result.rows,
          ...(x === undefined ? {} : { sample: x.sample, sample_truncated: x.sample_truncated }), tag: result.tag,
        }, res);
      }
    }
    this.#rows = 0;
  }

  /**
   * An ErrorResponse of the server (not a denial's): the statement whose result was awaited in
   * this batch is recorded with the error's SQLSTATE (the server skips the rest of the batch).
   * With none awaited (a later statement of a multi-statement Query, an Execute paired with
   * nothing) the SQLSTATE is a `response` event of its own — so a statement that completed before
   * it in the same implicit transaction does not read as done; never the error's text.
   */
  failed(body: Buffer): void {
    this.#rows = 0;
    if (!this.on) return;
    this.#excerpt.take();
    const error = cut(parseErrorFields(body).get('C') ?? null, MAX_CODE);
    const head = this.#slots[0];
    const answered = this.#acksAnswered();
    const ownError = head?.ex !== undefined && head.ex.recorded !== true && answered >= head.own.from && answered < head.own.to;
    if (head?.batch === this.#batches.done && answered < head.acks && !ownError) {
      // The error answers a Parse, Bind or Describe sent before the batch's next execution, and
      // not one of that execution's own exchange: nothing more of the batch runs (its executions
      // get no result at ReadyForQuery). Its SQLSTATE is a `response` event of its own, not the
      // result of a statement that never ran.
      this.#emit('response', { error }, this.#take(undefined));
      return;
    }
    const slot = this.#slot();
    const res = this.#take(slot?.portal);
    if (slot?.ex && slot.ex.recorded !== true) {
      slot.ex.outcome = { error };
      slot.ex.res += res;
      this.#drain();
      return;
    }
    // Keys in canonical (sorted) order: the recorder then serializes with JSON.stringify.
    this.#emit('response', slot?.portal === undefined ? { error } : { error, portal: slot.portal }, res);
  }

  /**
   * A result of the batch being answered arrived: the room reserved for it (its execution's
   * result part, `portal` its Execute's) is taken from the batch's reservation. A result no
   * reservation is left for (more than the statements counted) takes unreserved room only.
   */
  #take(portal: string | undefined): number {
    if (!this.#limited) return 0;
    const batch = this.#batches.done;
    const pool = this.#pools.get(batch) ?? 0;
    const take = Math.min(pool, resultCore(portal));
    if (pool - take > 0) this.#pools.set(batch, pool - take); else this.#pools.delete(batch);
    return take;
  }

  /**
   * ReadyForQuery (the answered batch counted): a description without rows (Describe at prepare
   * time) names nothing later; statements of the batches answered that got no result are recorded.
   */
  ready(): void {
    if (!this.on) return;
    this.#excerpt.take();
    const done = this.#batches.done;
    while (this.#slots.length > 0 && this.#slots[0]!.batch < done) {
      const s = this.#slots.shift()!;
      if (s.ex && s.ex.outcome === undefined) s.ex.outcome = null;
    }
    this.#drain();
    if (this.#unpaired && done === this.#batches.sent && this.#slots.length === 0) this.#unpaired = false;
    // The batches answered get no more results: what their executions reserved and did not use is free.
    for (const [batch, pool] of this.#pools) {
      if (batch >= done) continue;
      this.#reserved -= pool;
      this.#pools.delete(batch);
    }
  }

  /** The slot whose result is the one arriving now (its batch's next), taken off the queue. */
  #slot(): Slot | undefined {
    const head = this.#slots[0];
    if (head?.batch !== this.#batches.done) return undefined;
    this.#slots.shift();
    return head;
  }

  /**
   * The exchange being built is complete (another message starts one, an Execute or a Sync
   * follows): a bound one waits for its portal's Execute; one that runs nothing (a Parse not
   * bound in its exchange) gets no result.
   */
  #queueBuilding(): void {
    const b = this.#building;
    if (!b) return;
    this.#building = undefined;
    if (b.portal !== undefined) {
      const old = this.#portals.get(b.portal);
      // A Bind replaces the unnamed portal (a named one bound twice is the server's error).
      if (old && old.outcome === undefined) old.outcome = null;
      this.#portals.set(b.portal, b);
    } else {
      b.outcome = null;
    }
    this.#enqueue(b);
    this.#drain();
  }

  /** An exchange joins the queue (past MAX_HELD, the queue is recorded first, without results). */
  #enqueue(ex: Exchange): void {
    if (this.#queue.length >= MAX_HELD) this.#recordPending();
    this.#queue.push(ex);
  }

  /** Records the exchanges at the queue's head whose outcomes are known, in order. */
  #drain(): void {
    const q = this.#queue;
    let i = 0;
    while (i < q.length && q[i]!.outcome !== undefined) {
      const ex = q[i++]!;
      ex.recorded = true;
      this.#record(ex, ex.outcome ?? undefined);
    }
    if (i > 0) q.splice(0, i);
  }

  /** One exchange recorded now, after every exchange sent before it (which are recorded without results still awaited). */
  #forceRecord(ex: Exchange): void {
    this.#recordPending();
    if (ex.recorded === true) return;
    ex.recorded = true;
    this.#record(ex, ex.outcome ?? undefined);
  }

  /**
   * Records every exchange not yet recorded, in the order they were sent, each with its outcome
   * if known (the results still awaited follow on their own, as `response` events).
   */
  #recordPending(): void {
    const b = this.#building;
    this.#building = undefined;
    for (const ex of this.#queue) {
      ex.recorded = true;
      this.#record(ex, ex.outcome ?? undefined);
    }
    this.#queue.length = 0;
    this.#portals.clear();
    if (b) { b.recorded = true; this.#record(b, undefined); }
  }

  /**
   * One `statement` event: the exchange and its result. Built member by member in canonical
   * (sorted) key order, so the recorder serializes it with JSON.stringify, without spreads.
   */
  #record(ex: Exchange, r: Result | { error: string | null } | undefined): void {
    const own = ex.held + ex.res;
    ex.held = 0;
    ex.res = 0;
    this.#emit('statement', this.#data(ex, r), own);
  }

  /**
   * Records an event of a statement with `own` bytes reserved for it (released now): sample rows
   * and column names are cut to what fits in those and the room nothing reserved (less SLACK).
   * An event larger than that all the same (a bound was wrong) is recorded — it ran — and the
   * session ends: its ReadyForQuery is withheld and nothing more is admitted.
   */
  #emit(type: 'statement' | 'response', o: Record<string, unknown>, own: number): void {
    if (this.#limited) {
      const allowed = own + this.#free();
      // Within its reservation by a bound (cheap): no exact size needed.
      let size = jsonBound(o) <= allowed ? 0 : jsonBytes(o);
      if (size > allowed && Array.isArray(o.sample)) {
        const sample = o.sample as unknown[];
        o.sample_truncated = true;
        while (size > allowed && sample.length > 0) { sample.pop(); size = jsonBytes(o); }
      }
      if (size > allowed && o.columns !== undefined) { delete o.columns; size = jsonBytes(o); }
      this.#reserved -= own;
      if (size > allowed) this.#broken = true;
    }
    this.#tap.event(type, o);
  }

  /**
   * The data of one `statement` event: the exchange and its result. Built member by member in
   * canonical (sorted) key order, so the recorder serializes it with JSON.stringify, without spreads.
   */
  #data(ex: Exchange, r: Result | { error: string | null } | undefined): Record<string, unknown> {
    const d = ex.decision;
    const res = r !== undefined && 'ms' in r ? r : undefined;
    const o: Record<string, unknown> = {};
    if (d !== undefined) o.actions = d.actions;
    if (res?.columns !== undefined) o.columns = res.columns;
    if (d !== undefined) o.effect = d.effect;
    if (r !== undefined && 'error' in r) o.error = r.error;
    o.message = ex.message;
    if (res !== undefined) o.ms = res.ms;
    if (ex.name !== undefined) o.name = ex.name;
    if (ex.params !== undefined) { o.params = ex.params; o.portal = ex.portal; }
    if (d?.reasons !== undefined) o.reasons = d.reasons;
    if (res !== undefined) o.rows = res.rows;
    if (res?.sample !== undefined) { o.sample = res.sample; o.sample_truncated = res.sample_truncated; }
    if (ex.statement !== undefined) o.statement = ex.statement;
    if (res !== undefined) o.tag = res.tag;
    return o;
  }

  /**
   * Durability: the ReadyForQuery that completes a statement's response is held (the pump waits,
   * so order is kept) until everything recorded before is committed. A lost recording ends the
   * session with an error instead of completing an unrecorded response (fail closed).
   */
  readyForQuery(raw: Buffer, send: (b: Buffer) => void): void | Promise<void> {
    if (this.#broken) throw new RecordingError(FULL);
    if (this.#svc.recorder.flushedNow?.(this.#id) === true) { send(raw); return; }
    const flushed = this.#svc.recorder.flush?.(this.#id);
    if (!flushed) { send(raw); return; }
    return flushed.then(() => { send(raw); }, (err: unknown) => { throw recordingError(err); });
  }

  /**
   * Throws a {@link RecordingError} when the session's recording is full (`max_session_bytes`):
   * asked before a statement's message is handled, so no statement runs unrecorded.
   */
  admit(): void {
    if (this.on && (this.#broken || this.#svc.recorder.full?.(this.#id) === true)) throw new RecordingError(FULL);
  }
}
