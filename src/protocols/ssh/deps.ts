import type { DecideDeps } from '../../enforce/authorize.ts';
import type { AuthenticateDeps } from '../../enforce/authenticate.ts';
import type { ConnectionRegistry } from '../../connections/registry.ts';
import type { Logger } from '../../kernel/log.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { Metrics } from '../../kernel/metrics.ts';
import type { MaskingRules } from '../../masking/rules.ts';
import type { Recorder } from '../../recording/recorder.ts';
import type { ReviewService } from '../../reviews/service.ts';
import type { ReviewRules } from '../../policy/review-rules.ts';

/** What deciding one shell command needs: the enforcement point and the review gate. */
export interface GateDeps extends DecideDeps {
  readonly reviews: ReviewService;
  readonly reviewRules: ReviewRules;
  /** `reviews.hold_timeout` in ms. */
  readonly reviewHoldMs: number;
}

/** Everything the SSH protocol needs from the gateway (the composition root passes its services). */
export interface SshDeps extends GateDeps, Omit<AuthenticateDeps, 'audit' | 'metrics'> {
  readonly audit: Pick<AuditLog, 'room' | 'healthy' | 'enqueue' | 'append'>;
  readonly metrics: Pick<Metrics, 'decided' | 'authFailures'>;
  readonly log: Logger;
  readonly connections: Pick<ConnectionRegistry, 'get'>;
  readonly masking: Pick<MaskingRules, 'textMasker' | 'hashKey'>;
  readonly recorder: Recorder;
}
