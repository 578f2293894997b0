import type { GatehouseConfig } from '../config/types.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';
import type { Metrics } from '../kernel/metrics.ts';
import type { SqlDriver } from '../store/sql.ts';
import type { ApiKeys } from '../identity/api-keys.ts';
import type { BuiltinIssuer } from '../identity/issuer.ts';
import type { Authenticator } from '../identity/authenticator.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import type { Decider } from '../policy/decider.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import type { ConnectionsRepo } from '../store/connections-repo.ts';
import type { MaskingRules } from '../masking/rules.ts';
import type { TextMasker } from '../masking/text-masker.ts';
import type { Recorder } from '../recording/recorder.ts';
import type { Upstreams } from '../protocols/http/proxy/upstream.ts';
import type { ReviewService } from '../reviews/service.ts';
import type { ReviewGate } from '../reviews/gate.ts';
import type { SqlQueryRunner } from '../sql/runner.ts';
import type { ShellCommandRunner } from '../shell/runner.ts';
import type { ProxyExchange } from '../http/exchange.ts';
import type { SessionStore } from '../recording/session-store.ts';
import type { ReviewRules } from '../policy/review-rules.ts';
import type { PrincipalLimits } from '../enforce/limits.ts';
import type { InspectionPool } from './inspection-pool.ts';
import type { DecisionState } from '../enforce/authorize.ts';
import type { HttpSessions } from '../enforce/sessions.ts';
import type { SignInFlows } from '../console/signin-flows.ts';

/**
 * Every module and piece of process state the composition root builds, once. Consumers never
 * import this bag: each declares the narrow dependencies it needs (`DecideDeps`, `PostgresDeps`,
 * `ProxyDeps`, `McpDeps`, `AdminDeps`, …), which these services satisfy structurally.
 */
export interface Services {
  readonly config: GatehouseConfig;
  readonly configPath: string | undefined;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly db: SqlDriver;
  readonly apiKeys: ApiKeys;
  readonly issuer: BuiltinIssuer;
  readonly authenticator: Authenticator;
  readonly policy: PolicyEngine;
  readonly decider: Decider;
  /** The decision point's memo and audit-detail cache (`enforce/authorize.ts`). */
  readonly decisions: DecisionState;
  readonly audit: AuditLog;
  readonly connections: ConnectionRegistry;
  readonly connectionsRepo: ConnectionsRepo;
  /** Masking rules compiled from `masking` (per connection and direction; column rules). */
  readonly masking: MaskingRules;
  /** The inspection masker (every detector, redact): policy facts and what is recorded (`masking/scanner.ts`). */
  readonly scanner: TextMasker;
  /** Keep-alive upstream pools of the HTTP/LLM data path (closed on shutdown). */
  readonly upstreams: Upstreams;
  /** The recording hook (masked exchanges). */
  readonly recorder: Recorder;
  /** Recorded sessions (read side). Present even when recording is off. */
  readonly sessions: SessionStore;
  /** Recording sessions of HTTP/LLM and MCP exchanges (`Gatehouse-Session`, `Mcp-Session-Id`). */
  readonly httpSessions: HttpSessions;
  /** Just-in-time approvals: the review state machine, holding, notifications. */
  readonly reviews: ReviewService;
  /** The review gate every data path holds through (built once). */
  readonly reviewGate: ReviewGate;
  /** Running SQL on a caller's behalf (MCP), per connection type: the database protocols provide them. */
  readonly sqlRunners: Readonly<Partial<Record<string, SqlQueryRunner>>>;
  /** Running a shell command on a caller's behalf (MCP's run_command), per connection type: the shell protocols provide them. */
  readonly shellRunners: Readonly<Partial<Record<string, ShellCommandRunner>>>;
  /** The /proxy exchange in process (MCP's call_llm and http_request). */
  readonly proxyExchange: ProxyExchange;
  /** The review rules the decider applies (for the gate's rule lookup). */
  readonly reviewRules: ReviewRules;
  /** `reviews.hold_timeout` in ms: how long a data path holds a request for approval. */
  readonly reviewHoldMs: number;
  /** Per-principal concurrency limits (`limits.per_principal`). */
  readonly limits: PrincipalLimits;
  /** Off-loop SQL parsing and prompt scanning (`limits.inspection`). */
  readonly inspection: InspectionPool;
  /** The externally visible base URL of the HTTP listener. */
  readonly publicUrl: string;
  /** Console OIDC/SAML sign-ins in progress, in the store (shared by replicas; verifiers sealed with the master key). */
  readonly signInFlows: SignInFlows;
}
