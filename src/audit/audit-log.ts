import { after, type Clock } from '../kernel/clock.ts';
import { GatehouseError } from '../kernel/errors.ts';
import { GroupCommit, type AfterFailure } from '../kernel/group-commit.ts';
import type { SqlDriver } from '../store/sql.ts';
import { bodyAt, chainHash, sameParts } from './chain.ts';
import { AUDIT_COLUMNS, fromRow, prepareInput, toRecord, type AuditInput, type AuditRecord, type AuditRow, type PendingFields } from './record.ts';
import { verifyChain, type VerifyResult } from './verify.ts';

export type { AuditInput, AuditRecord } from './record.ts';
export type { VerifyResult } from './verify.ts';

/** Filters for {@link AuditLog.list}; results are newest first. */
export interface AuditFilter {
  /** Default 50, at most 1000. */
  readonly limit?: number;
  /** Only records with `seq < beforeSeq` (paging: pass the last seq of the previous page). */
  readonly beforeSeq?: number;
  readonly kind?: string;
  readonly user?: string;
}

export interface AuditLogOptions {
  /** Most records written in one transaction. Default 200, at most 1000. */
  readonly maxBatch?: number;
  /** Most appends waiting for a batch; past it appends are refused (fail closed). Default 10 000. */
  readonly maxQueue?: number;
  /**
   * How long an {@link AuditLog.enqueue}d record may wait for its batch (ms), so that busy data
   * paths share one transaction instead of paying a commit each (on the embedded store a commit
   * costs milliseconds of store-thread CPU whatever its size). Default {@link GROUP_COMMIT_MS};
   * 0 = next microtask. Awaited appends never wait for it.
   */
  readonly groupCommitMs?: number;
}

interface Pending {
  readonly fields: PendingFields;
  /** Decisions this record stands for: identical ones enqueued right after it add to it while it is queued. */
  count: number;
  /** The last of those decisions' time (null while it is one). */
  lastAt: string | null;
  /** May take the identical decisions enqueued right after it (see {@link mergeable}). */
  readonly mergeable: boolean;
  readonly resolve: (r: AuditRecord) => void;
  readonly reject: (e: Error) => void;
  /** Enqueued (no caller waiting): kept for another batch when one fails, up to MAX_ATTEMPTS. */
  readonly retained: boolean;
  attempts: number;
}

/**
 * How long an enqueued record waits for its batch by default (ms). A store transaction has a
 * fixed cost (on the embedded store ~1 ms of store-thread CPU, commit and WAL file work) on top
 * of ~15-30 µs per row: at 2 000 decisions/s, 50 ms batches of ~100 rows paid ~13 µs of fixed
 * cost per decision, 200 ms batches ~3 (bench/audit-store.ts). A full batch (`maxBatch`) still
 * goes at once, and the health gate is unchanged: a failed batch denies from then on.
 */
export const GROUP_COMMIT_MS = 200;

/** Batches an enqueued record may fail in before it is dropped (and counted as lost). */
const MAX_ATTEMPTS = 3;
const noop = (): void => undefined;

const COLS = 13;

/** Most decisions one run record stands for (the `count` column is an `integer`). */
const MAX_RUN = 1_000_000;

/**
 * Which enqueued records may stand for a run of identical decisions: allowed ones only. A
 * denial, a review hold, a refusal or any other outcome is one record per event — each is what
 * an investigator looks for, with its own time, and an agent hammering a denied statement must
 * stay visible as such (its cost is bounded by the queue and the per-principal limits). Awaited
 * appends (sign-ins, admin changes, review steps, session anchors) are never merged: each caller
 * gets its own record back.
 */
function mergeable(f: PendingFields): boolean {
  return f.outcome === 'allow';
}

/**
 * The tamper-evident audit log: every record carries sha256(prev_hash ‖ canonical record), and
 * `audit_head` holds the last seq and hash. Appends are group-committed (the shared
 * {@link GroupCommit} engine, on the injected clock's timers): all appends that arrive while a
 * batch is being written go together in the next transaction, which locks the head row
 * `FOR UPDATE` (so replicas sharing one PostgreSQL interleave whole batches, never records).
 * An append resolves only after its batch committed; if the batch fails, every append in it
 * rejects with `store_unavailable` and nothing of it is stored.
 *
 * The data path uses {@link enqueue} instead: nobody waits for the commit, and {@link healthy} is
 * the synchronous gate. Guarantee: an enqueued record reaches the log within one group-commit
 * interval (the next batch) while the store works; when a batch fails (or the queue is over its
 * bound) `healthy()` is false until a later batch commits, and callers stop admitting requests.
 * Enqueued records of a failed batch are retried with the next batches (3 attempts); records
 * dropped after that are counted and an `audit.records_lost` record with the count is written by
 * the next successful batch, so a gap is visible in the chain.
 *
 * `detail` must never contain secrets: callers pass ids, kinds and reason codes only.
 *
 * @example
 *   const audit = new AuditLog(db, systemClock);
 *   await audit.append({ kind: 'auth.failure', outcome: 'deny', detail: { reason: 'expired' } });
 *   const { ok } = await audit.verify();
 */
