import type { GateDeps } from './deps.ts';
import { authorize, connectionResource, denialReason } from '../../enforce/authorize.ts';
import type { Connection } from '../../connections/registry.ts';
import type { Principal } from '../../identity/principal.ts';
import type { TextMasker } from '../../masking/text-masker.ts';
import type { Decision, Facts } from '../../policy/request.ts';
import { requestFingerprint } from '../../reviews/fingerprint.ts';
import { reviewGate } from '../../reviews/gate.ts';
import type { CommandInspection, InspectCommand } from './inspector.ts';

/** Longest justification kept (characters). */
export const JUSTIFICATION_LIMIT = 1000;
/** Longest command summary shown to approvers (characters, after masking). */
export const SUMMARY_LIMIT = 500;
/** The documented justification prefix: a first line `# gatehouse-justification: <text>`. */
const PREFIX_RE = /^[ \t]*#[ \t]*gatehouse-justification:[ \t]*([^\n]*)\n/;

/** Exit status of a command Gatehouse refused (like a shell's "cannot execute"). */
export const REFUSED_EXIT = 126;

/** What the gate needs from the gateway. */
export type GateServices = GateDeps;

/** One command to decide. */
export interface GateInput {
  readonly principal: Principal;
  readonly connection: Connection;
  /** The command as the client sent it (possibly with the justification prefix). */
  readonly raw: string;
  /** From the client's `GATEHOUSE_JUSTIFICATION` environment variable (SendEnv), if any. */
  readonly justification?: string;
  /** Aborts a review hold (the client went away): the review stays pending. */
  readonly signal?: AbortSignal;
}

/**
 * `run`: send `command` upstream. Otherwise `message` is what the client is told (stderr) and the
 * command never reaches the upstream; `pending` means a review was created (or is still open) and
 * re-sending the exact same command after its approval runs it once.
 */
export type GateResult =
  | { readonly run: true; readonly command: string; readonly inspection: CommandInspection; readonly decision: Decision; readonly reviewId?: string; readonly justification?: string }
  | { readonly run: false; readonly status: 'denied' | 'pending'; readonly message: string; readonly inspection?: CommandInspection; readonly decision?: Decision; readonly reviewId?: string; readonly justification?: string };

/**
 * Splits the documented justification prefix off a command: a first line
 * `# gatehouse-justification: <text>` (a comment to any shell). The rest is the command that is
 * inspected, bound to the approval and run.
 *
 * @example splitJustification('# gatehouse-justification: ticket 42\nrm -rf /tmp/x') // { command: 'rm -rf /tmp/x', justification: 'ticket 42' }
 */
export function splitJustification(raw: string): { readonly command: string; readonly justification?: string } {
  const m = PREFIX_RE.exec(raw);
  if (!m) return { command: raw };
  const j = (m[1] ?? '').trim().slice(0, JUSTIFICATION_LIMIT);
  return { command: raw.slice(m[0].length), ...(j ? { justification: j } : {}) };
}

/**
 * Decides one shell command, the one path for SSH `exec` and the MCP `run_command` tool: the
 * command is inspected by the shell parser into `context.shell` facts, authorized as
 * `Action::"shell.exec"` on the connection (audited), and a `review` decision is held through the
 * review gate with the approval bound to the exact command text (`['ssh', connection, command,
 * 'shell.exec']`): it runs once; a changed byte is a new review. Fail closed: an inspection error
 * or a gate error refuses.
 *
 * @example
 *   const g = await gateCommand(svc, inspect, scanner, { principal, connection, raw: 'ls -la' });
 *   if (!g.run) { channel.stderr.write(`${g.message}\n`); channel.exit(REFUSED_EXIT); }
 */
export async function gateCommand(svc: GateServices, inspect: InspectCommand, scanner: TextMasker, input: GateInput): Promise<GateResult> {
  const split = splitJustification(input.raw);
  const justification = (split.justification ?? input.justification?.trim().slice(0, JUSTIFICATION_LIMIT)) || undefined;
  const just = justification === undefined ? {} : { justification };
  let inspection: CommandInspection;
  try {
    inspection = inspect(split.command);
  } catch (err) {
    svc.log.error({ err: err instanceof Error ? err.message : String(err), connection: input.connection.name }, 'shell inspection failed; refusing');
    return { run: false, status: 'denied', message: 'gatehouse: command refused: it could not be inspected', ...just };
  }
  const facts: Facts = { shell: inspection.facts };
  const decision = await authorize(svc, input.principal, 'shell.exec', connectionResource(input.connection), facts);
  const base = { inspection, decision, ...just };
  if (decision.effect === 'deny') {
    return { run: false, status: 'denied', message: `gatehouse: command denied by policy (${denialReason(decision)})`, ...base };
  }
  if (decision.effect === 'allow') return { run: true, command: inspection.canonical, ...base };
  let summary: string;
  try {
    const masked = scanner.mask(inspection.canonical.slice(0, SUMMARY_LIMIT * 8)).text.replace(/\s+/g, ' ').trim();
    summary = masked.length <= SUMMARY_LIMIT ? masked : `${masked.slice(0, SUMMARY_LIMIT - 1)}…`;
  } catch {
    return { run: false, status: 'denied', message: 'gatehouse: command refused: it could not be summarized for review', ...base };
  }
  const g = await reviewGate(svc, { reviews: svc.reviews, holdTimeoutMs: svc.reviewHoldMs, rules: svc.reviewRules }, {
    principal: input.principal, action: 'shell.exec', resource: input.connection.name, facts, decision,
    fingerprint: requestFingerprint(['ssh', input.connection.name, inspection.canonical, 'shell.exec']),
    summary, ...just, ...(input.signal === undefined ? {} : { signal: input.signal }),
  });
  if (g.outcome === 'run') return { run: true, command: inspection.canonical, ...base, reviewId: g.reviewId };
  if (g.outcome === 'denied') {
    return { run: false, status: 'denied', message: `gatehouse: command refused: ${g.reason}`, ...base, ...(g.reviewId === undefined ? {} : { reviewId: g.reviewId }) };
  }
  return {
    run: false, status: 'pending', reviewId: g.reviewId, ...base,
    message: `gatehouse: approval required: review ${g.reviewId} is pending; run the same command again once it is approved`,
  };
}
