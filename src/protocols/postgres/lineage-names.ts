import { ProtocolError } from './errors.ts';
import type { NameFollower } from './statement-names.ts';

/** Cursors (`DECLARE`) and prepared statements (SQL `PREPARE`, protocol Parse) have separate names. */
export type Space = 'cursor' | 'prepared';

/**
 * What one statement of a simple Query does to a name, applied when its CommandComplete arrives:
 * defines it (`value` undefined: to something without a plan), drops it, or drops every name.
 */
export type LineageNameOp<T> =
  | { readonly op: 'define'; readonly space: Space; readonly name: string; readonly value: T | undefined }
  | { readonly op: 'drop'; readonly space: Space; readonly name: string }
  | { readonly op: 'drop-all'; readonly space: Space | 'all' };

/** A forwarded message the server has not answered yet, in order. */
type Pending<T> =
  | { readonly kind: 'query'; readonly ops: LineageNameOp<T>[] }
  | { readonly kind: 'parse'; readonly name: string; readonly value: T | undefined }
  | { readonly kind: 'close'; readonly name: string; readonly statement: boolean }
  | { readonly kind: 'sync' };

/** The CommandComplete tag that confirms an operation. */
function tagOf<T>(o: LineageNameOp<T>): string {
  if (o.op === 'define') return o.space === 'cursor' ? 'DECLARE CURSOR' : 'PREPARE';
  if (o.op === 'drop') return o.space === 'cursor' ? 'CLOSE CURSOR' : 'DEALLOCATE';
  return o.space === 'cursor' ? 'CLOSE CURSOR ALL' : o.space === 'prepared' ? 'DEALLOCATE ALL' : 'DISCARD ALL';
}

/** Tags of statements that define or drop names (another one between them does not matter). */
const NAME_TAGS: ReadonlySet<string> = new Set(['DECLARE CURSOR', 'PREPARE', 'CLOSE CURSOR', 'DEALLOCATE', 'CLOSE CURSOR ALL', 'DEALLOCATE ALL', 'DISCARD ALL']);

/** Most forwarded messages awaiting their answer. */
const MAX_PENDING = 100_000;

/** The names of one space: those the server confirmed, and definitions forwarded but not confirmed. */
class Book<T> {
  readonly confirmed = new Map<string, T>();
  /** By name: each definition not confirmed yet, with how many pending messages carry it. */
  readonly unconfirmed = new Map<string, Map<T, number>>();

  values(name: string): T[] {
    const out: T[] = [];
    const c = this.confirmed.get(name);
    if (c !== undefined) out.push(c);
    for (const v of this.unconfirmed.get(name)?.keys() ?? []) out.push(v);
    return out;
  }

  has(name: string): boolean {
    return this.confirmed.has(name) || this.unconfirmed.has(name);
  }

  /** Distinct names, confirmed or not. */
  get size(): number {
    let n = this.confirmed.size;
    for (const k of this.unconfirmed.keys()) if (!this.confirmed.has(k)) n++;
    return n;
  }

  add(name: string, v: T, n = 1): void {
    let m = this.unconfirmed.get(name);
    if (!m) { m = new Map(); this.unconfirmed.set(name, m); }
    m.set(v, (m.get(v) ?? 0) + n);
  }

  /** One pending message carrying `v` was answered or skipped. */
  drop(name: string, v: T): void {
    const m = this.unconfirmed.get(name);
    const n = m?.get(v);
    if (!m || n === undefined) return;
    if (n > 1) { m.set(v, n - 1); return; }
    m.delete(v);
    if (m.size === 0) this.unconfirmed.delete(name);
  }

  /** The server confirmed a definition of `name` (undefined: one without a plan). */
  define(name: string, v: T | undefined): void {
    if (v === undefined) this.confirmed.delete(name); else this.confirmed.set(name, v);
  }

  retain(keep: (v: T) => boolean): void {
    for (const [k, v] of this.confirmed) if (!keep(v)) this.confirmed.delete(k);
    for (const [k, m] of this.unconfirmed) {
      for (const v of m.keys()) if (!keep(v)) m.delete(v);
      if (m.size === 0) this.unconfirmed.delete(k);
    }
  }
}

/**
 * The output lineage's view of the server's cursors and prepared statements, kept as
 * `StatementNames` keeps the statement names (it follows the same messages and answers): a
 * definition counts from when it is forwarded, and replaces the previous one only once the server
 * confirms it (CommandComplete `DECLARE CURSOR` / `PREPARE`, ParseComplete); a drop (CLOSE,
 * DEALLOCATE, DISCARD ALL, protocol Close) counts only once confirmed. A message the server skipped
 * (after an error: the rest of a Query, or of an extended batch until Sync) changes nothing. Until
 * then a name may denote any of its definitions: the caller keeps the stricter of them all.
 * Definitions inside a Parse's text take effect when a later Execute runs it, unconfirmed: they
 * count for the rest of the session.
 */
export class LineageNames<T> implements NameFollower {
  readonly #books = { cursor: new Book<T>(), prepared: new Book<T>() };
  /** The current extended batch: the last Parse (its definition, or null) or Close (null) of each statement name. */
  #batch = new Map<string, T | null>();
  #pending: Pending<T>[] = [];
  #head = 0;
  /** What the next forwarded Query (its operations) or Parse (its statement's definition) carries. */
  #staged: { readonly ops: LineageNameOp<T>[]; readonly value: T | undefined } | undefined;

