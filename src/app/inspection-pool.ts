import type { GatehouseConfig } from '../config/types.ts';
import { initSqlInspector, SqlInspector, sqlInspectorLoaded } from '../inspect/sql/inspect.ts';
import type { SqlInspection } from '../inspect/sql/types.ts';
import type { Clock } from '../kernel/clock.ts';
import { GatehouseError, isErrorCode } from '../kernel/errors.ts';
import { deepFreeze } from '../kernel/freeze.ts';
import type { Metrics } from '../kernel/metrics.ts';
import { WorkerPool, WorkerPoolError } from '../kernel/worker-pool.ts';
import { prepareRequest, type PrepareInput, type Prepared } from '../protocols/http/proxy/prepare.ts';
import { connectionFieldsOf } from '../protocols/registry.ts';
import type { CommandInspection } from '../shell/inspector.ts';
import type { InspectionResult, InspectionTask, InspectionWorkerData, MaskedReply, PreparedReply, ResponseMaskOp } from './inspection-tasks.ts';

/** Sizes and bounds of an {@link InspectionPool} (from `limits.inspection`). */
export interface InspectionPoolOptions {
  /** Worker threads (0: everything inline). */
  readonly workers: number;
  readonly queue: number;
  readonly timeoutMs: number;
  /** SQL texts up to this many characters are parsed inline. */
  readonly inlineSqlChars: number;
  /** Request bodies up to this many bytes are scanned inline. */
  readonly inlinePromptBytes: number;
  readonly maxSqlBytes: number;
  readonly maxStatements: number;
}

/** The options from a loaded config. */
export function inspectionOptions(config: GatehouseConfig): InspectionPoolOptions {
  const i = config.limits.inspection;
  return {
    workers: i.workers, queue: i.queue, timeoutMs: i.timeout_ms,
    inlineSqlChars: i.inline_sql_bytes, inlinePromptBytes: i.inline_prompt_bytes,
    maxSqlBytes: i.max_sql_bytes, maxStatements: i.max_statements,
  };
}

/**
 * Keeps heavy inspection off the event loop. Small inputs — the common case — are inspected
 * inline (and SQL answered from the inspector's caches first); a SQL text or request body above
 * the inline threshold goes to a bounded pool of worker threads running the same code with the
 * same limits. Fail closed: when a worker cannot answer (queue full, timeout, crash) the SQL is
 * `ok: false` (denied) and a request body fails with `inspection_unavailable` (503).
 *
 * Built by the composition root (`app/gateway.ts`) and closed on shutdown.
 *
 * @example
 *   const pool = new InspectionPool(inspectionOptions(config), { maskingRules, hashKey, metrics, clock });
 *   const r = await pool.inspectSql(text); // SqlInspection, never throws
 *   await pool.close();
 */
export class InspectionPool {
  readonly #opts: InspectionPoolOptions;
  readonly #inspector: SqlInspector;
  readonly #pool: WorkerPool<InspectionTask, InspectionResult> | undefined;
  readonly #metrics: Metrics | undefined;
  /** Inspections by where they ran (tests assert on it). */
  readonly counts = { inline: 0, worker: 0, failed: 0 };

  constructor(opts: InspectionPoolOptions, data: Omit<InspectionWorkerData, 'maxSqlBytes' | 'maxStatements'> & { readonly metrics?: Metrics; readonly clock?: Clock }) {
    this.#opts = opts;
    this.#metrics = data.metrics;
    this.#inspector = new SqlInspector({ maxBytes: opts.maxSqlBytes, maxStatements: opts.maxStatements });
    const workerData: InspectionWorkerData = {
      maxSqlBytes: opts.maxSqlBytes, maxStatements: opts.maxStatements, maskingRules: data.maskingRules, hashKey: data.hashKey,
    };
    this.#pool = opts.workers > 0
      ? new WorkerPool({
        script: new URL('./inspection-worker.ts', import.meta.url), workerData, size: opts.workers, queue: opts.queue,
        timeoutMs: opts.timeoutMs, resourceLimits: { maxOldGenerationSizeMb: 512 },
        // Workers start on the first large input and end after a minute without one (memory).
        idleMs: 60_000, ...(data.clock === undefined ? {} : { clock: data.clock }),
      })
      : undefined;
  }

