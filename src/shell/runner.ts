import type { Connection } from '../connections/registry.ts';
import type { ErrorCode } from '../kernel/errors.ts';

/** How one command run on a caller's behalf ended, and its output (masked). */
export interface CommandRun {
  /** Exit status; null when the command ended by a signal, was cut short, or the upstream gave none. */
  readonly exit: number | null;
  /** The signal that ended it (`TERM`, `KILL` …), if any. */
  readonly signal: string | null;
  /** Output as the client may see it: masked with the connection's response rules, at most the caps. */
  readonly stdout: string;
  readonly stderr: string;
  /** Bytes of (masked) output produced before the run ended (kept or not). */
  readonly stdout_bytes: number;
  readonly stderr_bytes: number;
  /** Entities masked. */
  readonly masked: number;
  /** The output cap was reached: the rest was not read and the command's channel was closed. */
  readonly truncated: boolean;
  /** The time limit was reached: the command's channel was closed. */
  readonly timed_out: boolean;
}

/** Caps and deadlines of one run. */
export interface CommandLimits {
  /** Most characters of (masked) stdout plus stderr kept. */
  readonly maxChars: number;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** Why a command could not be run: the upstream could not be used, or the output not masked. */
export type CommandRunFailure = 'config' | 'host_key_mismatch' | 'unreachable' | 'auth' | 'exec' | 'masking_failed';

/**
 * The registry code of each failure (what a client sees: MCP `isError` text, SSH exit status …).
 * A connection that cannot be used as configured (no pinned host key, no credential) is, to the
 * caller, an upstream it cannot reach; an upstream that refused the exec request answered.
 */
const RUN_FAILURE_CODE: Readonly<Record<CommandRunFailure, ErrorCode>> = {
  config: 'upstream_unreachable',
  host_key_mismatch: 'upstream_unreachable',
  unreachable: 'upstream_unreachable',
  auth: 'upstream_unreachable',
  exec: 'upstream_error',
  masking_failed: 'masking_failed',
};

/** Why a command could not be run at all (the upstream could not be used); `message` is safe to show. */
export class CommandRunError extends Error {
  override readonly name = 'CommandRunError';
  readonly reason: CommandRunFailure;
  /** The registry code it surfaces as. */
  readonly code: ErrorCode;
  constructor(reason: CommandRunFailure, message: string) {
    super(message);
    this.reason = reason;
    this.code = RUN_FAILURE_CODE[reason];
  }
}

/**
 * Runs one shell command on a connection on a caller's behalf (MCP's `run_command`), with the
 * vaulted credential and the pinned host key, on a fresh upstream session, without a terminal and
 * with an empty stdin; output is masked with the connection's response rules as it arrives
 * (whatever the chunk boundaries) before it is kept. The command must have passed
 * `gateCommand` (and its hold) first: the runner decides nothing. Rejects with
 * {@link CommandRunError} when the upstream cannot be used; an output that cannot be masked is a
 * rejection too (nothing of it is returned).
 *
 * A shell protocol provides one per connection type it serves (SSH: `protocols/ssh/command-runner.ts`);
 * the composition root hands them to their consumers, so no consumer imports a protocol's internals.
 *
 * @example const run = await runner.run(conn, 'df -h', { maxChars: 1 << 20, timeoutMs: 60_000 });
 */
export interface ShellCommandRunner {
  run(conn: Connection, command: string, limits: CommandLimits): Promise<CommandRun>;
}
