import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpDeps } from './deps.ts';
import type { ErrorCode } from '../../kernel/errors.ts';
import type { McpCaller } from './auth.ts';
import type { PendingCalls } from './pending.ts';
import type { McpSession } from './record.ts';

/** What the SDK hands a tool callback (abort signal, progress token, notifications). */
export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Limits and timings of the MCP server (fixed defaults; see docs/design/mcp.md). */
export interface McpLimits {
  /** How long a call held for review waits before it answers `pending_approval`. */
  readonly holdMs: number;
  /** Longest `review_wait`. */
  readonly maxWaitMs: number;
  /** Progress notification period while a call waits. */
  readonly progressEveryMs: number;
}

/** Everything a tool call needs: the services, the caller, its recording session, its limits. */
export interface ToolEnv {
  readonly svc: McpDeps;
  readonly caller: McpCaller;
  readonly session: McpSession;
  /**
   * The exchange of the next tool call of this request (one per `tools/call` of a batch, in
   * order): {@link runTool} claims it so each call's events carry their own `exchange` number.
   */
  readonly claim?: () => McpSession | undefined;
  readonly pending: PendingCalls;
  readonly limits: McpLimits;
  /** Aborted when the HTTP exchange ends (client gone). */
  readonly signal: AbortSignal;
}

/**
 * A tool's answer before rendering: `ok` (structured data + a text rendering), `error` (a denial,
 * an upstream error, a timeout — rendered `isError` naming the reason) or `pending` (held for
 * review past the short wait: `pending_approval` with the review id).
 */
export type ToolOutcome =
  | { readonly kind: 'ok'; readonly data: Record<string, unknown>; readonly text: string }
  | { readonly kind: 'error'; readonly code: ErrorCode; readonly reason: string }
  | {
    readonly kind: 'pending'; readonly reviewId: string; readonly message: string;
    /** Set by review_wait: the call behind the review is already kept (not this wait). */
    readonly kept?: true;
  };

/** Re-runs a call that was pending review (same tool, same arguments) in the env of the caller now. */
export type Rerun = (env: ToolEnv, extra: ToolExtra) => Promise<CallToolResult>;

/** Registers one tool on a per-request server. */
export type ToolRegistration = (server: McpServer, env: ToolEnv) => void;
