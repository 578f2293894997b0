import { ProtocolError } from './errors.ts';
import type { Verdict } from '../../sql/guard.ts';

/**
 * What a server-side prepared statement may run: its text, and the verdict given when it was
 * parsed — or none, when the verdict can only be given at execution time (a `PREPARE` made in SQL,
 * a statement that runs `EXECUTE`: what it runs depends on names that may change meanwhile).
 */
export interface Candidate {
  readonly sql: string;
  readonly verdict: Verdict | undefined;
  /** The parameter type OIDs a Parse declared (part of what runs: an approval is bound to them). */
  readonly types?: readonly number[];
}

/**
 * An operation on a name inside a simple Query, applied when its CommandComplete arrives
 * (`confirmed` then runs: another registry drops the name too; `skipped` runs when the server
 * skipped or refused the definition).
 */
export type NameOp =
  | { readonly op: 'prepare'; readonly name: string; readonly cand: Candidate; readonly skipped?: () => void }
  | { readonly op: 'deallocate'; readonly name: string; readonly confirmed?: () => void }
  | { readonly op: 'deallocate-all'; readonly confirmed?: () => void };

/**
 * Another view of the server's names that follows the same messages and answers, in order (the
 * output lineage's cursors and statements): each method is called as the one of `StatementNames`.
 */
export interface NameFollower {
  query(): void;
  sync(): void;
  parse(name: string): void;
  close(name: string, statement: boolean): void;
  parseComplete(): void;
  closeComplete(): void;
  commandComplete(tagOf: () => string): void;
  error(): void;
  ready(): void;
}

/** A forwarded message the server has not answered yet, in order. */
type Pending =
  | { readonly kind: 'parse'; readonly name: string; readonly cand: Candidate; readonly skipped: (() => void) | undefined }
  | { readonly kind: 'close'; readonly name: string; readonly statement: boolean; readonly confirmed: (() => void) | undefined }
  | { readonly kind: 'query'; readonly ops: NameOp[] }
  | { readonly kind: 'sync' };

/** What a Bind of a name may run: nothing known (deny), or these candidates (all must pass). */
export type Lookup = { readonly known: false } | { readonly known: true; readonly candidates: readonly Candidate[] };

/** Most names remembered; beyond, the least recently defined is forgotten (its Bind is then denied). */
const MAX_NAMES = 10_000;
/** Most distinct not-yet-confirmed definitions of one name (beyond, a new one is refused). */
const MAX_PENDING_PER_NAME = 8;
/** Most forwarded messages awaiting their answer. */
const MAX_PENDING = 100_000;

/**
 * The gateway's view of the server's prepared statements (protocol Parse and SQL `PREPARE` share
 * one namespace), so that every Bind is decided on what the server will actually run. It never
 * under-approximates:
 * - a definition is added when forwarded and becomes the only one when the server confirms it
 *   (ParseComplete, CommandComplete `PREPARE`); a removal (Close, `DEALLOCATE`, `DISCARD ALL`)
 *   counts only once confirmed (CloseComplete, CommandComplete). A message the server skipped
 *   (after an error, until Sync; the rest of a failed Query) changes nothing;
 * - inside one extended batch (no Sync yet), a Bind after a Parse or Close of the same name binds
 *   what that Parse defined, or nothing — if the Parse failed, the server skips the Bind too;
 * - otherwise a Bind may run the confirmed definition or any unconfirmed one;
 * - a name the gateway never saw defined is unknown (the Bind is denied: it may have been defined
 *   where the gateway cannot see, e.g. by dynamic SQL in a function).
 */
export class StatementNames {
  /** Definitions the server confirmed. */
  readonly #confirmed = new Map<string, Candidate>();
  /** Definitions forwarded but not confirmed, by name (not in the current batch's view). */
  readonly #unconfirmed = new Map<string, Map<string, { readonly cand: Candidate; n: number }>>();
  /** The current extended batch: the last Parse (candidate) or Close (null) of each name. */
  #batch = new Map<string, Candidate | null>();
  #pending: Pending[] = [];
  #head = 0;
  #follower: NameFollower | undefined;

  /** `f` is told of every message and answer from now on. */
  follow(f: NameFollower): void {
    this.#follower = f;
  }

