import { authorize, connectionResource } from '../app/authorize.ts';
import type { Services } from '../app/services.ts';
import type { GatehouseConfig } from '../config/types.ts';
import { ms } from '../config/types.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';
import type { Principal } from '../identity/principal.ts';
import type { SqlDriver } from '../store/sql.ts';
import type { AuditInput } from '../audit/record.ts';
import { ReviewService } from './service.ts';
import { WebhookNotifier } from './notifiers/webhook.ts';

/**
 * Policy's word on approving: `p` may approve on `connection` when Cedar permits it
 * `review.approve` on that Connection (audited like every decision). Unknown connection: no.
 */
export function policyApprover(svc: () => Pick<Services, 'decider' | 'audit' | 'metrics' | 'clock' | 'log' | 'connections'>) {
  return async (p: Principal, connection: string): Promise<boolean> => {
    const s = svc();
    const conn = await s.connections.get(connection);
    if (!conn) return false;
    return (await authorize(s, p, 'review.approve', connectionResource(conn))).effect === 'allow';
  };
}

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
 *     mayApprove: policyApprover(() => services) });
 *   closers.unshift(() => rv.close());
 */
export async function openReviews(d: {
  db: SqlDriver; clock: Clock; log: Logger; audit: { append(e: AuditInput): Promise<unknown> }; config: GatehouseConfig;
  publicUrl: string; mayApprove: (p: Principal, connection: string) => Promise<boolean>; pendingTtlMs?: number;
}): Promise<ReviewsModule> {
  const notifier = new WebhookNotifier({ targets: d.config.notifications.webhooks, publicUrl: d.publicUrl, clock: d.clock, log: d.log });
  const reviews = await ReviewService.open({
    db: d.db, clock: d.clock, audit: d.audit, log: d.log, notifier, mayApprove: d.mayApprove,
    maxDurationMs: ms(d.config.reviews.max_duration), ...(d.pendingTtlMs === undefined ? {} : { pendingTtlMs: d.pendingTtlMs }),
  });
  return {
    reviews, notifier, holdTimeoutMs: ms(d.config.reviews.hold_timeout),
    async close() { await reviews.close(); await notifier.close(); },
  };
}
