import type { SqlExecutor } from '../store/sql.ts';
import type { Action, Facts } from '../policy/request.ts';
import type { Review, ReviewActor, ReviewApproval, ReviewKind, ReviewStatus } from './types.ts';

/** SQL for the `reviews` and `review_approvals` tables (migration 004). Both stores run it as is. */

export const REVIEW_COLUMNS = 'id, kind, status, rule, approvers, min_approvals, grant_ms, connection, action, actions, ' +
  'requester_key, requester, fingerprint, summary, justification, facts, created_at, expires_at, decided_at, decided_by, reason, executed_at, agent_approvers';

interface ReviewRow {
  id: string; kind: ReviewKind; status: ReviewStatus; rule: string; approvers: string[]; min_approvals: number;
  grant_ms: string | number | null; connection: string; action: Action; actions: Action[]; requester_key: string;
  requester: ReviewActor; fingerprint: string; summary: string; justification: string | null; facts: Facts | null;
  created_at: Date | string; expires_at: Date | string; decided_at: Date | string | null; decided_by: ReviewActor | null;
  reason: string | null; executed_at: Date | string | null; agent_approvers: boolean | null;
}

interface ApprovalRow { review_id: string; approver: string; actor: ReviewActor; comment: string | null; at: Date | string }

const ms = (v: Date | string): number => new Date(v).getTime();
/** ISO text for a `timestamptz` parameter. */
export const iso = (t: number): string => new Date(t).toISOString();

function fromRow(r: ReviewRow, approvals: readonly ReviewApproval[]): Review {
  return {
    id: r.id, kind: r.kind, status: r.status, rule: r.rule, approvers: r.approvers, minApprovals: r.min_approvals,
    ...(r.grant_ms === null ? {} : { grantMs: Number(r.grant_ms) }),
    connection: r.connection, action: r.action, actions: r.actions, requester: r.requester, fingerprint: r.fingerprint,
    summary: r.summary, ...(r.justification === null ? {} : { justification: r.justification }), facts: r.facts ?? {},
    createdAt: ms(r.created_at), expiresAt: ms(r.expires_at),
    ...(r.decided_at === null ? {} : { decidedAt: ms(r.decided_at) }),
    ...(r.decided_by === null ? {} : { decidedBy: r.decided_by }),
    ...(r.reason === null ? {} : { reason: r.reason }),
    ...(r.executed_at === null ? {} : { executedAt: ms(r.executed_at) }),
    agentApprovers: r.agent_approvers === true,
    approvals,
  };
}

/** Loads the approvals of `rows` and maps them to reviews, in the rows' order. */
async function hydrate(ex: SqlExecutor, rows: readonly ReviewRow[]): Promise<Review[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const votes = await ex.query<ApprovalRow>(
    'SELECT review_id, approver, actor, comment, at FROM review_approvals WHERE review_id = ANY($1::text[]) ORDER BY at, approver', [ids]);
  const by = new Map<string, ReviewApproval[]>();
  for (const v of votes) {
    const list = by.get(v.review_id) ?? [];
    list.push({ by: v.actor, at: ms(v.at), ...(v.comment === null ? {} : { comment: v.comment }) });
    by.set(v.review_id, list);
  }
  return rows.map((r) => fromRow(r, by.get(r.id) ?? []));
}

/** A new pending review, before it is stored. */
export interface NewReview {
  readonly id: string; readonly kind: ReviewKind; readonly rule: string; readonly approvers: readonly string[];
  readonly minApprovals: number; readonly grantMs: number | undefined; readonly connection: string; readonly action: Action;
  readonly actions: readonly Action[]; readonly requesterKey: string; readonly requester: ReviewActor;
  readonly fingerprint: string; readonly summary: string; readonly justification: string | undefined;
  readonly facts: Facts; readonly createdAt: number; readonly expiresAt: number; readonly agentApprovers: boolean;
}

/**
 * Inserts a pending review unless the requester already has one pending for the same fingerprint
 * (unique partial index); returns the stored one either way and whether it was created.
 */