  // ---- client side: forwarded messages ----------------------------------------------------

  /** A Parse of `name` is forwarded (`skipped` runs if the server skips or refuses it). */
  parse(name: string, cand: Candidate, skipped?: () => void): void {
    this.#addUnconfirmed(name, cand);
    this.#push({ kind: 'parse', name, cand, skipped });
    this.#batch.set(name, cand);
    this.#follower?.parse(name);
  }

  /**
   * `name` may be defined by a message whose effect the gateway does not confirm (a `PREPARE`
   * sent through Parse/Bind/Execute): the definition counts for the rest of the session.
   */
  mayDefine(name: string, cand: Candidate): void {
    this.#addUnconfirmed(name, cand);
  }

  /** A Close of a statement (`statement`) or a portal is forwarded (`confirmed` runs at its CloseComplete). */
  close(name: string, statement: boolean, confirmed?: () => void): void {
    this.#push({ kind: 'close', name, statement, confirmed });
    if (statement) this.#batch.set(name, null);
    this.#follower?.close(name, statement);
  }

  /** A simple Query is forwarded, with its name operations in statement order (PREPARE, DEALLOCATE). */
  query(ops: NameOp[]): void {
    for (const o of ops) if (o.op === 'prepare') this.#addUnconfirmed(o.name, o.cand);
    this.#push({ kind: 'query', ops });
    this.#batch = new Map();
    this.#follower?.query();
  }

  /** A Sync is forwarded: the extended batch ends. */
  sync(): void {
    this.#push({ kind: 'sync' });
    this.#batch = new Map();
    this.#follower?.sync();
  }

