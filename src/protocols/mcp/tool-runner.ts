import { createHash } from 'node:crypto';
import type { ToolCallback } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { authorize, connectionResource, denialReason } from '../../enforce/authorize.ts';
import type { Connection } from '../../connections/registry.ts';
import { isGatehouseError } from '../../kernel/errors.ts';
import type { Resource } from '../../policy/request.ts';
import type { ReviewGateInput } from '../../reviews/gate.ts';
import { requestFingerprint } from '../../reviews/fingerprint.ts';
import type { Rerun, ToolEnv, ToolExtra, ToolOutcome, ToolRegistration } from './env.ts';
import type { McpSession } from './record.ts';
import { deepMask, errorResult, okResult, pendingResult } from './results.ts';

/** Why a call of a session whose recording is full is refused (as the HTTP path says it). */
const FULL = 'the session reached recording.max_session_bytes and can no longer be recorded; start a new session';

/** One tool: its schemas, what it acts on, and what it does once `mcp.call` allowed it. */
export interface ToolDef<I extends z.ZodObject, O extends z.ZodObject> {
  readonly name: string;
  readonly title: string;
  /** Written for an LLM: what it does, when to use it, what comes back, how denials look. */
  readonly description: string;
  readonly input: I;
  readonly output: O;
  readonly annotations?: ToolAnnotations;
  /** The connection the call acts on (the `mcp.call` resource); none: the gateway. */
  readonly connectionOf?: (args: z.output<I>) => string | undefined;
  /** Runs the call (its own action is decided inside, through the shared data paths). */
  run(env: ToolEnv, args: z.output<I>, extra: ToolExtra, conn: Connection | undefined): Promise<ToolOutcome>;
}

/**
 * Turns a definition into a registration. Every call goes through {@link runTool}: recorded,
 * `mcp.call` decided, run, masked, recorded, flushed.
 *
 * @example export const whoami = defineTool({ name: 'whoami', …, run: async (env) => ({ kind: 'ok', data, text }) });
 */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(def: ToolDef<I, O>): ToolRegistration {
  return (server, env) => {
    const callback = callbackOf(env, def);
    server.registerTool(def.name, {
      title: def.title, description: def.description, inputSchema: def.input, outputSchema: def.output,
      ...(def.annotations === undefined ? {} : { annotations: def.annotations }),
    }, callback);
  };
}

/** The SDK callback of a tool (its conditional type cannot be resolved for a generic schema). */
function callbackOf<I extends z.ZodObject, O extends z.ZodObject>(env: ToolEnv, def: ToolDef<I, O>): ToolCallback<I> {
  const cb = (args: z.output<I>, extra: ToolExtra): Promise<CallToolResult> => runTool(env, def, args, extra);
  return cb as unknown as ToolCallback<I>;
}

/**
 * One tool call, in order: record the request (masked arguments); resolve the connection it names;
 * authorize `mcp.call` with `context.mcp.tool` (audited; a `review` decision goes through the
 * review gate like every data path); run; mask every string of the result with the connection's
 * response masker (fail closed); record the response, error or pending review; await the
 * recorder's flush (a lost recording withholds the result). Never throws: faults become `isError`.
 */
export async function runTool<I extends z.ZodObject, O extends z.ZodObject>(
  outer: ToolEnv, def: ToolDef<I, O>, args: z.output<I>, extra: ToolExtra,
): Promise<CallToolResult> {
  const claimed = outer.claim?.();
  // The call's exchange stays held in the session table until the call has finished, even if the
  // response closed first (client gone): a session let go meanwhile is closed after its events.
  claimed?.begin();
  try {
    return await runClaimed(outer, claimed, def, args, extra);
  } finally {
    claimed?.end();
  }
}

