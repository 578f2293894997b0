import type { ErrorCode } from '../kernel/errors.ts';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A usage error: the CLI prints it with the command's help hint and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  /** The registry code (the command line is a malformed request). */
  readonly code = 'bad_request' satisfies ErrorCode;
}

/**
 * A failure the CLI reports as one line and exit code `exitCode` (default 1), with its registry
 * `code` (the gateway's own when it answered with one; default `internal`).
 */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  readonly code: ErrorCode;
  constructor(message: string, exitCode = 1, code: ErrorCode = 'internal') {
    super(message);
    this.exitCode = exitCode;
    this.code = code;
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with strict checking; unknown flags become UsageErrors with the flag name. */
export function parse<O extends Options>(argv: string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.split('\n')[0]! : String(err));
  }
}

/** Splits `a,b , c` into ['a','b','c']. */
export function csv(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** What a command writes; injected so tests can capture it. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Writes text as is, without a newline (terminal output of a replayed SSH session); default: `out`. */
  raw?(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export interface Command {
  /** `keys create`, `config validate`, … */
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(argv: string[], io: Io): Promise<number>;
}
