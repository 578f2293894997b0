import { sortActions, type SqlAction, type SqlInspection, type StatementInfo } from './types.ts';

/** Bounds of a `PreparedStatements` registry. */
export interface PreparedLimits {
  /** Most names remembered (default 1 000); the least recently used is forgotten (→ EXECUTE denied). */
  readonly maxNames?: number;
  /** Most candidate statements per name (default 4); beyond that, EXECUTE of the name is denied. */
  readonly maxCandidates?: number;
}

/** How deep an `EXECUTE` of a statement that is itself an `EXECUTE` is followed (deeper: denied). */
const MAX_EXECUTE_DEPTH = 4;

/** Result of resolving the EXECUTEs of a request. */
export type PreparedResolution =
  | {
      readonly ok: true;
      /** The request's actions plus those of every statement it executes. */
      readonly actions: readonly SqlAction[];
      /** The prepared statements it may execute (for policy facts and recording). */
      readonly executed: readonly StatementInfo[];
    }
  | { readonly ok: false; readonly error: string };


/**
 * A session's view of its prepared statements (SQL `PREPARE` and protocol-level Parse share one
 * namespace in PostgreSQL), so that `EXECUTE p` needs what `p` needs. It over-approximates and
 * never under-approximates: a `PREPARE` of a name already known adds a candidate instead of
 * replacing it (the server rejects re-preparing an existing name, and an earlier DEALLOCATE in the
 * same text may have failed); names are dropped only when the caller knows the server dropped them
 * (`forget`, `clear`). An unknown name, or one with too many candidates, fails (deny).
 *
 * @example
 *   const prepared = new PreparedStatements();
 *   const r = prepared.resolve(inspectSql('PREPARE p AS DELETE FROM t; EXECUTE p'));
 *   r.ok && r.actions // ['sql.read', 'sql.write']
 */
export class PreparedStatements {
  readonly #maxNames: number;
  readonly #maxCandidates: number;
  readonly #byName = new Map<string, StatementInfo[]>();

  constructor(limits: PreparedLimits = {}) {
    this.#maxNames = limits.maxNames ?? 1000;
    this.#maxCandidates = limits.maxCandidates ?? 4;
  }

  /** Remembers that `name` may run `statement` (SQL PREPARE, or a protocol Parse message). */
  register(name: string, statement: StatementInfo): void {
    const known = this.#byName.get(name) ?? [];
    this.#byName.delete(name);
    // Past the bound, keep one more than allowed: the name is then poisoned (EXECUTE denied).
    this.#byName.set(name, known.length > this.#maxCandidates ? known : [...known, statement]);
    while (this.#byName.size > this.#maxNames) {
      const oldest = this.#byName.keys().next();
      if (oldest.done === true) break;
      this.#byName.delete(oldest.value);
    }
  }

  /** Forgets `name`, once the server confirmed DEALLOCATE / Close. */
  forget(name: string): void {
    this.#byName.delete(name);
  }

  /** Forgets everything, once the server confirmed DEALLOCATE ALL / DISCARD ALL. */
  clear(): void {
    this.#byName.clear();
  }

  /** Number of names remembered. */
  get size(): number {
    return this.#byName.size;
  }

  /**
   * Walks the statements of an inspected text in order: registers its PREPAREs and resolves its
   * EXECUTEs (including those of PREPAREs earlier in the same text).
   */
  resolve(inspection: SqlInspection): PreparedResolution {
    if (!inspection.ok) return { ok: false, error: inspection.error };
    const actions: SqlAction[] = [...inspection.actions];
    const executed: StatementInfo[] = [];
    for (const statement of inspection.statements) {
      if (statement.prepared !== undefined) this.register(statement.prepared.name, statement.prepared.statement);
      for (const name of statement.executes) {
        const error = this.#execute(name, actions, executed, 0);
        if (error !== undefined) return { ok: false, error };
      }
    }
    return { ok: true, actions: sortActions(actions), executed };
  }

  /**
   * Adds what `EXECUTE name` may run; a candidate that is itself an `EXECUTE` (a protocol Parse of
   * `EXECUTE q`) adds what it runs in turn, up to {@link MAX_EXECUTE_DEPTH} levels. An error when not known.
   */
  #execute(name: string, actions: SqlAction[], executed: StatementInfo[], depth: number): string | undefined {
    if (depth >= MAX_EXECUTE_DEPTH) return `prepared statement "${name}" is nested too deep`;
    const candidates = this.#byName.get(name);
    if (candidates === undefined) return `unknown prepared statement "${name}"`;
    if (candidates.length > this.#maxCandidates) return `prepared statement "${name}" is ambiguous`;
    for (const c of candidates) {
      executed.push(c);
      actions.push(...c.actions);
      for (const inner of c.executes) {
        const error = this.#execute(inner, actions, executed, depth + 1);
        if (error !== undefined) return error;
      }
    }
    return undefined;
  }
}
