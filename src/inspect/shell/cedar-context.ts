/**
 * `context.shell` for Cedar: the facts as Cedar JSON (sets as arrays, booleans as booleans).
 * The matching schema fragment is `schema.cedarschema` in this folder.
 */
import type { ShellFacts } from './types.ts';

/** Cedar JSON value of `context.shell`. */
export type ShellCedarValue = Record<string, readonly string[] | boolean>;

/**
 * @example
 *   context: { ...base, shell: shellCedarContext(inspectCommand('ls -la').facts) }
 */
export function shellCedarContext(f: ShellFacts): ShellCedarValue {
  return {
    commands: f.commands, argv: f.argv, wrappers: f.wrappers, redirect_writes: f.redirect_writes,
    redirect_reads: f.redirect_reads, paths: f.paths, credential_paths: f.credential_paths,
    recursive_delete_targets: f.recursive_delete_targets, pipes_to_shell: f.pipes_to_shell,
    dynamic_command: f.dynamic_command, dynamic_args: f.dynamic_args, parse_error: f.parse_error,
    privileged: f.privileged, risks: f.risks,
  };
}
