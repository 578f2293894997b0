import type { FieldDescription } from './backend-messages.ts';
import type { Plan } from './output-lineage.ts';
import type { ErrorCode } from '../../kernel/errors.ts';

/** Column lineage of the statement producing a result (connections with column rules). */
export interface ShapeLineage {
  /** The statement's output plan; undefined: none (the strict default applies). */
  readonly plan: Plan | undefined;
}

/** The shape of rows a DataRow belongs to: column descriptions and their formats. */
export interface ResultShape {
  readonly fields: readonly FieldDescription[];
  readonly formats: readonly number[];
  /** Present when the statement was analyzed for column lineage. */
  readonly lineage?: ShapeLineage;
}

/** The shape of one Execute's rows: unknown until its Describe answers; null for NoData. */
interface ExecuteExpectation { readonly kind: 'execute'; shape: ResultShape | null | undefined; readonly lineage: ShapeLineage | undefined }

/** A forwarded request whose responses matter to row masking, in the order the server answers them. */
type Expectation =
  | { readonly kind: 'query'; readonly plans: readonly (Plan | undefined)[] | undefined }
  | { readonly kind: 'sync' }
  | { readonly kind: 'describe'; readonly hidden: boolean; execute: ExecuteExpectation | undefined }
  | ExecuteExpectation;

/** Requests in flight beyond which the session fails (a client pipelining without reading). */
const MAX_IN_FLIGHT = 100_000;

/** A backend message that no forwarded request explains (the shape of rows cannot be known). */
export class ShapeError extends Error {
  override readonly name = 'ShapeError';
  /** The registry code (the rows cannot be matched to a shape, so not masked). */
  readonly code = 'masking_failed' satisfies ErrorCode;
}

/**
 * Matches backend row messages to the request that produced them, **by construction**: the
 * shape used for an Execute's DataRows is the RowDescription of a `Describe` of that very
 * portal sent **immediately before** that Execute (nothing in between on the connection), so
 * nothing remembered by name is ever trusted. Names can be created, replaced and removed behind
 * the proxy's back (SQL `PREPARE`/`DEALLOCATE`/`DECLARE … CURSOR`/`CLOSE` in a simple Query,
 * `EXECUTE`, a cursor `FETCH`); the server's answer to the Describe is what that Execute returns.
 * When the client itself described the portal right before the Execute, that answer serves;
 * otherwise the session injects a Describe and hides its answer from the client.
 * A simple Query's rows follow their own RowDescription. The server answers in order; after an
 * error it skips to Sync, and so does the tracker.
 */
export class ResultTracker {
  readonly #queue: Expectation[] = [];
  /** The client's Describe of a portal, while it is the last message forwarded. */
  #lastDescribe: { readonly portal: string; readonly exp: Extract<Expectation, { kind: 'describe' }> } | undefined;
  /** The shape of the current simple-query result. */
  #current: ResultShape | undefined;
  /** Index of the statement of the current simple Query being answered (CommandCompletes so far). */
  #statementIndex = 0;

  #push(e: Expectation): void {
    if (this.#queue.length >= MAX_IN_FLIGHT) throw new Error('too many requests in flight');
    this.#queue.push(e);
  }

  /** Client side: a message other than Describe/Execute was forwarded (breaks Describe→Execute adjacency). */
  interrupt(): void {
    this.#lastDescribe = undefined;
  }

  /** Client side: a simple Query was forwarded (`plans`: each statement's output plan, column lineage). */
  query(plans?: readonly (Plan | undefined)[]): void {
    this.#lastDescribe = undefined;
    this.#push({ kind: 'query', plans });
  }

  /** Client side: a Sync was forwarded. */
  sync(): void {
    this.#lastDescribe = undefined;
    this.#push({ kind: 'sync' });
  }

  /** Client side: the client's own Describe was forwarded. */
  describe(target: 'S' | 'P', name: string): void {
    const exp = { kind: 'describe' as const, hidden: false, execute: undefined };
    this.#push(exp);
    this.#lastDescribe = target === 'P' ? { portal: name, exp } : undefined;
  }

  /**
   * Client side, before forwarding an Execute. Returns true when the session must first send a
   * `Describe` of the portal (its answer hidden from the client); false when the client's own
   * Describe of the same portal was the message just before.
   */
  execute(portal: string, lineage?: ShapeLineage): boolean {
    const exec: ExecuteExpectation = { kind: 'execute', shape: undefined, lineage };
    const last = this.#lastDescribe;
    this.#lastDescribe = undefined;
    const own = last?.portal === portal;
    if (own) last.exp.execute = exec;
    else this.#push({ kind: 'describe', hidden: true, execute: exec });
    this.#push(exec);
    return !own;
  }

  /**
   * Backend RowDescription or NoData (`fields` null). Returns true when
   * the client must not see it. Throws {@link ShapeError} when no forwarded request explains it.
   */
  rowDescription(fields: readonly FieldDescription[] | null): boolean {
    const head = this.#queue[0];
    const shape = fields && { fields, formats: fields.map((f) => f.format) };
    if (head?.kind === 'describe') {
      this.#queue.shift();
      if (head.execute) head.execute.shape = shape && withLineage(shape, head.execute.lineage);
      return head.hidden;
    }
    if (head?.kind === 'query') {
      // The k-th statement of a simple Query answers after k CommandCompletes.
      const lineage = head.plans === undefined ? undefined : { plan: head.plans[this.#statementIndex] };
      this.#current = shape ? withLineage(shape, lineage) : undefined;
      return false;
    }
    throw new ShapeError('a row description arrived that no request asked for');
  }

  /** The shape of the next DataRow, or undefined when it cannot be known (fail closed). */
  shape(): ResultShape | undefined {
    const head = this.#queue[0];
    if (head?.kind === 'execute') return head.shape ?? undefined;
    return head?.kind === 'query' ? this.#current : undefined;
  }

  /** Backend CommandComplete / EmptyQueryResponse / PortalSuspended. */
  completed(): void {
    if (this.#queue[0]?.kind === 'execute') this.#queue.shift();
    else if (this.#queue[0]?.kind === 'query') this.#statementIndex++;
    this.#current = undefined;
  }

  /** Backend ErrorResponse: in the extended protocol the server skips to Sync. */
  error(): void {
    this.#current = undefined;
    for (;;) {
      const head = this.#queue[0];
      if (head === undefined || head.kind === 'sync' || head.kind === 'query') return;
      this.#queue.shift();
    }
  }

  /** Backend ReadyForQuery: the request it ends is done. */
  ready(): void {
    this.#statementIndex = 0;
    while (this.#queue.length > 0) {
      const e = this.#queue.shift()!;
      if (e.kind === 'sync' || e.kind === 'query') break;
    }
    this.#current = undefined;
  }
}

function withLineage(shape: ResultShape, lineage: ShapeLineage | undefined): ResultShape {
  return lineage === undefined ? shape : { ...shape, lineage };
}