async function runClaimed<I extends z.ZodObject, O extends z.ZodObject>(
  outer: ToolEnv, claimed: McpSession | undefined, def: ToolDef<I, O>, args: z.output<I>, extra: ToolExtra,
): Promise<CallToolResult> {
  const env: ToolEnv = claimed === undefined ? outer : { ...outer, session: claimed };
  const { svc, session } = env;
  const principal = env.caller.principal;
  const name = def.connectionOf?.(args);
  session.record('request', { tool: def.name, arguments: session.excerpt(JSON.stringify(args)) }, name);
  // A session whose recording is full (its request was not recorded, or filled it) runs nothing:
  // refused before any work (fail closed); the client starts a new session.
  if (session.full()) return errorResult('store_unavailable', FULL);
  let outcome: ToolOutcome;
  let conn: Connection | undefined;
  try {
    conn = name === undefined ? undefined : await svc.connections.get(name);
    if (name !== undefined && !conn) {
      outcome = { kind: 'error', code: 'not_found', reason: `no connection named "${name}" (list_connections shows those you may use)` };
    } else {
      const resource: Resource = conn ? connectionResource(conn) : { kind: 'gateway' };
      const d = await authorize(svc, principal, 'mcp.call', resource, { mcp: { tool: def.name } });
      session.record('decision', { action: 'mcp.call', effect: d.effect, reasons: d.reasons }, name);
      if (d.effect === 'deny') {
        outcome = { kind: 'error', code: 'policy_denied', reason: `denied by policy: mcp.call of tool "${def.name}": ${denialReason(d)}` };
      } else if (d.effect === 'review' && !conn) {
        // Reviews are held per connection; a review of a tool that names none cannot be held: deny.
        outcome = { kind: 'error', code: 'policy_denied', reason: `mcp.call of tool "${def.name}" needs a review, which only tools on a connection can wait for` };
      } else {
        const held = d.effect === 'review' && conn ? await holdCall(env, def, args, conn, d, extra) : undefined;
        // The decision (or review) may be what filled the session: then the call does not run.
        if (held === undefined && session.full()) return errorResult('store_unavailable', FULL);
        outcome = held ?? await def.run(env, args, extra, conn);
      }
    }
  } catch (err) {
    outcome = isGatehouseError(err)
      ? { kind: 'error', code: err.code, reason: err.detail }
      : { kind: 'error', code: 'internal', reason: 'internal error; see the gateway log' };
    if (!isGatehouseError(err)) svc.log.error({ err: err instanceof Error ? err.message : String(err), tool: def.name }, 'mcp tool failed');
  }
  if (outcome.kind === 'pending' && outcome.kept !== true) {
    const rerun: Rerun = (e, x) => runTool(e, def, args, x);
    const review = await svc.reviews.get(outcome.reviewId).catch(() => undefined);
    env.pending.put(outcome.reviewId, principal, def.name, review?.expiresAt ?? svc.clock.now() + 86_400_000, rerun);
  }
  return finish(env, def.name, outcome, conn);
}

/** Masks, records and flushes an outcome; renders it as a tool result. */
async function finish(env: ToolEnv, tool: string, outcome: ToolOutcome, conn: Connection | undefined): Promise<CallToolResult> {
  const { session } = env;
  const connection = conn?.name;
  let result: CallToolResult;
  if (outcome.kind === 'ok') {
    const masker = conn ? env.svc.masking.textMasker(conn.name, 'response') : undefined;
    let data: Record<string, unknown>;
    let text: string;
    try {
      data = masker ? deepMask(outcome.data, masker) as Record<string, unknown> : outcome.data;
      text = masker ? masker.mask(outcome.text).text : outcome.text;
    } catch {
      return finish(env, tool, { kind: 'error', code: 'masking_failed', reason: 'the result could not be masked; it was withheld' }, conn);
    }
    session.record('response', { tool, status: data.status ?? 'ok', text: session.excerpt(text) }, connection);
    result = okResult(data, text);
  } else if (outcome.kind === 'pending') {
    session.record('review', { tool, review_id: outcome.reviewId, outcome: 'pending' }, connection);
    result = pendingResult(outcome.reviewId, outcome.message);
  } else {
    // An error's text can quote upstream content (an API's error body): masked like a result.
    let reason: string;
    try {
      reason = conn ? env.svc.masking.textMasker(conn.name, 'response')?.mask(outcome.reason).text ?? outcome.reason : outcome.reason;
    } catch {
      reason = 'the error could not be masked; its text was withheld';
    }
    session.record('error', { tool, code: outcome.code, reason: session.excerpt(reason) }, connection);
    result = errorResult(outcome.code, reason);
  }
  try {
    await session.flush();
  } catch {
    return errorResult('store_unavailable', 'the tool call could not be recorded (store unavailable); its result is withheld');
  }
  return result;
}

/**
 * `mcp.call` itself needs a review (a review rule names `mcp.call`): hold through the same gate as
 * every data path, briefly; the fingerprint is the tool and its exact arguments.
 */
async function holdCall<I extends z.ZodObject, O extends z.ZodObject>(
  env: ToolEnv, def: ToolDef<I, O>, args: z.output<I>, conn: Connection, decision: ReviewGateInput['decision'], extra: ToolExtra,
): Promise<ToolOutcome | undefined> {
  const { svc } = env;
  const argsHash = createHash('sha256').update(JSON.stringify(args)).digest('hex');
  const g = await svc.reviewGate.hold({
    principal: env.caller.principal, action: 'mcp.call', resource: conn.name, facts: { mcp: { tool: def.name } }, decision,
    fingerprint: requestFingerprint(['mcp', conn.name, def.name, argsHash]),
    summary: `MCP tool ${def.name}: ${env.session.excerpt(JSON.stringify(args)).slice(0, 400)}`,
    signal: AbortSignal.any([env.signal, extra.signal]),
  }, env.limits.holdMs);
  env.session.record('review', { tool: def.name, action: 'mcp.call', outcome: g.outcome, review_id: g.reviewId ?? null }, conn.name);
  if (g.outcome === 'run') return undefined;
  if (g.outcome === 'denied') return { kind: 'error', code: 'policy_denied', reason: g.reason };
  return { kind: 'pending', reviewId: g.reviewId, message: pendingMessage(g.reviewId) };
}

/** What a client is told about a call held for review. */
export function pendingMessage(reviewId: string): string {
  return `approval required: review ${reviewId} is pending. A person in the rule's approver group must approve it ` +
    `(review_approve, the API or the CLI); call review_wait with review_id "${reviewId}" to wait for the decision and get the result.`;
}
