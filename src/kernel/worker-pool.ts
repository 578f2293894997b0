import { Worker, type ResourceLimits, type Transferable } from 'node:worker_threads';
import { after, systemClock, type Clock } from './clock.ts';
import { isErrorCode, type ErrorCode } from './errors.ts';

/** Why a task did not produce a result. */
export type WorkerFailure = 'busy' | 'timeout' | 'crashed' | 'closed' | 'failed';

/**
 * A task that did not complete on a worker. `reason` says why: the queue was full (`busy`), the
 * task outlived its deadline (`timeout`, the worker was terminated and is replaced), the worker
 * died (`crashed`), the pool was closed (`closed`), or the task's own code threw (`failed`,
 * with the worker's `remoteCode` when it sent one). `code` is the registry code it surfaces as:
 * the worker's own when that is a registered code other than `internal` (a task that refused its
 * input, e.g. `invalid_json`), else `inspection_unavailable` (the work could not be done).
 */
export class WorkerPoolError extends Error {
  readonly reason: WorkerFailure;
  readonly code: ErrorCode;
  /** The code the worker's error carried (a registry code, or an error name such as `SyntaxError`). */
  readonly remoteCode: string | undefined;
  constructor(reason: WorkerFailure, message: string, remoteCode?: string) {
    super(message);
    this.name = 'WorkerPoolError';
    this.reason = reason;
    this.remoteCode = remoteCode;
    this.code = isErrorCode(remoteCode) && remoteCode !== 'internal' ? remoteCode : 'inspection_unavailable';
  }
}

/** Options of a {@link WorkerPool}; every bound is required. */
export interface WorkerPoolOptions {
  /** The worker's module; it must call {@link serveTasks} (worker-serve.ts). */
  readonly script: URL;
  /** Passed to every worker as `workerData` (structured-cloned). */
  readonly workerData?: unknown;
  /** Most workers at once (≥ 1); they start on demand. */
  readonly size: number;
  /** Most tasks waiting for a worker; one more is refused (`busy`). */
  readonly queue: number;
  /** Deadline of one task on its worker (ms), worker start-up included. */
  readonly timeoutMs: number;
  /** V8 heap bounds of each worker (a worker that exceeds them dies: `crashed`). */
  readonly resourceLimits?: ResourceLimits;
  /**
   * A worker idle this long (ms) is ended, and started again on demand (its isolate and
   * WebAssembly instances, tens of MiB each, are given back after a burst). Default: kept.
   */
  readonly idleMs?: number;
  /** Runs the task deadlines and idle timers (default: real time); tests pass `manualTimers`. */
  readonly clock?: Clock;
}

interface Task {
  readonly payload: unknown;
  readonly transfer: readonly Transferable[];
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: WorkerPoolError) => void;
}

interface Slot {
  readonly worker: Worker;
  task: (Task & { readonly id: number; readonly cancelTimer: () => void }) | undefined;
  dead: boolean;
  /** Cancels the timer that ends the worker once it has been idle for `idleMs`. */
  idleTimer: (() => void) | undefined;
}

/** A worker's answer (see worker-serve.ts). */
type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; message: string; code?: string };

function isReply(v: unknown): v is Reply {
  return typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'number' && typeof (v as { ok?: unknown }).ok === 'boolean';
}

/**
 * A bounded pool of `node:worker_threads` workers running one task at a time each, for CPU-heavy
 * work that must not hold the event loop. Bounded in every direction: `size` workers, `queue`
 * waiting tasks, `timeoutMs` per task. Fails closed: a full queue, a timeout, a crash or a closed
 * pool rejects the task with a {@link WorkerPoolError}, never resolves it with a guess. A worker
 * that timed out is terminated and a worker that died is replaced on the next task.
 *
 * @example
 *   const pool = new WorkerPool<{ sql: string }, Inspection>({ script: new URL('./w.ts', import.meta.url), size: 2, queue: 64, timeoutMs: 10_000 });
 *   const r = await pool.run({ sql });
 *   await pool.close();
 */
export class WorkerPool<Req, Res> {
  readonly #opts: WorkerPoolOptions;
  readonly #clock: Clock;
  readonly #slots: Slot[] = [];
  readonly #waiting: Task[] = [];
  #nextId = 1;
  #closed = false;
  #completed = 0;

  constructor(opts: WorkerPoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 1) throw new RangeError('worker pool size must be a positive integer');
    if (!Number.isInteger(opts.queue) || opts.queue < 0) throw new RangeError('worker pool queue must be a non-negative integer');
    if (!(opts.timeoutMs > 0)) throw new RangeError('worker pool timeout must be positive');
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  /** Workers alive, busy, tasks waiting, tasks completed (for tests and metrics). */
  get stats(): { workers: number; busy: number; queued: number; completed: number } {
    return {
      workers: this.#slots.length, busy: this.#slots.filter((s) => s.task !== undefined).length,
      queued: this.#waiting.length, completed: this.#completed,
    };
  }

