import { after, type Clock } from './clock.ts';

/** What a group commit does after a failed batch (the consumer's {@link GroupCommitOptions.failed} says). */
export type AfterFailure =
  /** Nothing starts until the retry timer ({@link GroupCommitOptions.retryMs}, doubling up to `maxRetryMs`) fires; pushes and kicks wait for it. */
  | 'retry'
  /** Go on as after a commit: what is queued goes in the next batch, on the interval timer. */
  | 'continue'
  /** Stop: what is queued waits for the next push, kick or flush (no retry loop against a failing store). */
  | 'wait';

/** The consumer's side of a {@link GroupCommit}: how to commit, and what to do when a commit fails. */
export interface GroupCommitOptions<T> {
  /** Timers for the interval and the retry ({@link manualTimers} in tests: nothing sleeps). */
  readonly clock: Pick<Clock, 'timer'>;
  /**
   * Commits one batch (items in push order; empty only when {@link extraWork} says so). Resolves
   * when all of it is committed; rejects when none of it is (a transaction). At most one runs at a
   * time. It may settle its items' callers itself once written.
   */
  readonly commit: (batch: readonly T[]) => Promise<unknown>;
  /**
   * A batch failed: it is no longer in flight. The consumer settles its items, may put some back
   * at the front with {@link GroupCommit.requeue} and drop queued ones with
   * {@link GroupCommit.discard}, and says what happens next. Every {@link GroupCommit.flush}
   * waiting resolves `false` after it.
   */
  readonly failed: (batch: readonly T[], err: unknown) => AfterFailure;
  /** A batch committed (after it left the in-flight list). */
  readonly committed?: (batch: readonly T[]) => void;
  /** A drain ended (nothing more to do now, a failure, or the interval takes over). */
  readonly afterDrain?: () => void;
  /** Most items per batch (at least 1). */
  readonly maxBatch: number;
  /** Most items queued (not counting the batch in flight); {@link GroupCommit.push} refuses past it. */
  readonly maxQueue: number;
  /** Most total {@link weight} queued (e.g. bytes); unbounded when absent. */
  readonly maxWeight?: number;
  readonly weight?: (item: T) => number;
  /**
   * How long a pushed item waits for others to share its batch (ms, on `clock`). 0: the next
   * {@link soon}. Urgent work (a kick, a flush, {@link urgent}) does not wait for it.
   */
  readonly intervalMs: number;
  /**
   * When urgent work starts: `microtask` (pushes of the same synchronous run share the batch) or
   * `turn` (`setImmediate`: also what I/O callbacks of the same event-loop turn push — concurrent
   * clients flushing at once share one commit). Default `microtask`.
   */
  readonly soon?: 'microtask' | 'turn';
  /**
   * After a batch commits, the next goes at once when: a full batch is queued, someone waits
   * ({@link urgent}, a flush, a kick during the drain), or `backToBack` (everything queued is
   * written before the interval timer takes over). Default false: a steady trickle of pushes pays
   * one commit per interval.
   */
  readonly backToBack?: boolean;
  /** The consumer has callers waiting (e.g. awaited appends): the drain goes at once and on. */
  readonly urgent?: () => boolean;
  /** Work beside the queue (e.g. loss markers): a drain that starts commits an empty batch for it. */
  readonly extraWork?: () => boolean;
  /** First wait after a failure answered `retry` (ms). Default 1000. */
  readonly retryMs?: number;
  /** Longest wait between retries; each failed retry doubles the wait up to it. Default `retryMs` (no growth). */
  readonly maxRetryMs?: number;
  /** A consumer callback threw (a bug): told here, the engine goes on. */
  readonly onError?: (err: unknown) => void;
}

type State = 'idle' | 'timer' | 'soon' | 'committing' | 'retry';

/**
 * One group-commit engine (the audit log and the recorder use it): items are pushed into a
 * bounded queue and committed in batches, one `commit` at a time, so everything that arrives while
 * a batch commits rides in a later one instead of paying a commit each.
 *
 * Contract:
 * - **Order, once.** Items are committed in push order, each in exactly one committed batch
 *   (unless the consumer discards it, or does not requeue it after a failure). A requeued item
 *   goes back to the front, before everything pushed after it.
 * - **Bounded.** {@link push} refuses (returns false) when `maxQueue` items or `maxWeight` are
 *   queued, or after {@link close}. Requeued items are not refused: a failure can take the queue
 *   past its bound by at most the failed batch (the consumer may trim it).
 * - **Interval.** A push to an idle engine starts a drain after `intervalMs` on the clock (or at
 *   once when {@link GroupCommitOptions.urgent}); {@link kick} and {@link flush} start it at once
 *   ({@link GroupCommitOptions.soon}), cancelling the interval timer.
 * - **Flush.** {@link flush} resolves `true` once everything pushed before it is committed (or
 *   discarded), `false` as soon as a batch fails meanwhile. It never rejects.
 * - **Failure.** The consumer's `failed` decides: `retry` (after a back-off on the clock; nothing
 *   starts meanwhile), `continue` or `wait`. A callback that throws is reported to `onError`.
 * - **Close.** {@link close} refuses further pushes, cancels a pending retry, makes one last
 *   attempt at what is queued and resolves whether nothing is left; no timer is left armed.
 *
 * @example
 *   const gc = new GroupCommit<Row>({ clock, intervalMs: 50, maxBatch: 500, maxQueue: 10_000,
 *     commit: (rows) => db.insert(rows), failed: () => 'wait' });
 *   if (!gc.push(row)) refuse();
 *   await gc.flush();
 */
