import { sortActions, type SqlAction, type SqlInspection, type StatementInfo } from './types.ts';

/** Bounds of a `PreparedStatements` registry. */
export interface PreparedLimits {
  /** Most names remembered (default 1 000); beyond, a new name is refused (its PREPARE / Parse denied), none forgotten. */
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
  | { readonly ok: false; readonly error: string; readonly reason: 'unknown-prepared-statement' | 'too-many-prepared-statements' };


/**
 * A session's view of its prepared statements (SQL `PREPARE` and protocol-level Parse share one
 * namespace in PostgreSQL), so that `EXECUTE p` needs what `p` needs. It over-approximates and
 * never under-approximates: a `PREPARE` of a name already known adds a candidate instead of
 * replacing it (the server rejects re-preparing an existing name, and an earlier DEALLOCATE in the
 * same text may have failed); names are dropped only when the caller knows the server dropped them
 * (`forget`, `clear`: only the candidates registered before the dropping statement was sent, see
 * `mark`). An unknown name, or one with too many candidates, fails (deny). Past the bound of names
 * a new name is refused: a name a later EXECUTE may reach is never forgotten to make room.
 *
 * @example
 *   const prepared = new PreparedStatements();
 *   const r = prepared.resolve(inspectSql('PREPARE p AS DELETE FROM t; EXECUTE p'));
 *   r.ok && r.actions // ['sql.read', 'sql.write']
 */
export class PreparedStatements {
  readonly #maxNames: number;
  readonly #maxCandidates: number;
  readonly #byName = new Map<string, { readonly seq: number; readonly statement: StatementInfo }[]>();
  /** Registrations so far (each candidate carries its number: see `mark`). */
  #seq = 0;

  constructor(limits: PreparedLimits = {}) {
    this.#maxNames = limits.maxNames ?? 1000;
    this.#maxCandidates = limits.maxCandidates ?? 4;
  }

  /**
   * Remembers that `name` may run `statement` (SQL PREPARE, or a protocol Parse message). False
   * (nothing remembered: the definition must be refused) when `name` is new and the bound of names is reached.
   */
  register(name: string, statement: StatementInfo): boolean {
    const known = this.#byName.get(name);
    if (known === undefined && this.#byName.size >= this.#maxNames) return false;
    // Past the bound, keep one more than allowed: the name is then poisoned (EXECUTE denied).
    const list = known ?? [];
    if (list.length <= this.#maxCandidates) list.push({ seq: ++this.#seq, statement });
    this.#byName.set(name, list);
    return true;
  }

  /** The bound of names. */
  get limit(): number {
    return this.#maxNames;
  }

  /** Whether a new name would be refused (the bound of names is reached). */
  full(name: string): boolean {
    return !this.#byName.has(name) && this.#byName.size >= this.#maxNames;
  }

  /** The registrations so far: a statement dropping names, sent now, drops those made up to here. */
  mark(): number {
    return this.#seq;
  }

  /**
   * Forgets `name`, once the server confirmed DEALLOCATE / Close: the candidates registered up to
   * `upTo` (the `mark` when the dropping statement was sent; later ones may define it again).
   */
  forget(name: string, upTo = Number.POSITIVE_INFINITY): void {
    const list = this.#byName.get(name)?.filter((c) => c.seq > upTo) ?? [];
    if (list.length === 0) this.#byName.delete(name); else this.#byName.set(name, list);
  }

  /** The numbers of `name`'s candidates registered after `mark`, in order. */
  since(name: string, mark: number): number[] {
    return (this.#byName.get(name) ?? []).filter((c) => c.seq > mark).map((c) => c.seq);
  }

  /**
   * Drops the candidates numbered in `seqs` (of `name`), or registered in (`from`, `to`] (of any
   * name): their definition never took effect (the server skipped or refused it, or it was not sent).
   */
  unregister(name: string | undefined, seqs: readonly number[] | { readonly from: number; readonly to: number }): void {
    const gone = (c: { readonly seq: number }): boolean => ('from' in seqs ? c.seq > seqs.from && c.seq <= seqs.to : seqs.includes(c.seq));
    for (const n of name === undefined ? [...this.#byName.keys()] : [name]) {
      const list = this.#byName.get(n)?.filter((c) => !gone(c));
      if (list === undefined) continue;
      if (list.length === 0) this.#byName.delete(n); else this.#byName.set(n, list);
    }
  }

  /** Forgets every name, once the server confirmed DEALLOCATE ALL / DISCARD ALL (as `forget`). */
  clear(upTo = Number.POSITIVE_INFINITY): void {
    for (const name of [...this.#byName.keys()]) this.forget(name, upTo);
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
    if (!inspection.ok) return { ok: false, error: inspection.error, reason: 'unknown-prepared-statement' };
    const actions: SqlAction[] = [...inspection.actions];
    const executed: StatementInfo[] = [];
    for (const statement of inspection.statements) {
      if (statement.prepared !== undefined && !this.register(statement.prepared.name, statement.prepared.statement)) {
        return { ok: false, error: tooMany(this.#maxNames), reason: 'too-many-prepared-statements' };
      }
      for (const name of statement.executes) {
        const error = this.#execute(name, actions, executed, 0);
        if (error !== undefined) return { ok: false, error, reason: 'unknown-prepared-statement' };
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
    for (const { statement: c } of candidates) {
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

/** Why a new prepared statement name is refused. */
export function tooMany(max: number): string {
  return `too many prepared statements in this session (at most ${max}); DEALLOCATE some first`;
}
