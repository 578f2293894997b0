/**
 * The shell inspector as the SSH path uses it (src/inspect/shell: tree-sitter-bash → facts).
 * Injected, so the data path depends on this narrow shape only.
 */
export interface CommandInspection {
  /** False when the command did not parse cleanly or a limit was hit (`facts.parse_error`). */
  readonly ok: boolean;
  readonly reason?: string;
  /** The exact command text inspected: what runs and what an approval is bound to. */
  readonly canonical: string;
  /** `context.shell` facts. */
  readonly facts: object;
}

/** Inspects one command string; synchronous; never throws on hostile input (throws only if not initialized). */
export type InspectCommand = (command: string) => CommandInspection;
