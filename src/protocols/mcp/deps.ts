import type { AuditLog } from '../../audit/audit-log.ts';
import type { GatehouseConfig } from '../../config/types.ts';
import type { ConnectionRegistry } from '../../connections/registry.ts';
import type { AuthenticateDeps } from '../../enforce/authenticate.ts';
import type { LimitDeps, PrincipalLimits } from '../../enforce/limits.ts';
import type { HttpSessions } from '../../enforce/sessions.ts';
import type { TapDeps } from '../../enforce/tap.ts';
import type { Clock } from '../../kernel/clock.ts';
import type { Logger } from '../../kernel/log.ts';
import type { Metrics } from '../../kernel/metrics.ts';
import type { MaskingRules } from '../../masking/rules.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import type { Recorder } from '../../recording/recorder.ts';
import type { SessionStore } from '../../recording/session-store.ts';
import type { ReviewGate } from '../../reviews/gate.ts';
import type { ReviewService } from '../../reviews/service.ts';
import type { GuardDeps } from '../../sql/guard.ts';
import type { SqlQueryRunner } from '../../sql/runner.ts';
import type { ShellCommandRunner } from '../../shell/runner.ts';
import type { ShellInspection } from '../../shell/inspector.ts';
import type { ReviewRules } from '../../policy/review-rules.ts';
import type { ProxyExchange } from '../../http/exchange.ts';

/**
 * What the MCP server needs from the process (the composition root passes its services, which
 * satisfy it): the enforcement point, the SQL path and its runners, masking, reviews (gate and
 * service), recordings, the in-process /proxy exchange, the shell command runners, limits.
 */
export interface McpDeps extends GuardDeps, AuthenticateDeps, TapDeps, LimitDeps {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly recorder: Recorder;
  readonly config: GatehouseConfig;
  /** The externally visible base URL (the MCP resource is `<publicUrl>/mcp`). */
  readonly publicUrl: string;
  readonly connections: ConnectionRegistry;
  readonly masking: MaskingRules;
  readonly scanner: TextMasker;
  readonly limits: PrincipalLimits;
  readonly httpSessions: HttpSessions;
  readonly reviews: ReviewService;
  readonly reviewGate: ReviewGate;
  /** `reviews.hold_timeout` in ms. */
  readonly reviewHoldMs: number;
  readonly sessions: SessionStore;
  /** `call_llm` and `http_request`: the /proxy exchange in process. */
  readonly proxyExchange: ProxyExchange;
  readonly sqlRunners: Readonly<Partial<Record<string, SqlQueryRunner>>>;
  /** `run_command`: a shell command runner per connection type (SSH's: `protocols/ssh/command-runner.ts`). */
  readonly shellRunners: Readonly<Partial<Record<string, ShellCommandRunner>>>;
  /** SQL (GuardDeps) and `run_command`'s commands are inspected off the event loop (`limits.inspection`). */
  readonly inspection: GuardDeps['inspection'] & ShellInspection;
  /** The review rules (the shell gate looks up the rule of a held command). */
  readonly reviewRules: ReviewRules;
}