  /** What `space`'s `name` may denote now (none: unknown), for a statement forwarded now. */
  lookup(space: Space, name: string): T[] {
    if (space === 'prepared') {
      const b = this.#batch.get(name);
      // In a batch, a Bind after a Parse or Close of its name runs that Parse's statement, or is skipped.
      if (b !== undefined) return b === null ? [] : [b];
    }
    return this.#books[space].values(name);
  }

  /** Whether `name` may exist in `space`. */
  has(space: Space, name: string): boolean {
    return this.#books[space].has(name);
  }

  /** Names (confirmed or not) in `space`. */
  size(space: Space): number {
    return this.#books[space].size;
  }

  /** The next Query forwarded carries `ops` (in statement order). */
  stageQuery(ops: LineageNameOp<T>[]): void {
    this.#staged = { ops, value: undefined };
  }

  /**
   * The next Parse forwarded defines its statement as `value`; the definitions in its text (`ops`)
   * may take effect at any later Execute: they count for good (drops are never confirmed).
   */
  stageParse(value: T | undefined, ops: readonly LineageNameOp<T>[]): void {
    for (const o of ops) if (o.op === 'define' && o.value !== undefined) this.#books[o.space].add(o.name, o.value, Number.POSITIVE_INFINITY);
    this.#staged = { ops: [], value };
  }

  /** Cursors without WITH HOLD are gone (the transaction ended; nothing is in flight). */
  retainCursors(keep: (v: T) => boolean): void {
    this.#books.cursor.retain(keep);
  }

  // ---- NameFollower: forwarded messages ---------------------------------------------------

  query(): void {
    const ops = this.#take().ops;
    for (const o of ops) if (o.op === 'define' && o.value !== undefined) this.#books[o.space].add(o.name, o.value);
    this.#push({ kind: 'query', ops });
    this.#batch = new Map();
  }

  sync(): void {
    this.#push({ kind: 'sync' });
    this.#batch = new Map();
  }

  parse(name: string): void {
    const value = this.#take().value;
    if (value !== undefined) this.#books.prepared.add(name, value);
    this.#push({ kind: 'parse', name, value });
    this.#batch.set(name, value ?? null);
  }

  close(name: string, statement: boolean): void {
    this.#push({ kind: 'close', name, statement });
    if (statement) this.#batch.set(name, null);
  }

  // ---- NameFollower: answers, in order ----------------------------------------------------

  parseComplete(): void {
    const p = this.#shift();
    if (p?.kind !== 'parse') return;
    if (p.value !== undefined) this.#books.prepared.drop(p.name, p.value);
    this.#books.prepared.define(p.name, p.value);
  }

  closeComplete(): void {
    const p = this.#shift();
    if (p?.kind === 'close' && p.statement) this.#books.prepared.confirmed.delete(p.name);
  }

  commandComplete(tag: () => string): void {
    const p = this.#pending[this.#head];
    if (p?.kind !== 'query' || p.ops.length === 0) return;
    const t = tag();
    if (!NAME_TAGS.has(t)) return;
    const next = p.ops[0]!;
    // Not what was expected: nothing more is applied, and its definitions count for good.
    if (tagOf(next) !== t) { p.ops.splice(0); return; }
    p.ops.shift();
    if (next.op === 'define') {
      const book = this.#books[next.space];
      if (next.value !== undefined) book.drop(next.name, next.value);
      book.define(next.name, next.value);
    } else if (next.op === 'drop') this.#books[next.space].confirmed.delete(next.name);
    else for (const s of next.space === 'all' ? (['cursor', 'prepared'] as const) : [next.space]) this.#books[s].confirmed.clear();
  }

  error(): void {
    const p = this.#pending[this.#head];
    if (p?.kind === 'query') { this.#skip(p); return; }
    while (this.#head < this.#pending.length && this.#pending[this.#head]!.kind !== 'sync') this.#skip(this.#shift()!);
  }

  ready(): void {
    for (let p = this.#shift(); p !== undefined; p = this.#shift()) {
      this.#skip(p);
      if (p.kind === 'sync' || p.kind === 'query') return;
    }
  }

  // ---- internals --------------------------------------------------------------------------

  #take(): { readonly ops: LineageNameOp<T>[]; readonly value: T | undefined } {
    const s = this.#staged ?? { ops: [], value: undefined };
    this.#staged = undefined;
    return s;
  }

  /** A pending message the server will not act on (any more): its definitions stop counting. */
  #skip(p: Pending<T>): void {
    if (p.kind === 'parse') { if (p.value !== undefined) this.#books.prepared.drop(p.name, p.value); }
    else if (p.kind === 'query') {
      for (const o of p.ops.splice(0)) if (o.op === 'define' && o.value !== undefined) this.#books[o.space].drop(o.name, o.value);
    }
  }

  #push(p: Pending<T>): void {
    if (this.#pending.length - this.#head >= MAX_PENDING) throw new ProtocolError('too many requests in flight');
    this.#pending.push(p);
  }

  #shift(): Pending<T> | undefined {
    if (this.#head >= this.#pending.length) return undefined;
    const p = this.#pending[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) { this.#pending = this.#pending.slice(this.#head); this.#head = 0; }
    return p;
  }
}
