import type { AuditInput } from '../audit/record.ts';
import { after, systemClock, type Clock } from '../kernel/clock.ts';
import { GatehouseError } from '../kernel/errors.ts';
import { GroupCommit, type AfterFailure } from '../kernel/group-commit.ts';
import type { SqlDriver, SqlExecutor } from '../store/sql.ts';
import { canonicalData } from './event-hash.ts';
import type { RecordEvent, Recorder } from './recorder.ts';
import { afterBatch, writeBatch, type AnchoredClose, type ClosedHead, type PreparedEvent } from './session-writer.ts';
import { sessionAnchors, verifySession } from './verify-session.ts';
import { RecordingJournal } from './journal.ts';
import type { DecisionEffect } from './types.ts';

/** Tuning and collaborators of a {@link StoreRecorder}. Sizes in bytes. */
export interface StoreRecorderOptions {
  readonly clock?: Clock;
  /** Where session heads are anchored on `session.close` (the global audit chain). */
  readonly audit?: { append(e: AuditInput): Promise<unknown> };
  /** `recording.max_session_bytes`. Default 50 MiB. */
  readonly maxSessionBytes?: number;
  /** A stored segment holds a session's consecutive events up to about this much payload (a larger event is alone in its own). Default 256 KiB. */
  readonly chunkBytes?: number;
  /** Most events per transaction. Default 2000. */
  readonly maxBatch?: number;
  /**
   * How long recorded events wait for others to share their transaction (group commit), in ms.
   * A flush that must wait for the store does not wait for it: it commits at once. Default 200
   * with a journal (flushes do not wait for the store: fewer, larger transactions cost the store
   * thread far less per event), 20 without; 0 batches per event-loop turn.
   */
  readonly groupCommitMs?: number;
  /** Most events waiting; past it events are dropped and their session marked truncated. Default 50 000. */
  readonly maxQueue?: number;
  /** Most payload bytes waiting. Default 64 MiB. */
  readonly maxQueueBytes?: number;
  /**
   * The write-ahead journal. With it, `flush()` resolves once the events are appended to the
   * journal (durable against a process crash) instead of waiting for a store transaction, and a
   * failed store write is retried instead of losing its batch. Without it (an in-memory store),
   * `flush()` waits for the commit.
   */
  readonly journal?: RecordingJournal;
  /** Sessions whose losses are remembered for their flushes (tests; default 100 000). */
  readonly maxLossCells?: number;
  /** Most sessions whose size is tracked at once (default 200 000; tests lower it). A session opened past it is full from its start. */
  readonly maxSizedSessions?: number;
  /**
   * Longest an exchange waits in {@link StoreRecorder.admit} for the store to catch up; past it
   * the exchange is refused (`store_unavailable`, counted and reported like any refusal), so a
   * store that hangs (rather than fails) does not hold admitted requests forever. Default 30 000 ms.
   */
  readonly admitTimeoutMs?: number;
  /** Told about failed writes and anchors (for logs and metrics); never about payloads. */
  readonly onError?: (err: unknown, what: 'write' | 'anchor' | 'journal' | 'refused') => void;
}

/** Refusals are reported to `onError` at most this often (each one is counted in `stats().refused`). */
const REFUSAL_REPORT_MS = 1000;
/** Wait before a failed write is retried (with a journal), on the recorder's clock. */
const RETRY_MS = 1000;

interface Queued { readonly e: PreparedEvent; readonly ticket: number }
/** Who waits for a commit through `target`; `fail`, when given, is called instead if a write fails meanwhile. */
interface Waiter { readonly target: number; readonly resolve: () => void; readonly fail?: () => void }

/** An exchange whose client went away while it waited for admission: the client's doing (logged at info). */
function clientGone(): GatehouseError {
  return new GatehouseError('bad_request', 'the client went away while the exchange waited for the recording store', { client_aborted: true });
}
interface Loss { n: number; reason: string; ticket: number; proto: PreparedEvent }
/**
 * A session's losses for its flushes: the first ticket lost and not yet reported by a flush (0:
 * none), and the last ticket lost.
 */
interface LossCell { first: number; last: number }

const MAX_ID = 200;
const MAX_LABEL = 256;
/** Sessions whose losses are remembered for their `truncated` markers. */
const MAX_LOSS_SESSIONS = 10_000;
/**
 * Sessions whose losses are remembered for their flushes (a session's entry leaves when its
 * `session.close` is committed, so this bounds sessions open at once that lost events). Past it
 * a loss cannot be attributed and every flush of a session without an entry that covers it is
 * refused (fail closed).
 */
const MAX_LOSS_CELLS = 100_000;
/** Sessions whose recorded payload is tracked for `max_session_bytes` (left at their close). */
const MAX_SIZED_SESSIONS = 200_000;
/** Why a full session is refused (flush, {@link StoreRecorder.full}). */
const FULL_MESSAGE = 'the session reached recording.max_session_bytes and can no longer be recorded; start a new session';

/**
 * The recorder behind the data paths: `record()` validates and enqueues (never throws, never
 * blocks); a drain writes the queue in batches, one transaction per batch (group commit), so
 * every event that arrives while a batch commits rides in the next one. `flush()` resolves once
 * everything recorded before it is committed, or rejects with `store_unavailable` when some of
 * it was lost: the data paths await it before a response's last byte (the durability guarantee).
 *
 * Bounded: past `maxQueue`/`maxQueueBytes` events are dropped, counted, and the session gets an
 * explicit `truncated` event (fail closed: the gap is visible in the chain, and flush rejects).
 *
 * @example
 *   const rec = new StoreRecorder(db, { audit, maxSessionBytes: 50 << 20 });
 *   rec.record({ session: 's1', protocol: 'http', type: 'request', at: Date.now(), data: { path: '/v1/chat' } });
 *   await rec.flush('s1');
 */
