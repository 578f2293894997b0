import { every, type Clock } from '../kernel/clock.ts';
import { GatehouseError } from '../kernel/errors.ts';
import { randomBase62 } from '../kernel/ids.ts';
import type { Logger } from '../kernel/log.ts';
import type { SqlDriver } from '../store/sql.ts';
import type { AuditInput } from '../audit/record.ts';
import type { Principal } from '../identity/principal.ts';
import { isAction, type Action, type Facts } from '../policy/request.ts';
import type { ReviewRuleConfig } from '../policy/review-rules.ts';
import { actorOf, describeActor, isSelf, requesterKey } from './actors.ts';
import { assertMayDecide } from './eligibility.ts';
import * as repo from './repo.ts';
import { assertTransition } from './state.ts';
import type { Review, ReviewActor, ReviewStatus, ReviewTransition } from './types.ts';
import { waitForDecision, Waiters, type HoldOutcome } from './waiters.ts';
import { nullNotifier, type Notifier } from './notifiers/types.ts';

export type { HoldOutcome } from './waiters.ts';

/** Defaults (documented in docs/design/reviews.md). */
export const REVIEW_DEFAULTS = {
  pendingTtlMs: 24 * 3_600_000, approvalTtlMs: 24 * 3_600_000, grantMs: 15 * 60_000,
  sweepIntervalMs: 30_000, recheckMs: 5_000, channel: 'gatehouse_reviews',
} as const;

const MAX_SUMMARY = 2000;
const MAX_TEXT = 1000;

export interface ReviewServiceOptions {
  readonly db: SqlDriver;
  readonly clock: Clock;
  readonly audit: { append(e: AuditInput): Promise<unknown> };
  readonly log?: Pick<Logger, 'error' | 'warn'>;
  /** Policy's word on `review.approve` for `p` on the connection (authorize() in production). */
  readonly mayApprove: (p: Principal, connection: string) => Promise<boolean>;
  readonly notifier?: Notifier;
  /** Cap of jit grants (`reviews.max_duration`). */
  readonly maxDurationMs: number;
  /** Unanswered reviews expire after this (default 24 h). */
  readonly pendingTtlMs?: number;
  /** An approved command review must be re-sent within this (default 24 h). */
  readonly approvalTtlMs?: number;
  /** Expiry sweep period (default 30 s; 0: only lazily, on reads). */
  readonly sweepIntervalMs?: number;
  /** Held requests re-read their review this often, in case a NOTIFY was lost (default 5 s). */
  readonly recheckMs?: number;
}

/** Input of {@link ReviewService.request}. */
export interface ReviewRequest {
  readonly principal: Principal;
  readonly action: Action;
  /** The connection name. */
  readonly resource: string;
  readonly facts: Facts;
  /** Canonical hash of the exact request, computed by the protocol. */
  readonly fingerprint: string;
  /** Masked, human-readable summary. */
  readonly summary: string;
  readonly rule: ReviewRuleConfig;
  readonly justification?: string;
}

/**
 * Reviews over the store (SPEC: reviews). Every transition is one conditional UPDATE (so replicas
 * never both win), then it is audited (`review.<transition>`), held requests are woken (in process
 * and, through NOTIFY, on every replica) and the notifiers are called. Nothing is cached: a deny
 * or revoke is seen by the next read on any replica.
 *
 * @example
 *   const reviews = await ReviewService.open({ db, clock, audit, mayApprove, maxDurationMs: 8 * 3600_000 });
 *   const r = await reviews.request({ principal, action: 'sql.write', resource: 'crm', facts, fingerprint, summary, rule });
 *   if (await reviews.hold(r, 60_000) === 'approved' && await reviews.consume(r)) run();
 */
export class ReviewService {
  readonly #o: ReviewServiceOptions;
  readonly #notifier: Notifier;
  readonly #waiters = new Waiters();
  readonly #stops: (() => Promise<void> | void)[] = [];

  private constructor(o: ReviewServiceOptions) {
    this.#o = o;
    this.#notifier = o.notifier ?? nullNotifier;
  }

