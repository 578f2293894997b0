import type { FieldDescription } from './backend-messages.ts';

/** A forwarded request whose responses can carry rows, in the order the server answers them. */
export type Expectation =
  | { readonly kind: 'query' }
  | { readonly kind: 'sync' }
  | { readonly kind: 'describe'; readonly target: 'S' | 'P'; readonly name: string; readonly hidden?: boolean }
  | { readonly kind: 'execute'; readonly portal: string };

/** Most named statements/portals whose shapes are remembered. */
const MAX_NAMES = 1000;

function bounded<K, V>(m: Map<K, V>, k: K, v: V): void {
  m.delete(k);
  m.set(k, v);
  if (m.size > MAX_NAMES) m.delete(m.keys().next().value!);
}

/** The shape of rows a DataRow belongs to: column descriptions and their effective formats. */
export interface ResultShape {
  readonly fields: readonly FieldDescription[];
  readonly formats: readonly number[];
}

/**
 * Matches backend row messages to the request that produced them, so that a DataRow is masked
 * with the right RowDescription even when none precedes it (Execute of a portal described
 * earlier, or of a statement described at prepare time, with Bind's result formats).
 * The server answers in order; after an error it skips to Sync, and so does the tracker.
 */
export class ResultTracker {
  readonly #queue: Expectation[] = [];
  readonly #statements = new Map<string, readonly FieldDescription[] | null>();
  readonly #portals = new Map<string, { statement: string; formats: readonly number[] }>();
  readonly #portalShapes = new Map<string, ResultShape | null>();
  /** Client side: portals and statements a Describe was forwarded for. */
  readonly #describedPortals = new Set<string>();
  readonly #describedStatements = new Set<string>();
  /** The shape of the current simple-query result. */
  #current: ResultShape | undefined;

  /** Client side: a message was forwarded. */
  expect(e: Expectation): void {
    if (this.#queue.length > 100_000) throw new Error('too many requests in flight');
    this.#queue.push(e);
    if (e.kind === 'describe') {
      const set = e.target === 'S' ? this.#describedStatements : this.#describedPortals;
      set.add(e.name);
      if (set.size > MAX_NAMES) set.delete(set.values().next().value!);
    }
  }

  /** Client side: a Bind was forwarded. */
  bind(portal: string, statement: string, formats: readonly number[]): void {
    bounded(this.#portals, portal, { statement, formats });
    this.#portalShapes.delete(portal);
    this.#describedPortals.delete(portal);
  }

  /** Client side: a Parse was forwarded (the statement's shape is new). */
  parsed(statement: string): void {
    this.#describedStatements.delete(statement);
  }

  /**
   * Client side, before forwarding Execute: true when neither the portal nor its statement was
   * described, so the proxy must describe the portal itself (hidden from the client).
   */
  needsDescribe(portal: string): boolean {
    if (this.#describedPortals.has(portal)) return false;
    const p = this.#portals.get(portal);
    return p === undefined || !this.#describedStatements.has(p.statement);
  }

  /** Backend RowDescription (or NoData: `fields` null). Returns true when the client must not see it. */
  rowDescription(fields: readonly FieldDescription[] | null): boolean {
    const head = this.#queue[0];
    if (head?.kind === 'describe') {
      this.#queue.shift();
      if (head.target === 'S') bounded(this.#statements, head.name, fields);
      else bounded(this.#portalShapes, head.name, fields && { fields, formats: fields.map((f) => f.format) });
      return head.hidden === true;
    }
    this.#current = fields ? { fields, formats: fields.map((f) => f.format) } : undefined;
    return false;
  }

  /** The shape of the next DataRow, or undefined when it cannot be known (fail closed). */
  shape(): ResultShape | undefined {
    const head = this.#queue[0];
    if (head?.kind !== 'execute') return this.#current;
    const known = this.#portalShapes.get(head.portal);
    if (known) return known;
    const p = this.#portals.get(head.portal);
    const fields = p && this.#statements.get(p.statement);
    if (!p || !fields) return this.#current;
    const shape = { fields, formats: p.formats };
    bounded(this.#portalShapes, head.portal, shape);
    return shape;
  }

  /** Backend CommandComplete / EmptyQueryResponse / PortalSuspended. */
  completed(): void {
    if (this.#queue[0]?.kind === 'execute') this.#queue.shift();
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

  /** Backend ReadyForQuery. Outside a transaction, portals are gone. */
  ready(status: number): void {
    while (this.#queue.length > 0) {
      const e = this.#queue.shift()!;
      if (e.kind === 'sync' || e.kind === 'query') break;
    }
    this.#current = undefined;
    if (status === 0x49) { this.#portals.clear(); this.#portalShapes.clear(); }
  }
}