  /** Runs `payload` on a worker. `transfer` lists buffers moved (not copied) to the worker. */
  run(payload: Req, transfer: readonly Transferable[] = []): Promise<Res> {
    if (this.#closed) return Promise.reject(new WorkerPoolError('closed', 'the worker pool is closed'));
    return new Promise<Res>((resolve, reject) => {
      const task: Task = { payload, transfer, resolve: resolve as (v: unknown) => void, reject };
      const slot = this.#idleSlot();
      if (slot !== undefined) { this.#dispatch(slot, task); return; }
      if (this.#waiting.length >= this.#opts.queue) {
        reject(new WorkerPoolError('busy', `every inspection worker is busy and ${this.#opts.queue} tasks are waiting`));
        return;
      }
      this.#waiting.push(task);
    });
  }

  /** Terminates every worker; running and waiting tasks are rejected (`closed`). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#waiting.splice(0)) t.reject(new WorkerPoolError('closed', 'the worker pool is closed'));
    const slots = this.#slots.splice(0);
    for (const s of slots) s.idleTimer?.();
    for (const s of slots) this.#fail(s, new WorkerPoolError('closed', 'the worker pool is closed'));
    await Promise.all(slots.map((s) => s.worker.terminate().catch(() => undefined)));
  }

  #idleSlot(): Slot | undefined {
    const idle = this.#slots.find((s) => s.task === undefined && !s.dead);
    if (idle !== undefined) return idle;
    if (this.#slots.length >= this.#opts.size) return undefined;
    return this.#spawn();
  }

  #spawn(): Slot {
    const worker = new Worker(this.#opts.script, {
      workerData: this.#opts.workerData,
      ...(this.#opts.resourceLimits ? { resourceLimits: this.#opts.resourceLimits } : {}),
    });
    worker.unref();
    const slot: Slot = { worker, task: undefined, dead: false, idleTimer: undefined };
    worker.on('message', (m: unknown) => { this.#onReply(slot, m); });
    worker.on('error', (err: Error) => { this.#onDeath(slot, `the inspection worker crashed: ${err.message.slice(0, 200)}`); });
    worker.on('exit', (code) => { this.#onDeath(slot, `the inspection worker exited (code ${code})`); });
    this.#slots.push(slot);
    return slot;
  }

  #dispatch(slot: Slot, task: Task): void {
    if (slot.idleTimer !== undefined) { slot.idleTimer(); slot.idleTimer = undefined; }
    const id = this.#nextId++;
    const cancelTimer = after(this.#clock, this.#opts.timeoutMs, () => {
      this.#remove(slot);
      this.#fail(slot, new WorkerPoolError('timeout', `inspection took longer than ${this.#opts.timeoutMs} ms`));
      void slot.worker.terminate().catch(() => undefined);
      this.#drain();
    }, { keepAlive: true }); // the worker is unref'd: a running task holds the process open through its deadline
    slot.task = { ...task, id, cancelTimer };
    try {
      slot.worker.postMessage({ id, payload: task.payload }, [...task.transfer]);
    } catch (err) {
      this.#fail(slot, new WorkerPoolError('failed', `the task could not be sent to a worker: ${err instanceof Error ? err.message : String(err)}`));
      this.#drain();
    }
  }

  #onReply(slot: Slot, m: unknown): void {
    const task = slot.task;
    if (!isReply(m) || task === undefined || m.id !== task.id) return;
    task.cancelTimer();
    slot.task = undefined;
    this.#completed++;
    if (m.ok) task.resolve(m.result);
    else task.reject(new WorkerPoolError('failed', m.message, m.code));
    this.#drain();
  }

  #onDeath(slot: Slot, message: string): void {
    if (slot.dead) return;
    this.#remove(slot);
    this.#fail(slot, new WorkerPoolError('crashed', message));
    this.#drain();
  }

  #remove(slot: Slot): void {
    slot.dead = true;
    if (slot.idleTimer !== undefined) { slot.idleTimer(); slot.idleTimer = undefined; }
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
  }

  #fail(slot: Slot, err: WorkerPoolError): void {
    const task = slot.task;
    if (task === undefined) return;
    task.cancelTimer();
    slot.task = undefined;
    task.reject(err);
  }

  /** Hands waiting tasks to idle (or new) workers; arms the idle timer of workers left idle. */
  #drain(): void {
    while (!this.#closed && this.#waiting.length > 0) {
      const slot = this.#idleSlot();
      if (slot === undefined) break;
      const task = this.#waiting.shift();
      if (task !== undefined) this.#dispatch(slot, task);
    }
    const idleMs = this.#opts.idleMs;
    if (idleMs === undefined || this.#closed) return;
    for (const slot of this.#slots) {
      if (slot.task !== undefined || slot.dead || slot.idleTimer !== undefined) continue;
      slot.idleTimer = after(this.#clock, idleMs, () => {
        slot.idleTimer = undefined;
        if (slot.task !== undefined || slot.dead) return;
        this.#remove(slot);
        void slot.worker.terminate().catch(() => undefined);
      });
    }
  }
}
