import type { AuthenticateDeps } from '../../enforce/authenticate.ts';
import type { ConnectionRegistry } from '../../connections/registry.ts';
import type { Logger } from '../../kernel/log.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { Metrics } from '../../kernel/metrics.ts';
import type { MaskingRules } from '../../masking/rules.ts';
import type { Recorder } from '../../recording/recorder.ts';
import type { GateDeps } from '../../shell/gate.ts';
import type { PrincipalLimits } from '../../enforce/limits.ts';
import type { ApiKeys } from '../../identity/api-keys.ts';
import type { ShellInspection } from '../../shell/inspector.ts';

/** Everything the SSH protocol needs from the gateway (the composition root passes its services). */
export interface SshDeps extends GateDeps, Omit<AuthenticateDeps, 'audit' | 'metrics'> {
  readonly audit: Pick<AuditLog, 'room' | 'healthy' | 'enqueue' | 'append'>;
  readonly metrics: Pick<Metrics, 'decided' | 'authFailures' | 'limitRefusals'>;
  readonly log: Logger;
  readonly connections: Pick<ConnectionRegistry, 'get'>;
  readonly masking: Pick<MaskingRules, 'textMasker' | 'hashKey'>;
  readonly recorder: Recorder;
  /** `limits.per_principal.ssh_sessions`. */
  readonly limits: Pick<PrincipalLimits, 'acquire' | 'limiter'>;
  /** Live connections end when their API key is revoked (`enforce/session-revoker.ts`). */
  readonly apiKeys: Pick<ApiKeys, 'onRevoked' | 'assertLive'>;
  /** Shell commands are parsed on an inspection worker (`limits.inspection`). */
  readonly inspection: ShellInspection;
}
