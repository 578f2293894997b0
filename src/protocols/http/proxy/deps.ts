import type { OutgoingHttpHeaders } from 'node:http';
import type { Writable } from 'node:stream';
import type { AuditLog } from '../../../audit/audit-log.ts';
import type { GatehouseConfig } from '../../../config/types.ts';
import type { ConnectionRegistry } from '../../../connections/registry.ts';
import type { AuthenticateDeps } from '../../../enforce/authenticate.ts';
import type { DecideDeps } from '../../../enforce/authorize.ts';
import type { LimitDeps, PrincipalLimits } from '../../../enforce/limits.ts';
import type { HttpSessions } from '../../../enforce/sessions.ts';
import type { TapDeps } from '../../../enforce/tap.ts';
import type { ApiKeys } from '../../../identity/api-keys.ts';
import type { Clock } from '../../../kernel/clock.ts';
import type { Logger } from '../../../kernel/log.ts';
import type { Metrics } from '../../../kernel/metrics.ts';
import type { MaskingRules } from '../../../masking/rules.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';
import type { Recorder } from '../../../recording/recorder.ts';
import type { ReviewGate } from '../../../reviews/gate.ts';
import type { Prepared, PrepareInput } from './prepare.ts';
import type { Upstreams } from './upstream.ts';

/**
 * Where the data path writes its answer: a `ServerResponse` on `/proxy`, an in-memory sink in
 * process (`in-process.ts`). A Writable with the response-head methods the data path uses.
 */
export type ProxyResponse = Writable & {
  statusCode: number;
  readonly headersSent: boolean;
  setHeader(name: string, value: number | string | readonly string[]): unknown;
  writeHead(statusCode: number, headers?: OutgoingHttpHeaders): unknown;
  flushHeaders(): void;
};

/** Inspection off the event loop (the composition root's inspection pool). */
export interface ProxyInspection {
  prepare(input: PrepareInput): Prepared | Promise<Prepared>;
  maskResponse(op: 'llm-json' | 'json' | 'form', text: string, connection: string, forms: readonly string[]): Promise<{ text: string; usage?: unknown }> | undefined;
}

/**
 * What the `/proxy` data path needs from the process (the composition root passes its services,
 * which satisfy it): the enforcement point, masking, inspection, upstream pools, the review gate,
 * the recorder and session table, per-principal limits and the connections. Nothing else.
 */
export interface ProxyDeps extends DecideDeps, AuthenticateDeps, TapDeps, LimitDeps {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly recorder: Recorder;
  readonly config: GatehouseConfig;
  readonly connections: ConnectionRegistry;
  readonly masking: MaskingRules;
  /** The inspection scanner (every detector): facts and what is recorded. */
  readonly scanner: TextMasker;
  readonly inspection: ProxyInspection;
  readonly upstreams: Upstreams;
  readonly limits: PrincipalLimits;
  readonly httpSessions: HttpSessions;
  readonly reviewGate: ReviewGate;
  readonly apiKeys: ApiKeys;
}