export class GroupCommit<T> {
  readonly #o: GroupCommitOptions<T>;
  readonly #maxBatch: number;
  /** Queued items and their push sequence numbers (kept in step; ascending). */
  #items: T[] = [];
  #seqs: number[] = [];
  #weight = 0;
  #inflight: readonly T[] = [];
  #inflightSeqs: readonly number[] = [];
  #lastSeq = 0;
  #state: State = 'idle';
  #cancelTimer: (() => void) | undefined;
  /** A push or kick arrived while committing (after a `wait` failure, what is queued is scheduled). */
  #arrived = false;
  /** A kick arrived while committing: the drain goes on. */
  #kicked = false;
  #closed = false;
  #retryMs: number;
  readonly #flushes: { target: number; resolve: (ok: boolean) => void }[] = [];
  /** The batch whose failure the consumer is handling (for {@link requeue}). */
  #failedBatch: { readonly items: readonly T[]; readonly seqs: readonly number[] } | undefined;
  /** The drain running (committing), for {@link close}. */
  #running: Promise<void> | undefined;

  constructor(o: GroupCommitOptions<T>) {
    this.#o = o;
    this.#maxBatch = Math.max(1, Math.trunc(o.maxBatch));
    this.#retryMs = o.retryMs ?? 1000;
  }