  /** The worker pool's state (undefined without workers). */
  get workers(): { workers: number; busy: number; queued: number; completed: number } | undefined {
    return this.#pool?.stats;
  }

  /**
   * Inspects `sql` (see `SqlInspector.inspect`): synchronously from the caches or inline when
   * small, else on a worker. Never throws or rejects: a failure is `ok: false`.
   */
  inspectSql(sql: string): SqlInspection | Promise<SqlInspection> {
    // The parser (WASM) is loaded at start only when a PostgreSQL connection is configured; else
    // on the first SQL to inspect. A failed load fails this inspection (denied); the next retries.
    if (!sqlInspectorLoaded()) {
      return initSqlInspector().then(() => this.inspectSql(sql), (err: unknown) => {
        this.#count('sql', 'failed');
        return Object.freeze({ ok: false as const, error: `SQL inspector could not be loaded: ${failure(err)}` });
      });
    }
    const cached = this.#inspector.cached(sql);
    if (cached !== undefined) return cached;
    if (this.#pool === undefined || sql.length <= this.#opts.inlineSqlChars) {
      this.#count('sql', 'inline');
      return this.#inspector.inspect(sql);
    }
    // Over the byte limit: refused without a round trip.
    if (sql.length > this.#opts.maxSqlBytes) return this.#inspector.inspect(sql);
    this.#count('sql', 'worker');
    return this.#pool.run({ kind: 'sql', sql }).then((r) => {
      const result = deepFreeze(r as SqlInspection);
      this.#inspector.remember(sql, result);
      return result;
    }, (err: unknown) => {
      this.#count('sql', 'failed');
      return Object.freeze({ ok: false as const, error: `inspection failed: ${failure(err)}` });
    });
  }

  /**
   * Inspects `sql` synchronously: from the caches (a text inspected moments ago, even a large one
   * inspected on a worker, is among them) or inline. For callers that need the inspection of a text
   * `inspectSql` has just answered for.
   */
  inspectSqlNow(sql: string): SqlInspection {
    const cached = this.#inspector.cached(sql);
    if (cached !== undefined) return cached;
    this.#count('sql', 'inline');
    return this.#inspector.inspect(sql);
  }

  /**
   * `prepareRequest` (facts and egress redaction of a /proxy request body): inline for bodies up
   * to the inline threshold, else on a worker. Errors are the same GatehouseErrors as inline;
   * a worker that cannot answer gives `inspection_unavailable`.
   */
  prepare(input: PrepareInput): Prepared | Promise<Prepared> {
    // Every body has work (a method override looked for, an LLM request parsed and scanned, egress redaction).
    const work = input.raw.length > 0;
    if (this.#pool === undefined || !work || input.raw.length <= this.#opts.inlinePromptBytes) {
      this.#count('prompt', 'inline');
      return prepareRequest(input);
    }
    this.#count('prompt', 'worker');
    const raw = new Uint8Array(input.raw); // a copy the worker can own
    const task: InspectionTask = {
      kind: 'prepare',
      conn: { name: input.conn.name, type: input.conn.type, ...structuredClone(connectionFieldsOf(input.conn)) },
      method: input.method, endpoint: input.endpoint, raw, contentType: input.contentType, format: input.format, egress: input.egress !== undefined,
      ...(input.contentEncoding === undefined ? {} : { contentEncoding: input.contentEncoding }), ...(input.bodyLimit === undefined ? {} : { bodyLimit: input.bodyLimit }),
    };
    return this.#pool.run(task, [raw.buffer]).then((r) => {
      const p = r as PreparedReply;
      const body = p.body === undefined ? undefined : Buffer.from(p.body.buffer, p.body.byteOffset, p.body.byteLength);
      const http = { ...(p.contentType === undefined ? {} : { contentType: p.contentType }), ...(p.decoded === undefined ? {} : { decoded: p.decoded }) };
      // The prompt text is the body's text: decoded here only if someone reads it (recording, reviews).
      if (p.promptIsBody && body !== undefined) return { facts: p.facts, body, ...http, get prompt(): string { return body.toString('utf8'); } };
      return { facts: p.facts, body, ...(p.prompt === undefined ? {} : { prompt: p.prompt }), ...http };
    }, (err: unknown) => {
      // The task's own errors (malformed JSON, nesting too deep) are the inline path's errors.
      if (err instanceof WorkerPoolError && err.reason === 'failed' && isErrorCode(err.remoteCode) && err.remoteCode !== 'internal') {
        throw new GatehouseError(err.code, err.message);
      }
      this.#count('prompt', 'failed');
      throw new GatehouseError('inspection_unavailable', `the request body could not be inspected: ${failure(err)}`);
    });
  }

  /**
   * Masks a buffered response body of `connection` on a worker, or returns undefined when it is
   * small enough to mask inline (or there are no workers). The worker builds the same masker as
   * `credential-echo.ts` `responseMasker` (the connection's response rules plus `forms`, the echo
   * forms of its secrets). Rejects with the inline path's SyntaxError / RangeError, or
   * `inspection_unavailable` when the worker cannot answer.
   */
  maskResponse(op: ResponseMaskOp, text: string, connection: string, forms: readonly string[]): Promise<MaskedReply> | undefined {
    if (this.#pool === undefined || text.length <= this.#opts.inlinePromptBytes) return undefined;
    this.#count('response', 'worker');
    return this.#pool.run({ kind: 'mask', op, text, connection, forms }).then((r) => r as MaskedReply, (err: unknown) => {
      if (err instanceof WorkerPoolError && err.reason === 'failed' && err.remoteCode === 'SyntaxError') throw new SyntaxError(err.message);
      if (err instanceof WorkerPoolError && err.reason === 'failed' && err.remoteCode === 'RangeError') throw new RangeError(err.message);
      this.#count('response', 'failed');
      throw new GatehouseError('inspection_unavailable', `the response could not be masked: ${failure(err)}`);
    });
  }

  /**
   * Inspects a shell command (SSH `exec`) on a worker, or returns undefined when there are no
   * workers (the caller inspects inline). Every command goes to a worker whatever its size: the
   * bash grammar's error recovery can take the whole parse budget (250 ms) on a 128-byte command,
   * and a command costs an upstream round trip anyway. Rejects (`inspection_unavailable`) when the
   * worker cannot answer: the caller refuses the command.
   */
  inspectShell(command: string): Promise<CommandInspection> | undefined {
    if (this.#pool === undefined) return undefined;
    this.#count('shell', 'worker');
    return this.#pool.run({ kind: 'shell', command }).then((r) => deepFreeze(r as CommandInspection), (err: unknown) => {
      this.#count('shell', 'failed');
      throw new GatehouseError('inspection_unavailable', `the command could not be inspected: ${failure(err)}`);
    });
  }

  /** Terminates the workers; waiting inspections fail closed. */
  async close(): Promise<void> {
    await this.#pool?.close();
  }

  #count(kind: 'sql' | 'prompt' | 'response' | 'shell', where: 'inline' | 'worker' | 'failed'): void {
    this.counts[where]++;
    this.#metrics?.inspections.inc({ kind, where });
  }
}

function failure(err: unknown): string {
  if (err instanceof WorkerPoolError) return err.reason === 'failed' ? 'the inspector failed' : err.message;
  return 'the inspector failed';
}
