import { shellCedarContext } from '../inspect/shell/cedar-context.ts';
import { initShellInspector, inspectCommand } from '../inspect/shell/inspect.ts';
import type { ShellContext } from '../policy/request.ts';

/** A command as the shell path decides it: the shell inspector's result with Cedar-ready facts. */
export interface CommandInspection {
  /** False when the command did not parse cleanly or a limit was hit (`facts.parse_error`). */
  readonly ok: boolean;
  readonly reason?: string;
  /** The exact command text inspected: what runs and what an approval is bound to. */
  readonly canonical: string;
  /** `context.shell`. */
  readonly facts: ShellContext;
}

/** Inspects one command string; synchronous; never throws on hostile input (throws only if not initialized). */
export type InspectCommand = (command: string) => CommandInspection;

/**
 * How the data paths inspect a command: on an inspection worker (a promise that rejects when the
 * worker cannot answer; the command is then refused), or inline (no workers).
 */
export type InspectCommandAsync = (command: string) => CommandInspection | Promise<CommandInspection>;

/** The inspection pool's side of it (`app/inspection-pool.ts`): undefined means "inspect inline". */
export interface ShellInspection {
  inspectShell(command: string): Promise<CommandInspection> | undefined;
}

/**
 * The inspector the SSH listener and MCP's `run_command` use: every command on an inspection
 * worker when the pool has workers (the bash grammar's error recovery can spend the whole parse
 * budget, 250 ms, on a 128-byte command: inline it would stall every client), else inline.
 *
 * @example const inspect = await offLoopShellInspector(services.inspection); await inspect('ls')
 */
export async function offLoopShellInspector(pool: ShellInspection): Promise<InspectCommandAsync> {
  const inline = await shellInspector();
  return (command) => pool.inspectShell(command) ?? inline(command);
}

let loaded: Promise<InspectCommand> | undefined;

/**
 * The shell inspector (`inspect/shell`: tree-sitter-bash → facts), loaded once per process (the
 * SSH listener and MCP's `run_command` share it). A failed load is not cached: the next call
 * tries again, and until then nothing can be decided (callers refuse).
 *
 * @example const inspect = await shellInspector(); inspect('ls -la').facts.commands // ['ls']
 */
export function shellInspector(): Promise<InspectCommand> {
  loaded ??= initShellInspector().then(
    (): InspectCommand => (command) => {
      const i = inspectCommand(command);
      return { ok: i.ok, canonical: i.canonical, facts: shellCedarContext(i.facts), ...(i.reason === undefined ? {} : { reason: i.reason }) };
    },
    (err: unknown) => { loaded = undefined; throw err; },
  );
  return loaded;
}
