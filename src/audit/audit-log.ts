import type { Clock } from '../kernel/clock.ts';
import { GatehouseError } from '../kernel/errors.ts';
import type { SqlDriver, SqlExecutor } from '../store/sql.ts';
import { recordHash } from './chain.ts';
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
}

interface Pending {
  readonly fields: PendingFields;
  readonly resolve: (r: AuditRecord) => void;
  readonly reject: (e: unknown) => void;
}

const COLS = 11;

/**
 * The tamper-evident audit log: every record carries sha256(prev_hash ‖ canonical record), and
 * `audit_head` holds the last seq and hash. Appends are group-committed: all appends that arrive
 * while a batch is being written go together in the next transaction, which locks the head row
 * `FOR UPDATE` (so replicas sharing one PostgreSQL interleave whole batches, never records).
 * An append resolves only after its batch committed; if the batch fails, every append in it
 * rejects with `store_unavailable` and nothing of it is stored.
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
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  #queue: Pending[] = [];
  #draining: Promise<void> | undefined;

  constructor(db: SqlDriver, clock: Clock, opts: AuditLogOptions = {}) {
    this.#db = db;
    this.#clock = clock;
    this.#maxBatch = clampInt(opts.maxBatch ?? 200, 1, 1000);
    this.#maxQueue = clampInt(opts.maxQueue ?? 10_000, 1, 1_000_000);
  }

  /** Records one event; resolves with the stored record once its batch is committed. */
  async append(e: AuditInput): Promise<AuditRecord> {
    const fields = prepareInput(e, this.#clock.now());
    if (this.#queue.length >= this.#maxQueue) {
      throw new GatehouseError('store_unavailable', 'audit log queue is full');
    }
    return new Promise<AuditRecord>((resolve, reject) => {
      this.#queue.push({ fields, resolve, reject });
      this.#kick();
    });
  }

  /** Resolves when every append made before the call has been committed or rejected. */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  /** Records newest first, optionally filtered by kind and user, paged by `beforeSeq`. */
  async list(f: AuditFilter = {}): Promise<AuditRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.beforeSeq !== undefined) { params.push(f.beforeSeq); where.push(`seq < $${params.length}`); }
    if (f.kind !== undefined) { params.push(f.kind); where.push(`kind = $${params.length}`); }
    if (f.user !== undefined) { params.push(f.user); where.push(`user_id = $${params.length}`); }
    params.push(clampInt(f.limit ?? 50, 1, 1000));
    const sql = `SELECT ${AUDIT_COLUMNS} FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${params.length}`;
    return (await this.#db.query<AuditRow>(sql, params)).map(fromRow);
  }

  /** Walks the whole chain; see {@link verifyChain}. */
  verify(): Promise<VerifyResult> {
    return verifyChain(this.#db);
  }

  /** Starts a drain on the next microtask, so appends made in the same tick share a batch. */
  #kick(): void {
    if (this.#draining) return;
    this.#draining = Promise.resolve()
      .then(() => this.#drain())
      .catch(() => undefined) // #drain settles every append itself; nothing may escape unhandled
      .finally(() => {
        this.#draining = undefined;
        if (this.#queue.length > 0) this.#kick();
      });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      try {
        const records = await this.#db.transaction((tx) => this.#write(tx, batch));
        batch.forEach((p, i) => p.resolve(records[i]!));
      } catch (err) {
        const failure = new GatehouseError('store_unavailable', 'audit log append failed', {}, { cause: err });
        for (const p of batch) p.reject(failure);
      }
    }
  }

  async #write(tx: SqlExecutor, batch: readonly Pending[]): Promise<AuditRecord[]> {
    const [head] = await tx.query<{ seq: number | string; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE');
    if (!head) throw new Error('audit_head row is missing');
    let seq = Number(head.seq);
    let prev = head.hash;
    const records: AuditRecord[] = [];
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (const p of batch) {
      seq += 1;
      const f = { ...p.fields, seq };
      const hash = recordHash(prev, f);
      records.push(toRecord(f, prev, hash));
      const b = params.length;
      tuples.push(`($${b + 1}, $${b + 2}::timestamptz, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9}::jsonb, $${b + 10}, $${b + 11})`);
      params.push(seq, f.at, f.kind, f.user, f.agent, f.action, f.resource, f.outcome, JSON.stringify(f.detail), prev, hash);
      prev = hash;
    }
    if (params.length !== batch.length * COLS) throw new Error('audit batch parameter count mismatch');
    await tx.query(`INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES ${tuples.join(', ')}`, params);
    await tx.query('UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1', [seq, prev]);
    return records;
  }
}

function clampInt(n: number, min: number, max: number): number {
  return Number.isFinite(n) ? Math.min(max, Math.max(min, Math.trunc(n))) : min;
}