export async function insertOrReusePending(ex: SqlExecutor, n: NewReview): Promise<{ review: Review; created: boolean }> {
  const inserted = await ex.query<ReviewRow>(
    `INSERT INTO reviews (id, kind, status, rule, approvers, min_approvals, grant_ms, connection, action, actions,
       requester_key, requester, fingerprint, summary, justification, facts, created_at, expires_at, agent_approvers)
     VALUES ($1, $2, 'pending', $3, $4::jsonb, $5, $6, $7, $8, $9::jsonb, $10, $11::jsonb, $12, $13, $14, $15::jsonb, $16::timestamptz, $17::timestamptz, $18)
     ON CONFLICT (requester_key, fingerprint) WHERE status = 'pending' DO NOTHING
     RETURNING ${REVIEW_COLUMNS}`,
    [n.id, n.kind, n.rule, JSON.stringify(n.approvers), n.minApprovals, n.grantMs ?? null, n.connection, n.action,
      JSON.stringify(n.actions), n.requesterKey, JSON.stringify(n.requester), n.fingerprint, n.summary, n.justification ?? null,
      JSON.stringify(n.facts), iso(n.createdAt), iso(n.expiresAt), n.agentApprovers]);
  if (inserted[0]) return { review: fromRow(inserted[0], []), created: true };
  const existing = await ex.query<ReviewRow>(
    `SELECT ${REVIEW_COLUMNS} FROM reviews WHERE requester_key = $1 AND fingerprint = $2 AND status = 'pending'`, [n.requesterKey, n.fingerprint]);
  const [review] = await hydrate(ex, existing);
  if (!review) throw new Error('pending review vanished between insert and select');
  return { review, created: false };
}

