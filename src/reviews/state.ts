import { GatehouseError } from '../kernel/errors.ts';
import type { ReviewKind, ReviewStatus } from './types.ts';

/**
 * The review state machine (SPEC: reviews):
 * ```
 * pending ──► approved ──► executed          (command: consumed by the one matching request)
 *    │           ├──────► expired | revoked (jit grant ends or is taken back; command approval
 *    │           │                           left unused too)
 *    └──► denied | expired | cancelled
 * ```
 * Everything else is illegal. Terminal states never change.
 */
const NEXT: Readonly<Record<ReviewStatus, readonly ReviewStatus[]>> = {
  pending: ['approved', 'denied', 'expired', 'cancelled'],
  approved: ['executed', 'expired', 'revoked'],
  denied: [],
  expired: [],
  cancelled: [],
  executed: [],
  revoked: [],
};

/** True when `from → to` is legal for a review of `kind`. */
export function canTransition(kind: ReviewKind, from: ReviewStatus, to: ReviewStatus): boolean {
  if (to === 'executed' && kind !== 'command') return false;
  return NEXT[from].includes(to);
}

/**
 * Throws `conflict` (409) when `from → to` is illegal.
 *
 * @example assertTransition('command', 'denied', 'approved') // throws conflict
 */
export function assertTransition(kind: ReviewKind, from: ReviewStatus, to: ReviewStatus): void {
  if (!canTransition(kind, from, to)) {
    throw new GatehouseError('conflict', `review is ${from}; it cannot become ${to}`, { status_now: from });
  }
}

/** True for states no transition leaves. */
export function isTerminal(s: ReviewStatus): boolean {
  return NEXT[s].length === 0;
}