export class StoreRecorder implements Recorder {
  readonly #db: SqlDriver;
  readonly #clock: Clock;
  readonly #audit: StoreRecorderOptions['audit'];
  readonly #opts: { maxSessionBytes: number; chunkChars: number; maxBatch: number; maxQueue: number; maxQueueBytes: number; groupCommitMs: number; admitTimeoutMs: number };
  readonly #onError: NonNullable<StoreRecorderOptions['onError']>;
  /**
   * The group-commit engine (shared with the audit log): the bounded queue (events and bytes), the
   * interval timer on the clock, the batch in flight and the retry of a failed write.
   */
  readonly #gc: GroupCommit<Queued>;
  #issued = 0;
  readonly #waiters: Waiter[] = [];
  readonly #losses = new Map<string, Loss>();
  /** Losses by session for `flush(session)`; an entry leaves when the session's close is committed. */
  readonly #lossTickets = new Map<string, LossCell>();
  /** The last ticket lost while {@link #lossTickets} was full (its session unknown to flushes): 0 when none. */
  #unattributedLoss = 0;
  readonly #maxLossCells: number;
  readonly #maxSized: number;
  #lastLoss = 0;
  #reportedLoss = 0;
  /** Anchors being appended to the audit log, by session. */
  readonly #anchoring = new Map<string, Promise<void>>();
  /**
   * Closes anchored since the last batch: the next batch deletes their `recording_anchor_due` rows
   * (no transaction of their own). At most {@link MAX_ANCHORED_PENDING}; past it, and for what a
   * stop leaves, {@link anchorDueSessions}' sweep finds them anchored and deletes them.
   */
  #anchoredDone: AnchoredClose[] = [];
  #closed = false;
  readonly #stats = { recorded: 0, dropped: 0, batches: 0, failedBatches: 0, refused: 0, delayed: 0 };
  /** Refusals not yet reported, and when the last report was made. */
  #unreported = 0;
  #reportedAt = -Infinity;
  readonly #journal: RecordingJournal | undefined;
  /** Every ticket up to this one is in the journal or committed. */
  #journaled = 0;
  /** The journal append shared by the flushes of this event-loop turn, while one is scheduled, and how to run it now. */
  #journalTurn: Promise<void> | undefined;
  #journalTurnRun: (() => void) | undefined;
  /** The journal was closed ({@link close}): nothing more is appended. */
  #journalClosed = false;
  /** Ticket of the latest `session.close`: a flush without a session that covers it waits for the commit and the anchor. */
  #closeTicket = 0;
  /**
   * The `session.close` tickets not yet committed, by session: a flush of that session waits for
   * the commit and its anchor; other sessions' flushes do not (the journal holds the close, and a
   * recovery anchors it). Entries leave once committed, so it is bounded by the queue.
   */
  readonly #closeTickets = new Map<string, number>();
  #isoAt = Number.NaN;
  #isoText = '';
  /**
   * Payload bytes recorded per open session, as the writer counts them toward `max_session_bytes`
   * (every event but `session.close` and `truncated`); an entry starts at the session's
   * `session.open` and leaves at its close (an event after the close does not start it again).
   * At most {@link MAX_SIZED_SESSIONS}: past it a new session is not tracked (the writer still caps
   * it, counting what it drops, but flush cannot refuse for it).
   */
  readonly #sizes = new Map<string, number>();
  /**
   * The ticket of each tracked session's `session.open` (as {@link #sizes}, whose entries it
   * follows): a session opened after the last loss no entry could attribute cannot have lost an
   * event in it, so that loss does not refuse its flushes.
   */
  readonly #opened = new Map<string, number>();
  /** Sessions whose next event would have passed `max_session_bytes`: full, refused (fail closed). Left at their close. */
  readonly #full = new Set<string>();

  constructor(db: SqlDriver, opts: StoreRecorderOptions = {}) {
    this.#db = db;
    this.#clock = opts.clock ?? systemClock;
    this.#audit = opts.audit;
    this.#onError = opts.onError ?? (() => undefined);
    this.#journal = opts.journal;
    this.#maxLossCells = Math.max(1, opts.maxLossCells ?? MAX_LOSS_CELLS);
    this.#maxSized = Math.max(1, opts.maxSizedSessions ?? MAX_SIZED_SESSIONS);
    this.#opts = {
      maxSessionBytes: opts.maxSessionBytes ?? 50 * 1024 * 1024,
      chunkChars: Math.max(1024, opts.chunkBytes ?? 256 * 1024),
      maxBatch: Math.max(1, Math.min(5000, opts.maxBatch ?? 2000)),
      groupCommitMs: Math.max(0, Math.min(1000, opts.groupCommitMs ?? (opts.journal ? 200 : 20))),
      maxQueue: Math.max(1, opts.maxQueue ?? 50_000),
      maxQueueBytes: Math.max(1024, opts.maxQueueBytes ?? 64 * 1024 * 1024),
      admitTimeoutMs: Math.max(1, opts.admitTimeoutMs ?? 30_000),
    };
    // A drain starts after groupCommitMs, or on the next event-loop turn when a flush, an admission
    // or a reader waits (so exchanges flushing in the same turn share one transaction: the group
    // commit of durability: store has no timer on its path). With a journal, after a commit the
    // next batch goes at once only when a full batch is queued or someone waits; otherwise what
    // arrives waits for the next interval: a store transaction costs ~4 ms of the store thread
    // whatever its size, so under steady traffic back-to-back commits of a few dozen events each
    // cost the store thread ~5x more per event than one commit per interval (bench/syscalls-per-tx.ts;
    // docs/PERFORMANCE.md). Without a journal every flush waits for the store, so what is queued
    // is written back to back. A failed write is retried after RETRY_MS with a journal (its events
    // are durable there), else its batch is lost and counted.
    this.#gc = new GroupCommit<Queued>({
      clock: this.#clock,
      maxBatch: this.#opts.maxBatch,
      maxQueue: this.#opts.maxQueue,
      maxWeight: this.#opts.maxQueueBytes,
      weight: (q) => q.e.bytes,
      intervalMs: this.#opts.groupCommitMs,
      soon: 'turn',
      backToBack: opts.journal === undefined,
      urgent: () => this.#waiters.length > 0,
      extraWork: () => this.#losses.size > 0,
      retryMs: RETRY_MS,
      commit: (batch) => this.#commit(batch),
      committed: () => { this.#settle(); },
      failed: (batch, err) => this.#failed(batch, err),
      afterDrain: () => { this.#settle(); },
      onError: (err) => { this.#onError(err, 'write'); },
    });
  }