  /** Creates the service, subscribes to the store's review channel and starts the expiry sweep. */
  static async open(o: ReviewServiceOptions): Promise<ReviewService> {
    const s = new ReviewService(o);
    const unlisten = await o.db.listen(REVIEW_DEFAULTS.channel, (payload) => { s.#onNotify(payload); });
    s.#stops.push(unlisten);
    const period = o.sweepIntervalMs ?? REVIEW_DEFAULTS.sweepIntervalMs;
    if (period > 0) s.#stops.push(every(o.clock, period, () => { s.sweep().catch((e: unknown) => s.#logError(e, 'review sweep failed')); }));
    return s;
  }

  /** Unsubscribes and stops the sweep (the notifier is closed by its owner). */
  async close(): Promise<void> {
    for (const stop of this.#stops.splice(0)) await stop();
  }

  /** Held requests in this process. */
  get holding(): number { return this.#waiters.size; }

  /** Creates a pending review, or returns the requester's pending one for the same fingerprint. */
  async request(input: ReviewRequest): Promise<Review> {
    const { rule } = input;
    if (input.fingerprint.length === 0 || input.fingerprint.length > 256) throw new GatehouseError('internal', 'review fingerprint must be 1–256 characters');
    await this.sweep();
    const now = this.#o.clock.now();
    const requester = actorOf(input.principal);
    const actions = rule.kind === 'jit' ? rule.actions.filter(isAction) : [input.action];
    const { review, created } = await repo.insertOrReusePending(this.#o.db, {
      id: `rv_${randomBase62(16)}`, kind: rule.kind, rule: rule.name, approvers: rule.approvers, minApprovals: rule.min_approvals,
      grantMs: rule.kind === 'jit' ? this.#grantMs(rule) : undefined, connection: input.resource, action: input.action,
      actions, requesterKey: requesterKey(requester), requester, fingerprint: input.fingerprint,
      summary: clip(input.summary, MAX_SUMMARY), justification: optClip(input.justification), facts: input.facts,
      createdAt: now, expiresAt: now + (this.#o.pendingTtlMs ?? REVIEW_DEFAULTS.pendingTtlMs), agentApprovers: rule.agent_approvers === true,
    });
    if (created) await this.#after('requested', review, requester);
    return review;
  }

  /**
   * Waits until the review leaves `pending` (→ its outcome), `timeoutMs` passes (→ 'timeout'), or
   * `signal` aborts (→ 'cancelled'; the review itself stays pending). Never rejects.
   */
  hold(review: Review, timeoutMs: number, signal?: AbortSignal): Promise<HoldOutcome> {
    return waitForDecision({
      id: review.id, waiters: this.#waiters, clock: this.#o.clock, timeoutMs, signal,
      recheckMs: this.#o.recheckMs ?? REVIEW_DEFAULTS.recheckMs,
      read: () => this.get(review.id), onError: (e) => { this.#logError(e, 're-reading a held review failed'); },
    });
  }

  /** One review (expiring it first if its time has passed), or undefined. */
  async get(id: string): Promise<Review | undefined> {
    const r = await repo.getReview(this.#o.db, id);
    if (!r || !((r.status === 'pending' || r.status === 'approved') && r.expiresAt <= this.#o.clock.now())) return r;
    const expired = await repo.transition(this.#o.db, id, [r.status], 'expired', r.status === 'pending' ? { decidedAt: this.#o.clock.now() } : {});
    if (expired) await this.#after('expired', expired);
    return (await repo.getReview(this.#o.db, id)) ?? r;
  }

  /**
   * Reviews newest first. `visibleTo`: its own requests plus those whose approver groups it is in;
   * `requester`: only that principal's requests (any agent); neither: all.
   */
  async list(f: { status?: ReviewStatus; requester?: string; visibleTo?: Principal; limit?: number } = {}): Promise<Review[]> {
    await this.sweep();
    const ids = f.requester !== undefined ? [f.requester] : f.visibleTo ? [f.visibleTo.id] : undefined;
    return repo.listReviews(this.#o.db, {
      limit: Math.min(Math.max(f.limit ?? 100, 1), 1000),
      ...(f.status === undefined ? {} : { status: f.status }),
      ...(ids === undefined ? {} : { requesterIds: ids }),
      ...(f.visibleTo && f.requester === undefined ? { approverGroups: f.visibleTo.groups } : {}),
    });
  }

  /**
   * Adds `approver`'s approval; the review becomes approved at `min_approvals` distinct approvers
   * (jit: the grant runs from now for the rule's duration, capped by max_duration).
   * `grantMs` (jit only): the approver's time window for the grant — a whole number of ms, at
   * least 1 s and at most the review's grant (the rule's duration, capped by max_duration);
   * with several approvers the grant is the shortest window any of them chose.
   * Throws policy_denied (self-approval, not an approver, not permitted), not_found, conflict,
   * validation_failed (a window on a command review, or one out of bounds).
   */
  async approve(id: string, approver: Principal, comment?: string, grantMs?: number): Promise<Review> {
    const by = actorOf(approver);
    await this.#eligible(id, approver, 'approve');
    let approvedNow = false;
    const out = await this.#o.db.transaction(async (tx) => {
      const r = await this.#lockOpen(tx, id, 'pending', 'approved');
      const cap = r.grantMs ?? Math.min(REVIEW_DEFAULTS.grantMs, this.#o.maxDurationMs);
      if (grantMs !== undefined) assertWindow(r, grantMs, cap);
      if (!(await repo.addApproval(tx, id, by, this.#o.clock.now(), optClip(comment)))) {
        throw new GatehouseError('conflict', `${describeActor(by)} already approved review ${id}`);
      }
      if (grantMs !== undefined && grantMs < cap) await repo.narrowGrant(tx, id, grantMs);
      const votes = r.approvals.length + 1;
      if (votes < r.minApprovals) return (await repo.getReview(tx, id))!;
      const now = this.#o.clock.now();
      const grant = Math.min(cap, grantMs ?? cap);
      const until = now + (r.kind === 'jit' ? grant : this.#o.approvalTtlMs ?? REVIEW_DEFAULTS.approvalTtlMs);
      approvedNow = true;
      return (await repo.transition(tx, id, ['pending'], 'approved', { decidedAt: now, decidedBy: by, expiresAt: until }))!;
    });
    await this.#after('approval', out, by, {
      ...(comment === undefined ? {} : { comment: optClip(comment) }),
      ...(grantMs === undefined ? {} : { window_seconds: Math.round(grantMs / 1000) }),
    });
    if (approvedNow) await this.#after('approved', out, by);
    return out;
  }

  /** Denies a pending review with `reason`; held requests are released with it at once. */
  async deny(id: string, approver: Principal, reason: string): Promise<Review> {
    if (reason.trim() === '') throw new GatehouseError('validation_failed', 'a reason is required to deny a review');
    await this.#eligible(id, approver, 'deny');
    return this.#move(id, 'pending', 'denied', actorOf(approver), clip(reason, MAX_TEXT));
  }

  /** Ends an approved review (a jit grant, or an unused command approval) at once. */
  async revoke(id: string, by: Principal, reason?: string): Promise<Review> {
    const r = await this.#require(id);
    if (!isSelf(actorOf(by), r.requester)) await this.#eligible(id, by, 'revoke');
    return this.#move(id, 'approved', 'revoked', actorOf(by), optClip(reason));
  }

  /** The requester withdraws its pending review. */
  async cancel(id: string, by: Principal, reason?: string): Promise<Review> {
    const r = await this.#require(id);
    if (!isSelf(actorOf(by), r.requester)) throw new GatehouseError('policy_denied', 'only the requester can cancel a review');
    return this.#move(id, 'pending', 'cancelled', actorOf(by), optClip(reason));
  }

  /**
   * Command reviews: marks the approved review executed, atomically and at most once. False when
   * it is not approved any more (already executed, revoked, expired). Throws when the execution
   * could not be audited (the caller must not run then).
   */
  async consume(review: Review): Promise<boolean> {
    if (review.kind !== 'command') return false;
    const now = this.#o.clock.now();
    const done = await repo.transition(this.#o.db, review.id, ['approved'], 'executed', { executedAt: now }, now);
    if (!done) return false;
    await this.#after('executed', done, done.requester);
    return true;
  }

  /** The oldest approved, unused command review of this principal for exactly this request. */
  async approvedCommand(principal: Principal, fingerprint: string): Promise<Review | undefined> {
    return repo.findApprovedCommand(this.#o.db, requesterKey(actorOf(principal)), fingerprint, this.#o.clock.now());
  }

  /** An active jit grant covering `action` on `connection` for this principal (read every time). */
  async activeGrant(principal: Principal, connection: string, action: Action): Promise<Review | undefined> {
    const grants = await repo.findActiveGrants(this.#o.db, requesterKey(actorOf(principal)), connection, this.#o.clock.now());
    return grants.find((g) => g.actions.includes(action));
  }

  /** Expires every review whose time has passed (each replica may run it; each row moves once). */
  async sweep(): Promise<number> {
    const expired = await repo.expireDue(this.#o.db, this.#o.clock.now());
    for (const r of expired) await this.#after('expired', r);
    return expired.length;
  }

  #grantMs(rule: ReviewRuleConfig): number {
    const want = rule.duration_ms ?? REVIEW_DEFAULTS.grantMs;
    return Math.min(want, this.#o.maxDurationMs);
  }

  async #require(id: string): Promise<Review> {
    const r = await this.get(id);
    if (!r) throw new GatehouseError('not_found', `no review ${id}`);
    return r;
  }

  /** The review, if `p` may decide on it (see assertMayDecide). */
  async #eligible(id: string, p: Principal, verb: 'approve' | 'deny' | 'revoke'): Promise<Review> {
    const r = await this.#require(id);
    await assertMayDecide(r, p, verb, this.#o.mayApprove);
    return r;
  }

  /** Locks an open review in `tx`; conflict unless it is `from` and not past its expiry. */
  async #lockOpen(tx: Parameters<Parameters<SqlDriver['transaction']>[0]>[0], id: string, from: ReviewStatus, to: ReviewStatus): Promise<Review> {
    const r = await repo.getReview(tx, id, true);
    if (!r) throw new GatehouseError('not_found', `no review ${id}`);
    assertTransition(r.kind, r.status, to);
    if (r.status !== from || r.expiresAt <= this.#o.clock.now()) {
      throw new GatehouseError('conflict', `review ${id} is ${r.expiresAt <= this.#o.clock.now() ? 'expired' : r.status}; it cannot become ${to}`);
    }
    return r;
  }

  async #move(id: string, from: ReviewStatus, to: 'denied' | 'revoked' | 'cancelled', by: ReviewActor, reason: string | undefined): Promise<Review> {
    const out = await this.#o.db.transaction(async (tx) => {
      await this.#lockOpen(tx, id, from, to);
      const now = this.#o.clock.now();
      return (await repo.transition(tx, id, [from], to, { decidedAt: now, decidedBy: by, ...(reason === undefined ? {} : { reason }) }))!;
    });
    await this.#after(to, out, by);
    return out;
  }

  /** After a committed transition: audit (awaited; its failure is rethrown), wake, NOTIFY, notify. */
  async #after(t: ReviewTransition, r: Review, by?: ReviewActor, extra: Record<string, unknown> = {}): Promise<void> {
    try {
      await this.#o.audit.append({
        kind: `review.${t}`, user: r.requester.id, ...(r.requester.agent === undefined ? {} : { agent: r.requester.agent }),
        action: r.action, resource: `Connection::${r.connection}`, outcome: r.status,
        detail: {
          review: r.id, rule: r.rule, review_kind: r.kind, requester: describeActor(r.requester),
          ...(by ? { by: describeActor(by) } : {}), ...(t === 'approval' ? { approvals: r.approvals.length, min_approvals: r.minApprovals } : {}),
          ...(r.reason !== undefined && (t === 'denied' || t === 'revoked' || t === 'cancelled') ? { reason: r.reason } : {}), ...extra,
        },
      });
    } finally {
      this.#waiters.wake(r.id, r);
      this.#o.db.notify(REVIEW_DEFAULTS.channel, JSON.stringify({ id: r.id, status: r.status }))
        .catch((e: unknown) => { this.#logError(e, 'review NOTIFY failed'); });
      try { this.#notifier.notify({ event: `review.${t}`, review: r, ...(by ? { by } : {}) }); } catch (e) { this.#logError(e, 'review notifier threw'); }
    }
  }

  #onNotify(payload: string): void {
    let id: unknown;
    try { id = (JSON.parse(payload) as { id?: unknown }).id; } catch { return; }
    if (typeof id === 'string') this.#waiters.wake(id);
  }

  #logError(e: unknown, msg: string): void {
    this.#o.log?.error({ err: e instanceof Error ? e.message : String(e) }, msg);
  }
}

/** A chosen jit window: only on jit reviews, whole ms, 1 s to the review's grant (`cap`). */
function assertWindow(r: Review, grantMs: number, cap: number): void {
  if (r.kind !== 'jit') throw new GatehouseError('validation_failed', `review ${r.id} is for one command; a time window applies only to jit reviews`);
  if (!Number.isSafeInteger(grantMs) || grantMs < 1000) throw new GatehouseError('validation_failed', 'the time window must be at least 1s');
  if (grantMs > cap) {
    throw new GatehouseError('validation_failed', `the time window (${Math.round(grantMs / 1000)} s) is longer than this review allows (${Math.round(cap / 1000)} s: rule ${r.rule}, capped by reviews.max_duration)`);
  }
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function optClip(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  return t === '' ? undefined : clip(t, MAX_TEXT);
}
