import type { AuditLog } from '../audit/audit-log.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import type { AuthenticateDeps } from '../enforce/authenticate.ts';
import type { DecideDeps } from '../enforce/authorize.ts';
import type { ApiKeys } from '../identity/api-keys.ts';
import type { SqlInspection } from '../inspect/sql/types.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';
import type { Metrics } from '../kernel/metrics.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import type { Recorder } from '../recording/recorder.ts';
import type { SessionStore } from '../recording/session-store.ts';
import type { ReviewService } from '../reviews/service.ts';
import type { ConnectionsRepo } from '../store/connections-repo.ts';

/**
 * What the admin API needs from the process (the composition root passes its services, which
 * satisfy it): the enforcement point, identity, connections, policy, reviews and recordings.
 */
export interface AdminDeps extends DecideDeps, AuthenticateDeps {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly apiKeys: ApiKeys;
  readonly connections: ConnectionRegistry;
  readonly connectionsRepo: ConnectionsRepo;
  readonly policy: PolicyEngine;
  readonly reviews: ReviewService;
  readonly sessions: SessionStore;
  readonly recorder: Recorder;
  /** SQL parsing for `policy explain` (inline or on an inspection worker). */
  readonly inspection: { inspectSql(sql: string): SqlInspection | Promise<SqlInspection> };
}
