import type { AuditLog } from '../../audit/audit-log.ts';
import type { ConnectionRegistry } from '../../connections/registry.ts';
import type { AuthenticateDeps } from '../../enforce/authenticate.ts';
import type { LimitDeps, PrincipalLimits } from '../../enforce/limits.ts';
import type { TapDeps } from '../../enforce/tap.ts';
import type { ApiKeys } from '../../identity/api-keys.ts';
import type { SqlInspection } from '../../inspect/sql/types.ts';
import type { Clock } from '../../kernel/clock.ts';
import type { Logger } from '../../kernel/log.ts';
import type { Metrics } from '../../kernel/metrics.ts';
import type { MaskingRules } from '../../masking/rules.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import type { Recorder } from '../../recording/recorder.ts';
import type { ReviewGate } from '../../reviews/gate.ts';
import type { GuardDeps } from '../../sql/guard.ts';

/**
 * What the PostgreSQL listener needs from the process (the composition root passes its services,
 * which satisfy it): the enforcement point, the SQL path, masking, the review gate, the recorder,
 * per-principal limits, API-key revocation and the connections. Nothing else.
 */
export interface PostgresDeps extends GuardDeps, AuthenticateDeps, TapDeps, LimitDeps {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly recorder: Recorder;
  readonly inspection: GuardDeps['inspection'] & { inspectSqlNow(sql: string): SqlInspection };
  readonly masking: MaskingRules;
  /** The inspection scanner (every detector): review summaries. */
  readonly scanner: TextMasker;
  readonly reviewGate: ReviewGate;
  readonly limits: PrincipalLimits;
  readonly apiKeys: ApiKeys;
  readonly connections: ConnectionRegistry;
}
