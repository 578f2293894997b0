import { authorize, connectionResource, denialReason, type DecideDeps } from '../enforce/authorize.ts';
import type { Connection } from '../connections/registry.ts';
import type { Principal } from '../identity/principal.ts';
import type { TextMasker } from '../masking/text-masker.ts';
import type { Decision, Facts } from '../policy/request.ts';
import type { ReviewRules } from '../policy/review-rules.ts';
import { requestFingerprint } from '../reviews/fingerprint.ts';
import { reviewGate } from '../reviews/gate.ts';
import type { ReviewService } from '../reviews/service.ts';
import type { CommandInspection, InspectCommandAsync } from './inspector.ts';
import { SSH_EXIT } from '../kernel/errors.ts';

/** Longest justification kept (characters). */
export const JUSTIFICATION_LIMIT = 1000;
/**
 * Most characters of the command shown to approvers (after masking). A longer command is shown
 * cut, and the summary starts by saying so (the approval still binds the whole command). Stays
 * under the review store's summary limit (2000) with room for that notice.
 */
export const SUMMARY_LIMIT = 1800;
/** The documented justification prefix: a first line `# gatehouse-justification: <text>`. */
const PREFIX_RE = /^[ \t]*#[ \t]*gatehouse-justification:[ \t]*([^\n]*)\n/;

/** Exit status of a command Gatehouse refused (like a shell's "cannot execute"): the error registry's for a refusal. */
export const REFUSED_EXIT = SSH_EXIT.refused;

/** What deciding one shell command needs: the enforcement point and the review gate. */
export interface GateDeps extends DecideDeps {
  readonly reviews: ReviewService;
  readonly reviewRules: ReviewRules;
  /** `reviews.hold_timeout` in ms. */
  readonly reviewHoldMs: number;
}

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
  /** How long to hold for a review before answering pending (default `reviews.hold_timeout`). */
  readonly holdMs?: number;
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
export async function gateCommand(svc: GateServices, inspect: InspectCommandAsync, scanner: TextMasker, input: GateInput): Promise<GateResult> {
  const split = splitJustification(input.raw);
  const justification = (split.justification ?? input.justification?.trim().slice(0, JUSTIFICATION_LIMIT)) || undefined;
  const just = justification === undefined ? {} : { justification };
  let inspection: CommandInspection;
  try {
    inspection = await inspect(split.command);
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
    summary = commandSummary(scanner, inspection.canonical);
  } catch {
    return { run: false, status: 'denied', message: 'gatehouse: command refused: it could not be summarized for review', ...base };
  }
  const g = await reviewGate(svc, { reviews: svc.reviews, holdTimeoutMs: input.holdMs ?? svc.reviewHoldMs, rules: svc.reviewRules }, {
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

/**
 * What approvers see of a held command: the whole command, masked with every detector, with line
 * breaks and other control characters shown as visible symbols (a newline separates commands, so
 * folding it into a space would make `echo a⏎rm -rf x` read as one harmless echo). A command
 * longer than {@link SUMMARY_LIMIT} is cut, and the summary starts by saying how much is shown:
 * an approver is never shown part of a command as if it were all of it. Throws when masking fails.
 *
 * @example commandSummary(scanner, 'cd /srv\nmake') // 'cd /srv␤make'
 */
export function commandSummary(scanner: TextMasker, command: string): string {
  const masked = scanner.mask(command).text;
  let visible = '';
  for (let i = 0; i < masked.length; i++) {
    const c = masked.charCodeAt(i);
    if (c === 0x0d && masked.charCodeAt(i + 1) === 0x0a) continue;
    visible += c === 0x0a ? '␤' : c === 0x0d ? '␍' : (c < 0x20 && c !== 0x09) || c === 0x7f ? '�' : masked[i]!;
  }
  if (visible.length <= SUMMARY_LIMIT) return visible;
  return `[command cut: the first ${SUMMARY_LIMIT} of ${visible.length} characters are shown; approving runs all of it] ${visible.slice(0, SUMMARY_LIMIT)}…`;
}