  /** Enqueues one (already masked) event. Never throws; losses are counted and marked. */
  record(event: RecordEvent): void {
    const ticket = ++this.#issued;
    if (typeof event.session !== 'string' || event.session.length === 0 || event.session.length > MAX_ID) {
      this.#stats.dropped++;
      return;
    }
    const e = this.#prepare(event);
    this.#size(e);
    if (this.#closed || !this.#gc.push({ e, ticket })) {
      this.#lose(e, this.#closed ? 'closed' : 'queue_full', ticket);
      this.#settle();
      return;
    }
    if (e.type === 'session.close') {
      this.#closeTicket = ticket;
      this.#closeTickets.set(e.session, ticket);
    }
  }

  /**
   * Mirrors the writer's `max_session_bytes` accounting (session-writer.ts): the first event that
   * would pass the limit makes the session full (the writer puts a `truncated` marker in its place
   * and drops what follows), and a full session's flushes reject from then on.
   */
  #size(e: PreparedEvent): void {
    if (e.type === 'session.close') {
      this.#sizes.delete(e.session);
      this.#opened.delete(e.session);
      this.#full.delete(e.session);
      return;
    }
    if (e.type === 'truncated' || this.#full.has(e.session)) return;
    const had = this.#sizes.get(e.session);
    // Tracked from its session.open: an event of a session already closed (an SSH exec answered
    // after its client left) would otherwise track it again, from 0 (not the writer's size), for
    // good — enough of them would leave no new session tracked (PostgreSQL's room 0: refused).
    if (had === undefined && e.type !== 'session.open') return;
    if (had === undefined && this.#sizes.size >= this.#maxSized) {
      // Its size cannot be tracked, so whether its events fit cannot be known: it is full from its
      // start (every protocol refuses its exchanges before they run, fail closed) until it closes.
      // The sessions open at once are bounded elsewhere (connections, the session table).
      this.#full.add(e.session);
      return;
    }
    const now = (had ?? 0) + e.bytes;
    if (now > this.#opts.maxSessionBytes) {
      this.#sizes.delete(e.session);
      this.#opened.delete(e.session);
      this.#full.add(e.session);
      return;
    }
    if (had === undefined) this.#opened.set(e.session, this.#issued);
    this.#sizes.set(e.session, now);
  }

  /**
   * See {@link Recorder.full}: the session's recording reached `max_session_bytes` (an event of
   * it was dropped), so nothing more of it can be recorded: data paths refuse its next exchange
   * before any work, and end it.
   */
  full(session: string): boolean {
    return this.#full.has(session);
  }