  /** Items queued (not in flight), in push order. Read-only: change it through the methods. */
  get queued(): readonly T[] { return this.#items; }
  /** The batch being committed (empty when none). */
  get inflight(): readonly T[] { return this.#inflight; }
  get length(): number { return this.#items.length; }
  /** Total weight queued. */
  get weight(): number { return this.#weight; }
  /** A failed batch waits for its retry timer. */
  get retrying(): boolean { return this.#state === 'retry'; }

  /**
   * Queues one item; false (nothing queued) when the queue is at its bound or closed. Starts the
   * interval timer when idle.
   */
  push(item: T): boolean {
    const w = this.#o.weight?.(item) ?? 0;
    if (this.#closed || this.#items.length >= this.#o.maxQueue) return false;
    if (this.#o.maxWeight !== undefined && this.#weight + w > this.#o.maxWeight) return false;
    this.#items.push(item);
    this.#seqs.push(++this.#lastSeq);
    this.#weight += w;
    if (this.#state === 'committing') this.#arrived = true;
    else if (this.#state === 'idle') this.#schedule();
    return true;
  }

  /** Starts a drain at once (cancelling the interval timer); during a drain, it goes on. Not during a retry wait. */
  kick(): void {
    switch (this.#state) {
      case 'idle': this.#start(); break;
      case 'timer': this.#cancel(); this.#start(); break;
      case 'committing': this.#kicked = true; this.#arrived = true; break;
      case 'soon': case 'retry': break;
    }
  }

  /**
   * Resolves `true` once every item pushed before the call is committed (or was discarded),
   * `false` when a batch fails first. Starts a drain at once; during a retry wait, waits for the
   * retry.
   */
  flush(): Promise<boolean> {
    const target = this.#lastSeq;
    if (this.#settledSeq() >= target && this.#state !== 'committing' && !(this.#o.extraWork?.() ?? false)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      this.#flushes.push({ target, resolve });
      this.kick();
    });
  }

  /**
   * Puts items of the failed batch back at the front, in their batch order. Only from
   * {@link GroupCommitOptions.failed}, and only items of that batch (throws otherwise).
   */
  requeue(items: readonly T[]): void {
    const batch = this.#failedBatch;
    if (batch === undefined) throw new Error('GroupCommit.requeue outside a failed() callback');
    const seqs: number[] = [];
    let j = 0;
    for (const it of items) {
      while (j < batch.items.length && batch.items[j] !== it) j++;
      if (j >= batch.items.length) throw new Error('GroupCommit.requeue: not an item of the failed batch, or out of order');
      seqs.push(batch.seqs[j++]!);
    }
    this.#items.unshift(...items);
    this.#seqs.unshift(...seqs);
    for (const it of items) this.#weight += this.#o.weight?.(it) ?? 0;
  }

  /** Removes the queued items `drop` picks, returning them (their callers are the consumer's to settle). */
  discard(drop: (item: T) => boolean): T[] {
    const out: T[] = [];
    const items: T[] = [];
    const seqs: number[] = [];
    this.#items.forEach((it, i) => {
      if (drop(it)) { out.push(it); this.#weight -= this.#o.weight?.(it) ?? 0; } else { items.push(it); seqs.push(this.#seqs[i]!); }
    });
    this.#items = items;
    this.#seqs = seqs;
    return out;
  }

  /** Cancels a pending retry (closing); the queue stays. */
  cancelRetry(): void {
    if (this.#state !== 'retry') return;
    this.#cancel();
    this.#state = 'idle';
  }

  /**
   * Refuses further pushes, cancels a pending retry and makes one last attempt at what is queued.
   * Resolves true when nothing is left (queued or in flight); no timer stays armed.
   */
  async close(): Promise<boolean> {
    this.#closed = true;
    this.cancelRetry();
    if (this.#items.length > 0 || this.#state === 'committing' || (this.#o.extraWork?.() ?? false)) await this.flush();
    while (this.#running) await this.#running;
    this.cancelRetry();
    if (this.#state === 'timer' || this.#state === 'soon') { this.#cancel(); this.#state = 'idle'; }
    return this.#items.length === 0 && this.#inflight.length === 0;
  }

  /** Every item with a sequence number up to this one is committed, failed or discarded. */
  #settledSeq(): number {
    const first = this.#inflightSeqs[0] ?? this.#seqs[0];
    return first === undefined ? this.#lastSeq : first - 1;
  }

  #pressing(): boolean {
    return this.#kicked || this.#flushes.length > 0 || (this.#o.urgent?.() ?? false);
  }

  /** Arms the interval timer (or starts soon when urgent or without an interval). */
  #schedule(): void {
    if (this.#closed && this.#flushes.length === 0) return;
    if (this.#o.intervalMs <= 0 || this.#pressing()) { this.#start(); return; }
    this.#state = 'timer';
    this.#cancelTimer = after(this.#o.clock, this.#o.intervalMs, () => { this.#cancelTimer = undefined; this.#state = 'idle'; this.#run(); });
  }

  /** Starts a drain soon (microtask or next turn). */
  #start(): void {
    this.#state = 'soon';
    if (this.#o.soon === 'turn') {
      const t = setImmediate(() => { this.#cancelTimer = undefined; this.#run(); });
      this.#cancelTimer = () => { clearImmediate(t); };
    } else {
      let cancelled = false;
      this.#cancelTimer = () => { cancelled = true; };
      queueMicrotask(() => { if (cancelled) return; this.#cancelTimer = undefined; this.#run(); });
    }
  }

  #cancel(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  #run(): void {
    this.#state = 'committing';
    this.#running = this.#drain().finally(() => { this.#running = undefined; });
  }

  #call<R>(fn: () => R, fallback: R): R {
    try {
      return fn();
    } catch (err) {
      this.#o.onError?.(err);
      return fallback;
    }
  }

  async #drain(): Promise<void> {
    this.#arrived = false;
    this.#kicked = false;
    let outcome: AfterFailure | 'ok' = 'ok';
    for (let first = true; ; first = false) {
      if (this.#items.length === 0 && !this.#call(() => this.#o.extraWork?.() ?? false, false)) break;
      if (!first && !(this.#o.backToBack === true || this.#pressing() || this.#items.length >= this.#maxBatch)) break;
      this.#kicked = false;
      const batch = this.#items.splice(0, this.#maxBatch);
      const seqs = this.#seqs.splice(0, batch.length);
      for (const it of batch) this.#weight -= this.#o.weight?.(it) ?? 0;
      this.#inflight = batch;
      this.#inflightSeqs = seqs;
      try {
        await this.#o.commit(batch);
      } catch (err) {
        this.#inflight = [];
        this.#inflightSeqs = [];
        this.#failedBatch = { items: batch, seqs };
        outcome = this.#call(() => this.#o.failed(batch, err), 'wait');
        this.#failedBatch = undefined;
        for (const f of this.#flushes.splice(0)) f.resolve(false);
        break;
      }
      this.#inflight = [];
      this.#inflightSeqs = [];
      this.#retryMs = this.#o.retryMs ?? 1000;
      this.#call(() => this.#o.committed?.(batch), undefined);
      this.#settleFlushes();
    }
    this.#settleFlushes();
    this.#call(() => this.#o.afterDrain?.(), undefined);
    this.#state = 'idle';
    if (outcome === 'retry' && !this.#closed) {
      this.#state = 'retry';
      const ms = this.#retryMs;
      this.#retryMs = Math.min(Math.max(this.#o.maxRetryMs ?? ms, ms), ms * 2);
      this.#cancelTimer = after(this.#o.clock, ms, () => { this.#cancelTimer = undefined; this.#state = 'idle'; this.#start(); });
      return;
    }
    if (this.#items.length === 0) return;
    if (outcome === 'ok' || outcome === 'continue' || this.#arrived || this.#flushes.length > 0) this.#schedule();
  }

  #settleFlushes(): void {
    if (this.#flushes.length === 0) return;
    const through = this.#settledSeq();
    for (let i = this.#flushes.length - 1; i >= 0; i--) {
      const f = this.#flushes[i]!;
      if (f.target <= through) { this.#flushes.splice(i, 1); f.resolve(true); }
    }
  }
}