/** One review with its approvals; `lock` takes a row lock (inside a transaction). */
export async function getReview(ex: SqlExecutor, id: string, lock = false): Promise<Review | undefined> {
  const rows = await ex.query<ReviewRow>(`SELECT ${REVIEW_COLUMNS} FROM reviews WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return (await hydrate(ex, rows))[0];
}

/** Fields a transition may set. */
export interface TransitionFields {
  readonly decidedAt?: number; readonly decidedBy?: ReviewActor; readonly reason?: string;
  readonly expiresAt?: number; readonly executedAt?: number;
}

/**
 * Moves a review from one of `from` to `to` atomically; returns the updated review, or undefined
 * when it was not in `from` (someone else moved it first).
 */
export async function transition(
  ex: SqlExecutor, id: string, from: readonly ReviewStatus[], to: ReviewStatus, f: TransitionFields, now?: number,
): Promise<Review | undefined> {
  const params: unknown[] = [id, from, to, f.decidedAt === undefined ? null : iso(f.decidedAt),
    f.decidedBy === undefined ? null : JSON.stringify(f.decidedBy), f.reason ?? null,
    f.expiresAt === undefined ? null : iso(f.expiresAt), f.executedAt === undefined ? null : iso(f.executedAt)];
  let guard = '';
  if (now !== undefined) { params.push(iso(now)); guard = ` AND expires_at > $${params.length}::timestamptz`; }
  const rows = await ex.query<ReviewRow>(
    `UPDATE reviews SET status = $3,
       decided_at = COALESCE($4::timestamptz, decided_at), decided_by = COALESCE($5::jsonb, decided_by),
       reason = COALESCE($6, reason), expires_at = COALESCE($7::timestamptz, expires_at),
       executed_at = COALESCE($8::timestamptz, executed_at)
     WHERE id = $1 AND status = ANY($2::text[])${guard}
     RETURNING ${REVIEW_COLUMNS}`, params);
  return (await hydrate(ex, rows))[0];
}

/**
 * Narrows a jit review's grant to at most `grantMs` (an approver's chosen window): the stored
 * length only ever shrinks, so with several approvers the grant is the shortest window chosen.
 */
export async function narrowGrant(ex: SqlExecutor, id: string, grantMs: number): Promise<void> {
  await ex.query('UPDATE reviews SET grant_ms = LEAST(grant_ms, $2) WHERE id = $1 AND grant_ms IS NOT NULL', [id, grantMs]);
}

/** Records one approval vote; false when this approver already voted. */
export async function addApproval(ex: SqlExecutor, id: string, approver: ReviewActor, at: number, comment: string | undefined): Promise<boolean> {
  const rows = await ex.query(
    `INSERT INTO review_approvals (review_id, approver, actor, comment, at) VALUES ($1, $2, $3::jsonb, $4, $5::timestamptz)
     ON CONFLICT (review_id, approver) DO NOTHING RETURNING review_id`,
    [id, approver.id, JSON.stringify(approver), comment ?? null, iso(at)]);
  return rows.length === 1;
}

/** The oldest approved, unexpired command review of `key` for `fingerprint`. */
export async function findApprovedCommand(ex: SqlExecutor, key: string, fingerprint: string, now: number): Promise<Review | undefined> {
  const rows = await ex.query<ReviewRow>(
    `SELECT ${REVIEW_COLUMNS} FROM reviews WHERE requester_key = $1 AND fingerprint = $2 AND kind = 'command'
       AND status = 'approved' AND expires_at > $3::timestamptz ORDER BY decided_at LIMIT 1`, [key, fingerprint, iso(now)]);
  return (await hydrate(ex, rows))[0];
}

/** Active jit grants of `key` on `connection` (not expired at `now`). */
export async function findActiveGrants(ex: SqlExecutor, key: string, connection: string, now: number): Promise<Review[]> {
  const rows = await ex.query<ReviewRow>(
    `SELECT ${REVIEW_COLUMNS} FROM reviews WHERE requester_key = $1 AND connection = $2 AND kind = 'jit'
       AND status = 'approved' AND expires_at > $3::timestamptz ORDER BY expires_at DESC LIMIT 20`, [key, connection, iso(now)]);
  return hydrate(ex, rows);
}

/** Expires every pending or approved review whose `expires_at` has passed; returns them. */
export async function expireDue(ex: SqlExecutor, now: number, limit = 500): Promise<Review[]> {
  const rows = await ex.query<ReviewRow>(
    `UPDATE reviews SET status = 'expired', decided_at = CASE WHEN status = 'pending' THEN $1::timestamptz ELSE decided_at END
     WHERE id IN (SELECT id FROM reviews WHERE status IN ('pending', 'approved') AND expires_at <= $1::timestamptz LIMIT $2)
       AND status IN ('pending', 'approved') AND expires_at <= $1::timestamptz
     RETURNING ${REVIEW_COLUMNS}`, [iso(now), limit]);
  return hydrate(ex, rows);
}

/** Filters of {@link listReviews}; newest first. */
export interface ListFilter {
  readonly status?: ReviewStatus;
  /** Reviews requested by these principal ids (with or without an agent). */
  readonly requesterIds?: readonly string[];
  /** Reviews whose approver groups intersect these (OR'd with `requesterIds`). */
  readonly approverGroups?: readonly string[];
  readonly limit: number;
}

/** Reviews matching the filter. With neither `requesterIds` nor `approverGroups`, all reviews. */
export async function listReviews(ex: SqlExecutor, f: ListFilter): Promise<Review[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.status !== undefined) { params.push(f.status); where.push(`status = $${params.length}`); }
  const scope: string[] = [];
  if (f.requesterIds !== undefined) { params.push(f.requesterIds); scope.push(`requester ->> 'id' = ANY($${params.length}::text[])`); }
  if (f.approverGroups !== undefined) { params.push(f.approverGroups); scope.push(`approvers ?| $${params.length}::text[]`); }
  if (scope.length > 0) where.push(`(${scope.join(' OR ')})`);
  params.push(f.limit);
  const rows = await ex.query<ReviewRow>(
    `SELECT ${REVIEW_COLUMNS} FROM reviews ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY created_at DESC, id LIMIT $${params.length}`, params);
  return hydrate(ex, rows);
}