  /**
   * See {@link Recorder.room}: `max_session_bytes` less what {@link #size} counted for the
   * session. A session not tracked (past {@link MAX_SIZED_SESSIONS} when it opened, or already
   * closed) has no room: its size is unknown, so nothing that must fit is admitted (fail closed).
   */
  room(session: string): number {
    if (this.#full.has(session)) return 0;
    const size = this.#sizes.get(session);
    return size === undefined ? 0 : Math.max(0, this.#opts.maxSessionBytes - size);
  }

  /**
   * Resolves when every event recorded before the call is durable: in the journal, or committed
   * when there is none (or when back-pressure says so). A `session.close` in range is waited for
   * until committed and anchored: with `session`, only that session's; without, every one.
   * Rejects with `store_unavailable` if one of them was lost — of `session` when given, else of
   * any session (each loss is reported once) — and, with `session`, from the moment that session
   * is full (`max_session_bytes`: its later events are dropped), every time (`extra.reason:
   * 'max_session_bytes'`).
   */
  async flush(session?: string): Promise<void> {
    if (session !== undefined && this.#full.has(session)) throw this.#refuse(FULL_MESSAGE, { reason: 'max_session_bytes' });
    const target = this.#issued;
    // The session's loss record as it stands now: held by this flush even if it leaves the map
    // (its close committed) before the flush checks it below.
    const cell = session === undefined ? undefined : this.#lossTickets.get(session);
    if (!(await this.#durableInJournalSoon(target, session)) && this.#settledThrough() < target) {
      // The journal cannot take it (back-pressure) and the store is failing: fail closed now
      // rather than hold the client until the store is back.
      if (this.#gc.retrying) throw this.#refuse('the recording store is failing and its backlog is full');
      // A write that fails while this flush waits fails it too (the store is failing: fail closed
      // now, as above, instead of waiting for a retry that may never succeed).
      const settled = new Promise<void>((resolve, reject) => {
        this.#waiters.push({ target, resolve, fail: () => { reject(this.#refuse('the recording store is failing and its backlog is full')); } });
      });
      this.#gc.kick();
      await settled;
    }
    await this.#anchored(session);
    if (session !== undefined) {
      const lost = cell ?? this.#lossTickets.get(session);
      if (lost !== undefined && lost.first !== 0 && lost.first <= target) {
        // Reported once: what was lost through `target`; a later loss of the session (or one
        // after `target`, counted from target + 1) is reported by a later flush.
        lost.first = lost.last <= target ? 0 : target + 1;
        throw this.#refuse('recording of this session lost events');
      }
      // A loss no session entry could record (more sessions losing events at once than tracked):
      // this session's may be among them — unless it opened after it.
      if (lost === undefined && this.#unattributedLoss > 0 && this.#unattributedLoss <= target && !this.#openedAfterLoss(session)) {
        throw this.#refuse('recording lost events it could not attribute to their session');
      }
    } else if (this.#lastLoss > this.#reportedLoss && this.#lastLoss <= target) {
      this.#reportedLoss = this.#lastLoss;
      throw this.#refuse('recording lost events');
    }
  }

  /**
   * See {@link Recorder.admit}. Under pressure (the backlog past half the queue bound, the point
   * where flushes stop relying on the journal and wait for the store), a new exchange waits until
   * the store has taken the backlog down to a quarter of the bound; with the store failing, it is
   * refused at once, and one the store has not caught up for within `admitTimeoutMs` is refused
   * then. Counted in `stats().delayed` / `refused`. Aborting `signal` (the client went away) takes
   * the exchange out of the wait at once: rejected with `bad_request` (`extra.client_aborted`),
   * not counted as a refusal.
   */
  admit(signal?: AbortSignal): Promise<void> | undefined {
    if (!this.#pressed()) return undefined;
    if (signal?.aborted === true) return Promise.reject(clientGone());
    if (this.#gc.retrying) return Promise.reject(this.#refuse('the recording store is failing and its backlog is full'));
    this.#stats.delayed++;
    const target = this.#issued - Math.floor(this.#opts.maxQueue / 4);
    const ms = this.#opts.admitTimeoutMs;
    const done = new Promise<void>((resolve, reject) => {
      let cancel: () => void = () => undefined;
      const finish = (): void => { cancel(); signal?.removeEventListener('abort', onAbort); };
      const waiter: Waiter = {
        target,
        resolve: () => { finish(); resolve(); },
        fail: () => { finish(); reject(this.#refuse('the recording store is failing and its backlog is full')); },
      };
      // Leaves the wait without the store's say: the waiter is removed, so nothing is held for it.
      const leave = (err: () => Error): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i < 0) return;
        this.#waiters.splice(i, 1);
        finish();
        reject(err());
      };
      const onAbort = (): void => { leave(clientGone); };
      this.#waiters.push(waiter);
      cancel = after(this.#clock, ms, () => { leave(() => this.#refuse(`the recording store did not catch up within ${ms} ms; exchange refused`)); });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    this.#gc.kick();
    return done;
  }

  /** Exchanges waiting in {@link admit} (and flushes and readers waiting for the store). */
  get waiting(): number { return this.#waiters.length; }

  /** The backlog is past half the queue bound (events or bytes): back-pressure. */
  #pressed(): boolean {
    return this.#gc.length > this.#opts.maxQueue / 2 || this.#gc.weight > this.#opts.maxQueueBytes / 2;
  }

  /**
   * Whether `session` opened after the last loss no entry could attribute (its events all came
   * after it). Until session 15 that loss refused every such flush until a restart.
   */
  #openedAfterLoss(session: string): boolean {
    const opened = this.#opened.get(session);
    return opened !== undefined && opened > this.#unattributedLoss;
  }

  /** See {@link Recorder.flushedNow}: durable through the journal (or already committed), no loss. */
  flushedNow(session: string): boolean {
    const target = this.#issued;
    const lost = this.#lossTickets.get(session);
    if (this.#full.has(session) || (lost !== undefined && lost.first !== 0) || this.#anchoring.has(session)) return false;
    if (lost === undefined && this.#unattributedLoss > 0 && !this.#openedAfterLoss(session)) return false;
    if (this.#settledThrough() < target && !this.#durableInJournal(target, session)) return false;
    return true;
  }

  /**
   * Resolves once everything recorded before the call is committed to the store (or lost), or
   * after `timeoutMs` (a failing store is retried on its own schedule; a reader is not held).
   */
  async settled(timeoutMs = 2_000): Promise<void> {
    const target = this.#issued;
    if (this.#settledThrough() >= target) return;
    let cancel: (() => void) | undefined;
    const done = new Promise<void>((resolve) => {
      this.#waiters.push({ target, resolve });
      cancel = after(this.#clock, timeoutMs, resolve);
    });
    this.#gc.kick();
    await done;
    cancel?.();
  }

  /**
   * Stops accepting events and waits for the queue (losses are not reported here). The journal
   * is deleted when the store has everything; otherwise it stays for the next start to recover.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const journal = this.#journal;
    if (!journal) {
      if (this.#losses.size > 0) this.#gc.kick();
      await this.flush().catch(() => undefined);
      await this.#gc.close();
      await this.#clearAnchored();
      return;
    }
    // Flushes waiting for this turn's journal append get it now (before the journal closes).
    this.#journalTurnRun?.();
    // One last attempt (a scheduled retry is cancelled); what the store does not take stays in
    // the journal for the next start.
    await this.#gc.close();
    await this.#anchored(undefined);
    await this.#clearAnchored();
    const complete = this.#gc.length === 0 && this.#gc.inflight.length === 0;
    if (complete) await this.#db.query('DELETE FROM recording_journal WHERE id = $1', [journal.id]).catch(() => undefined);
    this.#journalTurnRun?.();
    this.#journalClosed = true;
    journal.close(complete);
  }

  /**
   * {@link #durableInJournal} for an async flush: what is not yet journaled is appended at the end
   * of this event-loop turn, once for every flush made in the turn (one `write(2)` for the
   * exchanges that finish together instead of one each), and the flush resolves after it. The
   * conditions are checked now and again when the append runs.
   */
  async #durableInJournalSoon(target: number, session: string | undefined): Promise<boolean> {
    if (!this.#journalAllowed(target, session)) return false;
    if (this.#journaled >= target) return true;
    if (this.#journalTurn === undefined) {
      this.#journalTurn = new Promise<void>((resolve) => {
        this.#journalTurnRun = () => {
          this.#journalTurn = undefined;
          this.#journalTurnRun = undefined;
          if (this.#journal !== undefined && !this.#journalClosed && !this.#pressed()) this.#appendJournal(this.#issued);
          resolve();
        };
        setImmediate(() => this.#journalTurnRun?.());
      });
    }
    await this.#journalTurn;
    return this.#journaled >= target && this.#journalAllowed(target, session);
  }

  /**
   * Whether a flush through `target` may be made durable by the journal: there is one, no
   * `session.close` of `session` (of any session, without one) is in range and not yet committed
   * (closing waits for the commit and its anchor), and the backlog is not past half the queue
   * bound (back-pressure: the caller waits for the store).
   */
  #journalAllowed(target: number, session: string | undefined): boolean {
    if (!this.#journal) return false;
    const close = session === undefined ? this.#closeTicket : this.#closeTickets.get(session);
    if (close !== undefined && close > this.#settledThrough() && close <= target) return false;
    return !this.#pressed();
  }

  /**
   * With a journal: appends what is not yet journaled (through `target`) and says whether that
   * makes the flush durable. Not when a `session.close` of `session` (of any session, without
   * one) is in range and not yet committed (closing waits for the commit and its anchor), when the
   * backlog is past half the queue bound (back-pressure: the caller waits for the store), or when
   * the journal cannot be written (then the store decides).
   */
  #durableInJournal(target: number, session: string | undefined): boolean {
    if (!this.#journalAllowed(target, session)) return false;
    return this.#appendJournal(target);
  }

  /** Appends every event through `target` not yet journaled; false when the journal cannot be written. */
  #appendJournal(target: number): boolean {
    const journal = this.#journal;
    if (!journal) return false;
    if (this.#journaled >= target) return true;
    // Both lists are in ticket order (in flight before queued) and only their tail is not yet
    // journaled: walk back from the end, so a flush costs what it adds, not the backlog.
    const pending: { ticket: number; event: PreparedEvent }[] = [];
    const collect = (list: readonly { ticket: number; e: PreparedEvent }[]): boolean => {
      for (let i = list.length - 1; i >= 0; i--) {
        const q = list[i]!;
        if (q.ticket <= this.#journaled) return false;
        if (q.ticket <= target) pending.push({ ticket: q.ticket, event: q.e });
      }
      return true;
    };
    if (collect(this.#gc.queued)) collect(this.#gc.inflight);
    pending.reverse();
    try {
      journal.append(pending);
    } catch (err) {
      this.#onError(err, 'journal');
      return false;
    }
    this.#journaled = target;
    return true;
  }

  /**
   * A flush that rejects: the data path refuses the exchange (fail closed). Counted, and reported
   * to `onError` (`refused`) at most once a second with the number since the last report, so a
   * failing store cannot flood the log. The report names no session, user or payload.
   */
  #refuse(message: string, extra?: { reason: 'max_session_bytes' }): GatehouseError {
    this.#stats.refused++;
    this.#unreported++;
    const now = this.#clock.now();
    if (now - this.#reportedAt >= REFUSAL_REPORT_MS) {
      this.#onError(new GatehouseError('store_unavailable', `${message}; ${this.#unreported} exchange(s) refused since the last report`), 'refused');
      this.#unreported = 0;
      this.#reportedAt = now;
    }
    return new GatehouseError('store_unavailable', message, extra);
  }

  /**
   * Counters for metrics: `refused` counts flushes and admissions that rejected (exchanges
   * refused, fail closed); `delayed` the exchanges whose admission waited for the store.
   */
  stats(): { recorded: number; dropped: number; queued: number; batches: number; failedBatches: number; refused: number; delayed: number } {
    return { ...this.#stats, queued: this.#gc.length };
  }

  #prepare(event: RecordEvent): PreparedEvent {
    const text = canonicalData(event.data);
    const at = Number.isFinite(event.at) ? event.at : this.#clock.now();
    return {
      session: event.session, protocol: label(event.protocol) ?? 'http', type: label(event.type) ?? 'error',
      at: this.#iso(at), user: label(event.user), agent: label(event.agent), connection: label(event.connection),
      text, bytes: Buffer.byteLength(text, 'utf8'), effect: event.type === 'decision' || event.type === 'statement' || event.type === 'exchange' ? effectOf(event.data) : undefined,
    };
  }

  /** ISO-8601 of a time in ms; the events of one millisecond (most of an exchange's) share one. */
  #iso(at: number): string {
    if (at !== this.#isoAt) {
      // A time out of Date's range (±8.64e15 ms) would throw: the recorder's clock stands in.
      const d = new Date(at);
      this.#isoText = (Number.isNaN(d.getTime()) ? new Date(this.#clock.now()) : d).toISOString();
      this.#isoAt = at;
    }
    return this.#isoText;
  }

  #lose(e: PreparedEvent, reason: string, ticket: number): void {
    this.#stats.dropped++;
    this.#lastLoss = Math.max(this.#lastLoss, ticket);
    const known = this.#losses.get(e.session);
    if (known) { known.n++; known.ticket = ticket; } else if (this.#losses.size < MAX_LOSS_SESSIONS) {
      this.#losses.set(e.session, { n: 1, reason, ticket, proto: e });
    }
    const cell = this.#lossTickets.get(e.session);
    if (cell !== undefined) {
      if (cell.first === 0) cell.first = ticket;
      cell.last = ticket;
    } else if (this.#lossTickets.size < this.#maxLossCells) this.#lossTickets.set(e.session, { first: ticket, last: ticket });
    else this.#unattributedLoss = ticket;
  }

  #settledThrough(): number {
    const first = this.#gc.inflight[0] ?? this.#gc.queued[0];
    return first ? first.ticket - 1 : this.#issued;
  }

  /** A write failed: every flush still waiting for a commit fails (readers of settled() wait on). */
  #failWaiters(): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      if (w.fail !== undefined) { this.#waiters.splice(i, 1); w.fail(); }
    }
  }

  #settle(): void {
    const through = this.#settledThrough();
    for (const [session, ticket] of this.#closeTickets) {
      if (ticket > through) continue;
      this.#closeTickets.delete(session);
      // Everything of the session is settled: its loss record is final (flushes in progress hold it).
      this.#lossTickets.delete(session);
    }
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      if (w.target <= through) { this.#waiters.splice(i, 1); w.resolve(); }
    }
  }

  /** Writes one batch (after the loss markers due) in one transaction; the journal learns what the store has. */
  async #commit(batch: readonly Queued[]): Promise<void> {
    const markers = this.#takeMarkers();
    const last = batch[batch.length - 1]?.ticket;
    const journal = this.#journal;
    const watermark = journal && last !== undefined ? { journal: journal.id, through: last } : undefined;
    const anchored = this.#anchoredDone;
    this.#anchoredDone = [];
    let closed: readonly ClosedHead[];
    try {
      ({ closed } = await this.#db.transaction((tx) => writeBatch(tx, [...markers.map((m) => m.event), ...batch.map((q) => q.e)], { ...this.#opts, watermark, anchored })));
    } catch (err) {
      for (const m of markers) this.#restoreMarker(m.loss, m.event.session);
      this.#noteAnchored(anchored);
      throw err;
    }
    this.#stats.batches++;
    this.#stats.recorded += batch.length;
    this.#anchorAll(closed);
    if (journal && last !== undefined) {
      this.#journaled = Math.max(this.#journaled, last);
      try { journal.committed(last); } catch (err) { this.#onError(err, 'journal'); }
    }
    await afterBatch(this.#db, closed.length).catch((err: unknown) => { this.#onError(err, 'write'); });
  }

  /**
   * A write failed. With a journal its events are not lost: the batch goes back to the front and
   * is retried after RETRY_MS (nothing else is written meanwhile), and flushes waiting for a commit
   * fail closed. Without one, the batch is lost (counted, marked truncated by the next batch) and
   * the queue goes on; no hot retry loop against a failing store (the next record() retries the
   * markers).
   */
  #failed(batch: readonly Queued[], err: unknown): AfterFailure {
    this.#stats.failedBatches++;
    this.#onError(err, 'write');
    if (this.#journal) {
      this.#gc.requeue(batch);
      this.#settle();
      this.#failWaiters();
      return 'retry';
    }
    for (const q of batch) this.#lose(q.e, 'store_error', q.ticket);
    this.#settle();
    return 'continue';
  }

  #takeMarkers(): { event: PreparedEvent; loss: Loss }[] {
    const out: { event: PreparedEvent; loss: Loss }[] = [];
    for (const [session, loss] of this.#losses) {
      if (out.length >= this.#opts.maxBatch) break;
      this.#losses.delete(session);
      const text = `{"dropped":${loss.n},"reason":${JSON.stringify(loss.reason)}}`;
      out.push({ loss, event: { ...loss.proto, type: 'truncated', at: new Date(this.#clock.now()).toISOString(), text, bytes: 0, effect: undefined } });
    }
    return out;
  }

  #restoreMarker(loss: Loss, session: string): void {
    const now = this.#losses.get(session);
    if (now) now.n += loss.n;
    else this.#losses.set(session, loss);
  }

  /**
   * Anchors the sessions a batch closed in the audit chain: one record per batch (per up to
   * {@link ANCHOR_MAX_SESSIONS} sessions), see {@link anchorRecords}. Each session's flush waits
   * for the record that anchors it.
   */
  #anchorAll(closed: readonly ClosedHead[]): void {
    const audit = this.#audit;
    if (!audit || closed.length === 0) return;
    for (const { input, sessions } of anchorRecords(closed)) {
      const heads = closed.filter((c) => sessions.includes(c.session)).map((c) => ({ session: c.session, events: c.events }));
      // A failed append leaves the close in `recording_anchor_due`: the next sweep anchors it.
      const p = audit.append(input).then(() => { this.#noteAnchored(heads); }, (err: unknown) => { this.#onError(err, 'anchor'); });
      for (const session of sessions) {
        // A session closes once; should it close again, its flush waits for both anchors.
        const both = this.#anchoring.has(session) ? Promise.all([this.#anchoring.get(session), p]).then(() => undefined) : p;
        this.#anchoring.set(session, both);
        void both.finally(() => { if (this.#anchoring.get(session) === both) this.#anchoring.delete(session); });
      }
    }
  }

  /** At close: deletes the `recording_anchor_due` rows of the closes anchored since the last batch (best effort: a sweep finds them anchored). */
  async #clearAnchored(): Promise<void> {
    await this.#anchored(undefined);
    const list = this.#anchoredDone;
    this.#anchoredDone = [];
    if (list.length === 0) return;
    await deleteDue(this.#db, list).catch(() => undefined);
  }

  /** Remembers anchored closes for the next batch to clear (bounded: the sweep clears the rest). */
  #noteAnchored(list: readonly AnchoredClose[]): void {
    for (const a of list) {
      if (this.#anchoredDone.length >= MAX_ANCHORED_PENDING) return;
      this.#anchoredDone.push(a);
    }
  }

  /** Waits for the anchors in progress: of `session`, or all of them. */
  async #anchored(session: string | undefined): Promise<void> {
    if (session !== undefined) {
      for (let p = this.#anchoring.get(session); p !== undefined; p = this.#anchoring.get(session)) await p;
      return;
    }
    while (this.#anchoring.size > 0) await Promise.all([...this.#anchoring.values()]);
  }
}

function label(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v.slice(0, MAX_LABEL) : null;
}

/** The effect of a decision event: `data.effect` (or `data.decision`), when allow, deny or review. */
function effectOf(data: Readonly<Record<string, unknown>>): DecisionEffect | undefined {
  const v = data.effect ?? data.decision;
  if (v === 'allow' || v === 'deny' || v === 'review') return v;
  if (v === 'review_required' || v === 'hold') return 'review';
  return undefined;
}

/** Most anchored closes remembered for the next batch to clear from `recording_anchor_due`. */
const MAX_ANCHORED_PENDING = 10_000;

/** Most sessions one anchor record names. */
export const ANCHOR_MAX_SESSIONS = 100;
/** Most characters of session ids and heads one anchor record holds (the audit log takes 16 KiB of canonical JSON per record). */
const ANCHOR_MAX_CHARS = 12_000;

/**
 * The audit records that anchor the sessions a batch closed, in order. A batch that closes one
 * session gets the per-session record as before: `{kind: 'session.anchor', resource: <session>,
 * user, agent, detail: {session, head_hash, events}}`. A batch that closes several gets one
 * record per up to {@link ANCHOR_MAX_SESSIONS} of them (and ~12 000 characters of ids and heads): `detail: {sessions: [ids], heads:
 * [head hashes], events: [counts]}` (parallel arrays; no resource, user or agent), found for a
 * session through the `audit_log_session_anchors` index (migration 013). Either way the anchor is
 * a record of the audit chain, so changing or removing it is detected by the audit chain's own
 * verification, and `verifySession` checks every anchor naming the session against its chain.
 */
export function anchorRecords(closed: readonly ClosedHead[], late = false): { input: AuditInput; sessions: string[] }[] {
  const mark = late ? { late: true } : {};
  if (closed.length === 1) {
    const c = closed[0]!;
    return [{
      sessions: [c.session],
      input: {
        kind: 'session.anchor', outcome: 'ok', resource: c.session,
        ...(c.user === null ? {} : { user: c.user }), ...(c.agent === null ? {} : { agent: c.agent }),
        detail: { session: c.session, head_hash: c.headHash, events: c.events, ...mark },
      },
    }];
  }
  const out: { input: AuditInput; sessions: string[] }[] = [];
  let part: ClosedHead[] = [];
  let chars = 0;
  const seal = (): void => {
    if (part.length === 0) return;
    const sessions = part.map((c) => c.session);
    out.push({ sessions, input: { kind: 'session.anchor', outcome: 'ok', detail: { sessions, heads: part.map((c) => c.headHash), events: part.map((c) => c.events), ...mark } } });
    part = [];
    chars = 0;
  };
  for (const c of closed) {
    // A session id is at most 200 characters, a head 64, a count a few digits, with quotes and commas.
    const size = c.session.length + c.headHash.length + 24;
    if (part.length >= ANCHOR_MAX_SESSIONS || chars + size > ANCHOR_MAX_CHARS) seal();
    part.push(c);
    chars += size;
  }
  seal();
  return out;
}

/**
 * Replays the journals that processes which did not close cleanly left in `dir`: whatever the
 * store does not have yet (past each journal's committed watermark) is written through the same
 * batch writer, then the journal's files and watermark are removed. Run at start, before serving.
 * Returns the number of events replayed.
 *
 * @example
 *   const replayed = await recoverJournals(db, join(stateDir, 'journal'), { audit, maxSessionBytes });
 */
export async function recoverJournals(
  db: SqlDriver, dir: string,
  opts: { readonly audit?: StoreRecorderOptions['audit']; readonly maxSessionBytes?: number; readonly chunkBytes?: number; readonly exceptId?: string } = {},
): Promise<number> {
  let replayed = 0;
  const write = { maxSessionBytes: opts.maxSessionBytes ?? 50 * 1024 * 1024, chunkChars: Math.max(1024, opts.chunkBytes ?? 256 * 1024) };
  for (const orphan of RecordingJournal.orphans(dir, opts.exceptId)) {
    const [row] = await db.query<{ through: number | string }>('SELECT through FROM recording_journal WHERE id = $1', [orphan.id]);
    const through = row ? Number(row.through) : 0;
    const todo = orphan.entries.filter((e) => e.ticket > through);
    for (let i = 0; i < todo.length; i += 500) {
      const part = todo.slice(i, i + 500);
      const watermark = { journal: orphan.id, through: part[part.length - 1]!.ticket };
      await db.transaction((tx) => writeBatch(tx, part.map((e) => e.event), { ...write, watermark }));
      replayed += part.length;
    }
    await db.query('DELETE FROM recording_journal WHERE id = $1', [orphan.id]);
    orphan.remove();
  }
  // The closes replayed wait in recording_anchor_due (with any a killed process left there).
  if (opts.audit && replayed > 0) await anchorDueSessions(db, opts.audit);
  return replayed;
}

/** The rows of `recording_anchor_due` read per query by {@link anchorDueSessions}. */
const DUE_PAGE = 100;

/** What {@link anchorDueSessions} did: closes anchored late, and closes it refused to anchor (their ids). */
export interface DueSweep {
  anchored: number;
  /** Sessions whose due row disagreed with the store (not closed at that head, or a chain that does not verify): not anchored. */
  refused: string[];
}

/**
 * Anchors the closes the recording committed whose anchor was never appended: a process killed
 * between the batch's commit and the append, or an append that failed. Reads the
 * `recording_anchor_due` rows (migration 016) at least `minAgeMs` old (a live recorder appends its
 * own within milliseconds and then deletes the row) and anchors a row only when **the session has
 * no anchor at all**, is closed, and its stored head and count are the row's, with a chain that
 * verifies up to them. So the sweep can only anchor what its own close would have anchored: it
 * never adds an anchor after an existing one (a database writer who appends events to an
 * anchored session and inserts a due row for them gets nothing), and a row that disagrees with
 * the store is refused (reported in `refused`, then deleted). The anchors it writes carry
 * `late: true`. Every row read is deleted (skipping rows another transaction holds). Two replicas
 * sweeping at once may anchor one close twice: both records hold the same head and count, which
 * verification accepts. At most `maxRows` rows per call (the next call goes on); throws when the
 * store or the audit log fails (the rows not yet anchored stay).
 *
 * @example const { anchored, refused } = await anchorDueSessions(db, audit, { minAgeMs: 60_000 });
 */
export async function anchorDueSessions(
  db: SqlExecutor, audit: NonNullable<StoreRecorderOptions['audit']>,
  opts: { readonly minAgeMs?: number; readonly maxRows?: number; readonly stopped?: () => boolean } = {},
): Promise<DueSweep> {
  const ageSeconds = Math.max(0, opts.minAgeMs ?? 0) / 1000;
  const maxRows = Math.max(1, opts.maxRows ?? 10_000);
  const out: DueSweep = { anchored: 0, refused: [] };
  let seen = 0;
  // Keyset pages in (session, events) order.
  let cursor: [string, number] = ['', -1];
  while (seen < maxRows && opts.stopped?.() !== true) {
    const rows = await db.query<{ session: string; events: number | string; head_hash: string; user_id: string | null; agent_id: string | null }>(
      `SELECT session, events, head_hash, user_id, agent_id FROM recording_anchor_due
        WHERE due_at <= now() - make_interval(secs => $1) AND (session, events) > ($2::text, $3::bigint)
        ORDER BY session, events LIMIT ${DUE_PAGE}`, [ageSeconds, cursor[0], cursor[1]]);
    if (rows.length === 0) break;
    seen += rows.length;
    const last = rows[rows.length - 1]!;
    cursor = [last.session, Number(last.events)];
    const todo: ClosedHead[] = [];
    for (const r of rows) {
      const events = Number(r.events);
      if (todo.some((t) => t.session === r.session)) continue; // one close per session: the first
      if ((await sessionAnchors(db, r.session)).length > 0) continue; // anchored (its own recorder, or closed again since)
      if (await closedAt(db, r.session, events, r.head_hash)) todo.push({ session: r.session, headHash: r.head_hash, events, user: r.user_id, agent: r.agent_id });
      else out.refused.push(r.session);
    }
    for (const { input } of anchorRecords(todo, true)) await audit.append(input);
    out.anchored += todo.length;
    await deleteDue(db, rows.map((r) => ({ session: r.session, events: Number(r.events) })));
    if (rows.length < DUE_PAGE) break;
  }
  return out;
}

/**
 * Whether session `id` is closed with `events` events and head `head` and its chain verifies up
 * to them (a session gone, open, closed at another head, or with a broken chain: false).
 */
async function closedAt(db: SqlExecutor, id: string, events: number, head: string): Promise<boolean> {
  const [s] = await db.query<{ event_count: number | string; head_hash: string; closed_at: unknown }>(
    'SELECT event_count, head_hash, closed_at FROM sessions WHERE id = $1 UNION ALL SELECT event_count, head_hash, closed_at FROM sessions_open WHERE id = $1 LIMIT 1', [id],
  );
  if (!s || s.closed_at === null || Number(s.event_count) !== events || s.head_hash !== head) return false;
  const v = await verifySession(db, id, { requireAnchor: false });
  return v.ok && v.events === events;
}

/**
 * Deletes `recording_anchor_due` rows, skipping those another transaction holds (a replica's
 * batch or sweep deleting the same rows: no lock wait, no deadlock; what is skipped is deleted
 * by its holder or the next sweep).
 */
async function deleteDue(db: SqlExecutor, list: readonly AnchoredClose[]): Promise<void> {
  if (list.length === 0) return;
  await db.query(
    `DELETE FROM recording_anchor_due WHERE (session, events) IN (
       SELECT d.session, d.events FROM recording_anchor_due d JOIN unnest($1::text[], $2::bigint[]) AS v(s, n) ON d.session = v.s AND d.events = v.n
       ORDER BY d.session, d.events FOR UPDATE OF d SKIP LOCKED)`,
    [list.map((a) => a.session), list.map((a) => a.events)],
  );
}