export class AuditLog {
  readonly #db: SqlDriver;
  readonly #clock: Clock;
  readonly #maxQueue: number;
  /** The group-commit engine: queue, interval timer, batches (see {@link GroupCommit}). */
  readonly #gc: GroupCommit<Pending>;
  #lastBatchFailed = false;
  /** Awaited appends not yet settled: while there are any, drains start at once and go on. */
  #awaited = 0;
  #lost = 0;
  readonly #roomWaiters = new Set<() => void>();
  /** The record pushed last (a run grows only on it, and only while it is queued). */
  #last: Pending | undefined;
  /** The head after this log's last committed batch; undefined when unknown (first batch, after a failure). */
  #head: Head | undefined;

  constructor(db: SqlDriver, clock: Clock, opts: AuditLogOptions = {}) {
    this.#db = db;
    this.#clock = clock;
    this.#maxQueue = clampInt(opts.maxQueue ?? 10_000, 1, 1_000_000);
    // A full batch, an awaited append or a flush goes at once; a partial batch of enqueued records
    // waits for the group-commit interval, so a busy data path pays one commit per interval. A
    // failed batch is not retried on a timer: the next append, enqueue or flush tries again.
    this.#gc = new GroupCommit<Pending>({
      clock,
      maxBatch: clampInt(opts.maxBatch ?? 1000, 1, 5000),
      maxQueue: this.#maxQueue,
      intervalMs: clampInt(opts.groupCommitMs ?? GROUP_COMMIT_MS, 0, 1000),
      soon: 'microtask', // appends made in the same tick share a batch
      urgent: () => this.#awaited > 0,
      commit: (batch) => this.#commit(batch),
      failed: (batch, err) => this.#failed(batch, err),
    });
  }

  /** Records one event; resolves with the stored record once its batch is committed. */
  async append(e: AuditInput): Promise<AuditRecord> {
    const fields = prepareInput(e, this.#clock.now());
    return new Promise<AuditRecord>((resolve, reject) => {
      this.#awaited++;
      const p: Pending = { fields, count: 1, lastAt: null, mergeable: false, resolve: (r) => { this.#awaited--; resolve(r); }, reject: (e) => { this.#awaited--; reject(e); }, retained: false, attempts: 0 };
      // Refused by the engine (its bound, like enqueue's): rejected at once, no caller left waiting.
      if (!this.#gc.push(p)) {
        this.#awaited--;
        reject(new GatehouseError('store_unavailable', 'audit log queue is full'));
        return;
      }
      this.#last = p;
      this.#gc.kick();
    });
  }

  /**
   * Records one event without waiting for the commit (the data path). Throws synchronously when
   * the record is invalid (`internal`) or the queue is full (`store_unavailable`); check
   * {@link healthy} first and deny when it is false.
   *
   * **Runs.** An allowed decision identical to the one enqueued just before it — the same JSON in
   * every field but its time (kind, user, agent, action, resource, outcome, detail: the record's
   * canonical text, not a list of fields) — while that one is still queued is counted into it
   * instead of queued: the stored record carries `count` and the first and last time, and the
   * chain hashes them. So a data path deciding the same statement again and again writes one row
   * per group-commit interval, not one per decision, and nothing waits longer than before.
   * Anything in between (another decision, an awaited append) ends the run.
   *
   * @example
   *   if (!audit.healthy()) return deny('audit-unavailable');
   *   audit.enqueue({ kind: 'policy.decision', user, outcome: 'allow' });
   */
  enqueue(e: AuditInput): void {
    const fields = prepareInput(e, this.#clock.now());
    const may = mergeable(fields);
    const last = this.#last;
    if (may && last !== undefined && last.mergeable && last.count < MAX_RUN && sameParts(last.fields.parts, fields.parts)) {
      const q = this.#gc.queued;
      // Only while it waits in the queue (not in a batch being written) and is the newest there.
      if (q[q.length - 1] === last) {
        last.count++;
        last.lastAt = fields.at;
        return;
      }
    }
    const p: Pending = { fields, count: 1, lastAt: null, mergeable: may, resolve: noop, reject: noop, retained: true, attempts: 0 };
    if (!this.#gc.push(p)) {
      throw new GatehouseError('store_unavailable', 'audit log queue is full');
    }
    this.#last = p;
  }

  /**
   * Back-pressure for callers that enqueue at a high rate: resolves once the queue is below half
   * its bound (undefined when it already is). The store thread writes batches while the data path
   * runs, so a sustained burst fills the queue; waiting here slows admission down to the store's
   * pace instead of failing requests. Rejects after `timeoutMs` (on the clock) if the queue does not drain.
   */
  room(timeoutMs = 5_000): Promise<void> | undefined {
    if (this.#gc.length < this.#maxQueue / 2 || this.#lastBatchFailed) return undefined;
    return new Promise<void>((resolve, reject) => {
      const cancel = after(this.#clock, timeoutMs, () => { this.#roomWaiters.delete(w); reject(new GatehouseError('store_unavailable', 'audit log is not draining')); });
      const w = (): void => { cancel(); resolve(); };
      this.#roomWaiters.add(w);
      this.#gc.kick();
    });
  }

  /** False while the last batch failed (until one commits) or the queue is at its bound. */
  healthy(): boolean {
    return !this.#lastBatchFailed && this.#gc.length < this.#maxQueue;
  }

  /**
   * Resolves when every append made before the call has been committed or rejected; enqueued
   * records left over from a failed batch get one more attempt.
   */
  async flush(): Promise<void> {
    await this.#gc.flush();
  }

  /**
   * Records newest first, optionally filtered by kind and user, paged by `beforeSeq`. Records
   * enqueued in this process are written first, so a reader sees every decision already made.
   */
  async list(f: AuditFilter = {}): Promise<AuditRecord[]> {
    await this.flush();
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.beforeSeq !== undefined) { params.push(f.beforeSeq); where.push(`seq < $${params.length}`); }
    if (f.kind !== undefined) { params.push(f.kind); where.push(`kind = $${params.length}`); }
    if (f.user !== undefined) { params.push(f.user); where.push(`user_id = $${params.length}`); }
    params.push(clampInt(f.limit ?? 50, 1, 1000));
    const sql = `SELECT ${AUDIT_COLUMNS} FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${params.length}`;
    return (await this.#db.query<AuditRow>(sql, params)).map(fromRow);
  }

  /** Walks the whole chain (after writing what is queued); see {@link verifyChain}. */
  async verify(): Promise<VerifyResult> {
    await this.flush();
    return verifyChain(this.#db);
  }

  /** Commits one batch (after an `audit.records_lost` record when records were dropped) and settles it. */
  async #commit(queued: readonly Pending[]): Promise<void> {
    const lost = this.#lost;
    const batch = lost > 0
      ? [{ fields: prepareInput({ kind: 'audit.records_lost', outcome: 'error', detail: { count: lost } }, this.#clock.now()), count: 1, lastAt: null, mergeable: false, resolve: noop, reject: noop, retained: false, attempts: 0 }, ...queued]
      : queued;
    const records = await this.#writeBatch(batch);
    this.#lastBatchFailed = false;
    this.#lost -= lost;
    batch.forEach((p, i) => { const r = records[i]; if (r) p.resolve(r); else if (!p.retained) p.reject(new Error('audit record missing from its batch')); });
    if (this.#roomWaiters.size > 0 && this.#gc.length < this.#maxQueue / 2) {
      for (const w of this.#roomWaiters) w();
      this.#roomWaiters.clear();
    }
  }

  /**
   * A batch failed: every append in it rejects; its enqueued records go back to the front for
   * another batch (3 attempts, within the bound: the oldest are kept), the rest count as lost;
   * awaited appends still queued fail fast rather than wait for a retry that may never come.
   */
  #failed(batch: readonly Pending[], err: unknown): AfterFailure {
    this.#lastBatchFailed = true;
    const failure = new GatehouseError('store_unavailable', 'audit log append failed', {}, { cause: err });
    const retry: Pending[] = [];
    for (const p of batch) {
      p.reject(failure);
      if (!p.retained) continue;
      p.attempts++;
      if (p.attempts < MAX_ATTEMPTS) retry.push(p);
      else this.#lost += p.count;
    }
    const room = Math.max(0, this.#maxQueue - this.#gc.length);
    for (const p of retry.slice(room)) this.#lost += p.count;
    this.#gc.requeue(retry.slice(0, room));
    for (const p of this.#gc.discard((q) => !q.retained)) p.reject(failure);
    // After a failure, retained records wait for the next append/enqueue/flush (no busy retry loop).
    return 'wait';
  }

  /**
   * Writes one batch. With the head known from the last batch, it is one autocommitted statement
   * that inserts only if `audit_head` still holds that head (locked `FOR UPDATE`, re-checked after
   * any concurrent writer commits): one round trip, no BEGIN/COMMIT. When another replica moved
   * the head meanwhile, nothing is written and the batch goes through the locking transaction.
   */
  async #writeBatch(batch: readonly Pending[]): Promise<(AuditRecord | undefined)[]> {
    const known = this.#head;
    this.#head = undefined; // unknown until this batch's outcome is
    if (known !== undefined) {
      const b = chainBatch(batch, known);
      const rows = await this.#db.query<{ n: number | string }>(CONDITIONAL_APPEND, [...b.cols, known.seq, known.hash, b.head.seq, b.head.hash]);
      // Any driver: an int may come back as a string; 0 means another writer moved the head.
      if (Number(rows[0]?.n) === 1) {
        this.#head = b.head;
        return b.records;
      }
    }
    const b = await this.#db.transaction(async (tx) => {
      const [row] = await tx.query<{ seq: number | string; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE');
      if (!row) throw new Error('audit_head row is missing');
      const chained = chainBatch(batch, { seq: Number(row.seq), hash: row.hash });
      await tx.query(`${INSERT_RECORDS} UPDATE audit_head SET seq = $14, hash = $15 WHERE id = 1`, [...chained.cols, chained.head.seq, chained.head.hash]);
      return chained;
    });
    this.#head = b.head;
    return b.records;
  }
}

/** The chain head: the last record's seq and hash. */
interface Head {
  readonly seq: number;
  readonly hash: string;
}

const UNNEST = 'unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::text[], $11::text[], $12::int[], $13::timestamptz[])';

/** The records as arrays (the same text whatever the batch size), then the head update. */
const INSERT_RECORDS = `WITH ins AS (INSERT INTO audit_log (${AUDIT_COLUMNS}) SELECT * FROM ${UNNEST})`;

/** Inserts the records and moves the head from ($14, $15) to ($16, $17), only if it is still there; n = 1 when written. */
const CONDITIONAL_APPEND = `WITH head AS (
    SELECT seq FROM audit_head WHERE id = 1 AND seq = $14::bigint AND hash = $15::text FOR UPDATE
  ), ins AS (
    INSERT INTO audit_log (${AUDIT_COLUMNS}) SELECT * FROM ${UNNEST} WHERE EXISTS (SELECT 1 FROM head)
  ), upd AS (
    UPDATE audit_head SET seq = $16, hash = $17 WHERE id = 1 AND EXISTS (SELECT 1 FROM head) RETURNING 1
  )
  SELECT count(*)::int AS n FROM upd`;

/** Chains `batch` after `head`: the column arrays to insert, the records for awaited appends, the new head. */
function chainBatch(batch: readonly Pending[], head: Head): { cols: unknown[][]; records: (AuditRecord | undefined)[]; head: Head } {
  let seq = head.seq;
  let prev = head.hash;
  // Only awaited appends get their record back; enqueued ones resolve to nobody.
  const records: (AuditRecord | undefined)[] = [];
  const cols: unknown[][] = Array.from({ length: COLS }, () => []);
  for (const p of batch) {
    seq += 1;
    const f = p.fields;
    const hash = chainHash(prev, bodyAt(f.parts, f.at, p.count, p.lastAt), seq);
    records.push(p.retained ? undefined : toRecord({ ...f, seq, count: p.count, lastAt: p.lastAt }, prev, hash));
    const row = [seq, f.at, f.kind, f.user, f.agent, f.action, f.resource, f.outcome, f.detailText, prev, hash, p.count, p.lastAt];
    for (let i = 0; i < COLS; i++) cols[i]!.push(row[i]);
    prev = hash;
  }
  return { cols, records, head: { seq, hash: prev } };
}

function clampInt(n: number, min: number, max: number): number {
  return Number.isFinite(n) ? Math.min(max, Math.max(min, Math.trunc(n))) : min;
}
