import { z } from 'zod';
import type { Connection } from '../../../connections/registry.ts';
import { gateCommand } from '../../../shell/gate.ts';
import { offLoopShellInspector } from '../../../shell/inspector.ts';
import { CommandRunError, type CommandRun } from '../../../shell/runner.ts';
import type { ToolEnv, ToolExtra, ToolOutcome } from '../env.ts';
import { envelope } from '../results.ts';
import { defineTool, pendingMessage } from '../tool-runner.ts';
import { uses } from './access.ts';

/** Most characters of (masked) stdout plus stderr returned by one call; the channel is closed past it. */
export const MAX_OUTPUT_CHARS = 200_000;
/** Default and hard maximum of `timeout_seconds`. */
export const DEFAULT_TIMEOUT_S = 60;
export const MAX_TIMEOUT_S = 600;

const input = z.object({
  connection: z.string().min(1).max(63).describe('Name of an SSH connection (see list_connections)'),
  command: z.string().min(1).max(65_536).describe('The shell command to run, as you would pass it to `ssh host <command>` (the remote login shell runs it)'),
  timeout_seconds: z.number().int().min(1).max(MAX_TIMEOUT_S).default(DEFAULT_TIMEOUT_S).describe(`The gateway stops waiting and sends SIGTERM after this (default ${DEFAULT_TIMEOUT_S}, at most ${MAX_TIMEOUT_S}); a server may ignore the signal`),
  justification: z.string().max(1000).optional().describe('Why you need this; shown to the human approver when the command needs approval'),
});

const output = envelope({
  connection: z.string(),
  exit_code: z.number().nullable().describe('The exit status; null when the command was stopped (timeout, output cap) or ended by a signal'),
  signal: z.string().nullable().describe('The signal that ended the command, if any'),
  stdout: z.string().describe('Standard output (masked)'),
  stderr: z.string().describe('Standard error (masked)'),
  truncated: z.boolean().describe(`The output passed ${MAX_OUTPUT_CHARS} characters: the rest was not read and the command was stopped`),
  timed_out: z.boolean(),
});

/**
 * `run_command`: a shell command on an SSH connection through exactly the SSH listener's exec
 * path — the bash parser and `shell.exec` policy (`gateCommand`, shared with the listener: a
 * parse error or dynamic command name is never allowed by the shipped policies), the review gate
 * bound to the exact command (held briefly, then `pending_approval`; review_wait runs it once
 * approved), the pinned host key and vaulted credential, and output masked as it streams.
 */
export const runCommandTool = defineTool({
  name: 'run_command',
  title: 'Run a shell command on an SSH connection',
  description: [
    'Runs one shell command on a server behind an SSH connection of the gateway (no terminal, empty stdin) and returns its exit code, stdout and stderr.',
    'The command is parsed by a bash parser and checked against the gateway policy before it runs: dangerous forms (recursive deletes of system paths, piping downloads to a shell, reading credential files …) are denied,',
    'and commands the parser cannot pin down (dynamic command names, inline interpreter code, writes to system paths) may need human approval.',
    'Sensitive values in the output come back masked (e.g. [EMAIL]).',
    `Output is cut at ${MAX_OUTPUT_CHARS} characters ("truncated"); after timeout_seconds the gateway stops waiting and asks the server to end the command (SIGTERM), which some servers ignore (e.g. for root logins): a timed-out command may still be running.`,
    'A denied command returns an error naming the policy; one that needs approval returns status "pending_approval" with a review_id: call review_wait with it to get the result once a person approves.',
  ].join(' '),
  input,
  output,
  annotations: { destructiveHint: true, openWorldHint: true },
  connectionOf: (a) => a.connection,
  run: (env, args, extra, conn) => runCommand(env, args, extra, conn),
});

async function runCommand(env: ToolEnv, args: z.output<typeof input>, extra: ToolExtra, conn: Connection | undefined): Promise<ToolOutcome> {
  const { svc, session } = env;
  const runner = conn && uses('run_command', conn) ? svc.shellRunners[conn.type] : undefined;
  if (!conn || !runner) return { kind: 'error', code: 'not_found', reason: `"${args.connection}" is not an SSH connection` };
  let inspect;
  try {
    inspect = await offLoopShellInspector(svc.inspection);
  } catch {
    return { kind: 'error', code: 'inspection_unavailable', reason: 'the shell parser could not be loaded; the command was refused' };
  }
  const signal = AbortSignal.any([env.signal, extra.signal]);
  const g = await gateCommand(svc, inspect, svc.scanner, {
    principal: env.caller.principal, connection: conn, raw: args.command, signal, holdMs: env.limits.holdMs,
    ...(args.justification === undefined ? {} : { justification: args.justification }),
  });
  session.record('decision', {
    action: 'shell.exec', effect: g.run ? 'allow' : g.status === 'pending' ? 'review' : 'deny',
    reasons: g.decision?.reasons ?? ['inspection-failed'], ...(g.reviewId === undefined ? {} : { review_id: g.reviewId }),
    ...(g.inspection ? { parsed: g.inspection.ok, risks: g.inspection.facts.risks ?? [], commands: g.inspection.facts.commands ?? [] } : {}),
  }, conn.name);
  if (!g.run) {
    if (g.status === 'pending' && g.reviewId !== undefined) return { kind: 'pending', reviewId: g.reviewId, message: pendingMessage(g.reviewId) };
    return { kind: 'error', code: 'policy_denied', reason: g.message.replace(/^gatehouse: /, '') };
  }
  let run: CommandRun;
  try {
    run = await runner.run(conn, g.command, { maxChars: MAX_OUTPUT_CHARS, timeoutMs: args.timeout_seconds * 1000, signal });
  } catch (err) {
    if (err instanceof CommandRunError) {
      return { kind: 'error', code: err.code, reason: err.message };
    }
    throw err;
  }
  session.record('response', {
    exit: run.exit, signal: run.signal, stdout_bytes: run.stdout_bytes, stderr_bytes: run.stderr_bytes, masked: run.masked,
    truncated: run.truncated, timed_out: run.timed_out,
  }, conn.name);
  return {
    kind: 'ok',
    data: { connection: conn.name, exit_code: run.exit, signal: run.signal, stdout: run.stdout, stderr: run.stderr, truncated: run.truncated, timed_out: run.timed_out },
    text: render(run),
  };
}

/** A plain-text rendering: the exit status line, then stdout and stderr. */
function render(run: CommandRun): string {
  const status = run.timed_out ? 'stopped: timeout' : run.truncated ? `stopped: output over ${MAX_OUTPUT_CHARS} characters` : run.signal !== null ? `signal ${run.signal}` : `exit ${run.exit ?? 'unknown'}`;
  const parts = [status];
  if (run.stdout !== '') parts.push(`--- stdout\n${run.stdout}`);
  if (run.stderr !== '') parts.push(`--- stderr\n${run.stderr}`);
  return parts.join('\n');
}
