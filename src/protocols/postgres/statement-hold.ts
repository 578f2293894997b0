import type { PostgresDeps } from './deps.ts';
import type { Principal } from '../../identity/principal.ts';
import { holdStatement, type ReviewVerdict, type SqlHoldResult, type StatementBinding } from '../../sql/hold.ts';
import { SQLSTATE, type PgErrorCode } from './errors.ts';
import { sqlstateOf } from '../../kernel/errors.ts';
import type { SessionLink } from './session-link.ts';
import type { SessionRecording } from './session-recording.ts';

/** What a held statement resolves to: run it, or answer the client with this error instead. */
export type HoldResult =
  | { readonly run: true; readonly reviewIds: readonly string[] }
  | { readonly run: false; readonly error: PgErrorCode; readonly message: string; readonly reviewId?: string };

/** How each refusal is told: denied `policy_denied`, pending `review_required` (both 42501); a hold the client cancelled 57014. */
const REFUSAL: Readonly<Record<'denied' | 'pending' | 'cancelled', PgErrorCode>> = {
  denied: { code: 'policy_denied' },
  pending: { code: 'review_required' },
  cancelled: { code: 'review_required', sqlstate: SQLSTATE.queryCanceled },
};

/** A refused hold as the PostgreSQL client sees it: 42501, or 57014 when the client cancelled it. */
export function pgHoldResult(r: SqlHoldResult): HoldResult {
  if (r.run) return r;
  return { run: false, error: REFUSAL[r.refusal], message: r.message, ...(r.reviewId === undefined ? {} : { reviewId: r.reviewId }) };
}

/** Client bytes read (and queued) while a statement is held, before the socket is paused. */
const HOLD_BUFFER_LIMIT = 1024 * 1024;

/** A statement held for review: aborted by CancelRequest or the client going away. */
interface Held { readonly ac: AbortController; bytes: number; cancelled: boolean }

/** What a {@link StatementHold} needs from the session. */
export interface StatementHoldInit {
  readonly svc: PostgresDeps;
  readonly principal: Principal;
  readonly connection: string;
  readonly link: SessionLink;
  readonly rec: SessionRecording;
  /** The session's current justification (`SET gatehouse.justification`). */
  readonly justification: () => string | undefined;
}

/**
 * Holding one statement in the session until the review gate answers. The serial pump handles no
 * later client message meanwhile (order is kept); earlier messages are flushed upstream first;
 * the client socket keeps being read (≤ 1 MiB queued) so that its going away aborts the hold,
 * and a CancelRequest for the session ends it with 57014 (the review stays pending).
 */
export class StatementHold {
  readonly #init: StatementHoldInit;
  #held: Held | undefined;

  constructor(init: StatementHoldInit) {
    this.#init = init;
  }

  /** Holds `sql` (with Bind parameters, if any, and what decides what it runs) via the review gate; records the outcome. */
  async run(v: ReviewVerdict, sql: string, params: readonly (Buffer | null)[] | undefined, binding: StatementBinding): Promise<HoldResult> {
    const { link, rec } = this.#init;
    const h: Held = { ac: new AbortController(), bytes: 0, cancelled: false };
    this.#held = h;
    link.flushUpstream();
    // The pump pauses the client while a handler is pending; read on so a close is noticed.
    setImmediate(() => { if (this.#held === h && !link.isClosed() && h.bytes <= HOLD_BUFFER_LIMIT) link.resumeClient(); });
    try {
      const r = pgHoldResult(await holdStatement({
        svc: this.#init.svc, principal: this.#init.principal, connection: this.#init.connection, justification: this.#init.justification(),
        signal: h.ac.signal, cancelled: () => h.cancelled,
      }, v, sql, params, binding));
      rec.event('review', r.run ? { outcome: 'run', review_ids: r.reviewIds } : { outcome: 'refused', code: sqlstateOf(r.error.code, r.error.sqlstate), review_id: r.reviewId ?? null, message: r.message });
      return r;
    } finally {
      if (this.#held === h) this.#held = undefined;
    }
  }

  /** Client bytes arrived: true when the client should be paused (too much queued during a hold). */
  clientBytes(n: number): boolean {
    const held = this.#held;
    return held !== undefined && (held.bytes += n) > HOLD_BUFFER_LIMIT;
  }

  /** CancelRequest for this session: a held statement fails with 57014 (the review stays pending). */
  cancel(): void {
    const h = this.#held;
    if (!h) return;
    h.cancelled = true;
    h.ac.abort();
  }

  /** The session ends: a hold in progress is aborted. */
  abort(): void {
    this.#held?.ac.abort();
  }
}
