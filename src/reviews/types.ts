import type { Action, Facts } from '../policy/request.ts';

/** `command`: one exact request, run at most once. `jit`: a time-bound grant on a connection. */
export type ReviewKind = 'command' | 'jit';

/**
 * Where a review is in its life (see state.ts). For `jit`, `approved` means "grant active until
 * `expiresAt`". `executed` is only reached by `command` reviews.
 */
export type ReviewStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled' | 'executed' | 'revoked';

/** Who asked or decided: names only, never credentials. `agent` is the agent acting for a user. */
export interface ReviewActor {
  readonly kind: 'user' | 'agent';
  readonly id: string;
  readonly agent?: string;
}

/** One approval vote. */
export interface ReviewApproval {
  readonly by: ReviewActor;
  readonly at: number;
  readonly comment?: string;
}

/** A review as stored. Times are ms since the epoch. */
export interface Review {
  readonly id: string;
  readonly kind: ReviewKind;
  readonly status: ReviewStatus;
  /** The review rule that asked for it; its approvers and thresholds are snapshotted here. */
  readonly rule: string;
  readonly approvers: readonly string[];
  readonly minApprovals: number;
  /** jit: the grant length in ms (already capped by `reviews.max_duration`). */
  readonly grantMs?: number;
  readonly connection: string;
  readonly action: Action;
  /** jit: the actions the grant covers (the rule's actions). command: just `action`. */
  readonly actions: readonly Action[];
  readonly requester: ReviewActor;
  /** Canonical hash of the exact request (computed by the protocol). */
  readonly fingerprint: string;
  /** Masked, human-readable description of the request. */
  readonly summary: string;
  readonly justification?: string;
  readonly facts: Facts;
  readonly createdAt: number;
  /** pending: when it expires unanswered; approved: when the approval (jit: grant) ends. */
  readonly expiresAt: number;
  readonly decidedAt?: number;
  /** Who made the last transition (denier, revoker, canceller, last approver). */
  readonly decidedBy?: ReviewActor;
  /** Deny/revoke/cancel reason. */
  readonly reason?: string;
  readonly executedAt?: number;
  /** Snapshot of the rule's `agent_approvers`: a person with an acting agent may decide. */
  readonly agentApprovers: boolean;
  readonly approvals: readonly ReviewApproval[];
}

/** Transition names as they appear in audit kinds (`review.<transition>`) and notifications. */
export type ReviewTransition = 'requested' | 'approval' | 'approved' | 'denied' | 'expired' | 'cancelled' | 'executed' | 'revoked';

/** What notifiers receive after a transition was committed. */
export interface ReviewEvent {
  readonly event: `review.${ReviewTransition}`;
  readonly review: Review;
  readonly by?: ReviewActor;
}