  /** What a Bind of `name`, forwarded now, may run. */
  lookup(name: string): Lookup {
    const inBatch = this.#batch.get(name);
    if (inBatch !== undefined) return inBatch === null ? { known: false } : { known: true, candidates: [inBatch] };
    const out: Candidate[] = [];
    const confirmed = this.#confirmed.get(name);
    if (confirmed) out.push(confirmed);
    const seen = confirmed ? candidateKey(confirmed) : undefined;
    for (const [key, u] of this.#unconfirmed.get(name) ?? []) if (key !== seen) out.push(u.cand);
    return out.length === 0 ? { known: false } : { known: true, candidates: out };
  }

  // ---- server side: answers, in order -----------------------------------------------------

  /** ParseComplete: the oldest pending Parse took effect. */
  parseComplete(): void {
    const p = this.#shift();
    if (p?.kind !== 'parse') throw new ProtocolError('ParseComplete without a pending Parse');
    this.#dropUnconfirmed(p.name, p.cand);
    this.#define(p.name, p.cand);
    this.#follower?.parseComplete();
  }

  /** CloseComplete: the oldest pending Close took effect. */
  closeComplete(): void {
    const p = this.#shift();
    if (p?.kind !== 'close') throw new ProtocolError('CloseComplete without a pending Close');
    if (p.statement) this.#confirmed.delete(p.name);
    p.confirmed?.();
    this.#follower?.closeComplete();
  }

  /** CommandComplete (`tag` read only when it may matter): inside a Query, applies the next name operation it confirms. */
  commandComplete(tagOf: () => string): void {
    this.#follower?.commandComplete(tagOf);
    const p = this.#pending[this.#head];
    if (p?.kind !== 'query' || p.ops.length === 0) return;
    const tag = tagOf();
    const op = tag === 'PREPARE' ? 'prepare' : tag === 'DEALLOCATE' ? 'deallocate' : tag === 'DEALLOCATE ALL' || tag === 'DISCARD ALL' ? 'deallocate-all' : undefined;
    if (op === undefined) return;
    const next = p.ops.shift();
    if (next?.op !== op) { this.#abandon(p); return; } // not what was expected: apply nothing more
    if (next.op === 'prepare') { this.#dropUnconfirmed(next.name, next.cand); this.#define(next.name, next.cand); }
    else if (next.op === 'deallocate') { this.#confirmed.delete(next.name); next.confirmed?.(); }
    else { this.#confirmed.clear(); next.confirmed?.(); }
  }

  /** ErrorResponse: the rest of a Query, or of an extended batch until Sync, is skipped by the server. */
  error(): void {
    this.#follower?.error();
    const p = this.#pending[this.#head];
    if (p?.kind === 'query') { this.#abandon(p, true); return; }
    // Extended protocol: the server ignores every message (a Query too) until Sync.
    while (this.#head < this.#pending.length && this.#pending[this.#head]!.kind !== 'sync') this.#drop(this.#shift()!);
  }

  /** ReadyForQuery: the oldest Query or Sync is answered (anything before it was skipped). */
  ready(): void {
    this.#follower?.ready();
    for (let p = this.#shift(); p !== undefined; p = this.#shift()) {
      this.#drop(p);
      if (p.kind === 'sync' || p.kind === 'query') return;
    }
  }

  // ---- internals --------------------------------------------------------------------------

  #define(name: string, cand: Candidate): void {
    this.#confirmed.delete(name);
    this.#confirmed.set(name, cand);
    if (this.#confirmed.size > MAX_NAMES) this.#confirmed.delete(this.#confirmed.keys().next().value!);
  }

  /**
   * Counts one more pending definition of `name`. Past the bound of distinct definitions the
   * name is poisoned (every later Bind of it outside the defining batch is denied); past the bound of
   * names the session ends (only a hostile client defines that many names without waiting).
   */
  #addUnconfirmed(name: string, cand: Candidate): void {
    let m = this.#unconfirmed.get(name);
    if (!m) {
      if (this.#unconfirmed.size >= MAX_NAMES) throw new ProtocolError('too many prepared statements defined without waiting for the server');
      m = new Map();
      this.#unconfirmed.set(name, m);
    }
    const key = candidateKey(cand);
    const u = m.get(key);
    if (u) { u.n++; return; }
    if (m.size >= MAX_PENDING_PER_NAME) {
      const poison = poisoned(name);
      m.set(candidateKey(poison), { cand: poison, n: Number.POSITIVE_INFINITY });
      return;
    }
    m.set(key, { cand, n: 1 });
  }

  /** One pending entry carrying `cand` was answered (or skipped). */
  #dropUnconfirmed(name: string, cand: Candidate): void {
    const m = this.#unconfirmed.get(name);
    const key = candidateKey(cand);
    const u = m?.get(key);
    if (!m || !u || --u.n > 0) return;
    m.delete(key);
    if (m.size === 0) this.#unconfirmed.delete(name);
  }

  /** A pending entry that will never be confirmed: its definitions stop counting. */
  #drop(p: Pending): void {
    if (p.kind === 'parse') { this.#dropUnconfirmed(p.name, p.cand); p.skipped?.(); }
    else if (p.kind === 'query') this.#abandon(p, true);
  }

  /** The rest of a Query's operations will not be confirmed: `skipped`, the server did not run them. */
  #abandon(p: Extract<Pending, { kind: 'query' }>, skipped = false): void {
    const ops = p.ops.splice(0);
    for (const o of ops) if (o.op === 'prepare') { this.#dropUnconfirmed(o.name, o.cand); if (skipped) o.skipped?.(); }
  }

  #push(p: Pending): void {
    if (this.#pending.length - this.#head >= MAX_PENDING) throw new ProtocolError('too many requests in flight');
    this.#pending.push(p);
  }

  #shift(): Pending | undefined {
    if (this.#head >= this.#pending.length) return undefined;
    const p = this.#pending[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) { this.#pending = this.#pending.slice(this.#head); this.#head = 0; }
    return p;
  }
}

/** A definition that denies: too many definitions of one name were pending at once. */
function poisoned(name: string): Candidate {
  return {
    sql: '',
    verdict: {
      ok: false, effect: 'deny', reasons: ['too-many-definitions'], actions: [],
      message: `Gatehouse denied the statement: too many definitions of prepared statement "${name}" were sent without waiting for the server`,
    },
  };
}

/** Candidates are the same definition when text, declared parameter types and verdict kind are. */
function candidateKey(c: Candidate): string {
  const v = c.verdict;
  return `${v === undefined ? 'x' : v.ok ? 'o' : v.effect === 'review' ? 'r' : 'd'}${(c.types ?? []).join(',')};${c.sql}`;
}
