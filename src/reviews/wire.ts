import type { GatehouseConfig } from '../config/types.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';
import type { Principal } from '../identity/principal.ts';
import type { SqlDriver } from '../store/sql.ts';
import type { AuditInput } from '../audit/record.ts';
import { ReviewService } from './service.ts';
import { WebhookNotifier } from './notifiers/webhook.ts';

/** What the composition root keeps. */
export interface ReviewsModule {
  readonly reviews: ReviewService;
  readonly notifier: WebhookNotifier;
  /** `reviews.hold_timeout` in ms. */
  readonly holdTimeoutMs: number;
  close(): Promise<void>;
}

/**
 * Builds the review service and its webhook notifier from the config.
 *
 * @example
 *   const rv = await openReviews({ db, clock, log, audit, config, publicUrl: url,
 *     mayApprove: policyApprover(deps) });  // policyApprover: enforce/approver.ts
 *   closers.unshift(() => rv.close());
 */
export async function openReviews(d: {
  db: SqlDriver; clock: Clock; log: Logger; audit: { append(e: AuditInput): Promise<unknown> }; config: GatehouseConfig;
  publicUrl: string; mayApprove: (p: Principal, connection: string) => Promise<boolean>; pendingTtlMs?: number;
}): Promise<ReviewsModule> {
  const notifier = new WebhookNotifier({ targets: d.config.notifications.webhooks, publicUrl: d.publicUrl, clock: d.clock, log: d.log });
  const reviews = await ReviewService.open({
    db: d.db, clock: d.clock, audit: d.audit, log: d.log, notifier, mayApprove: d.mayApprove,
    maxDurationMs: d.config.reviews.max_duration_ms, ...(d.pendingTtlMs === undefined ? {} : { pendingTtlMs: d.pendingTtlMs }),
  });
  return {
    reviews, notifier, holdTimeoutMs: d.config.reviews.hold_timeout_ms,
    async close() { await reviews.close(); await notifier.close(); },
  };
}
