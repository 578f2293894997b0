/**
 * Shell facts: what a command string would do, as extracted from its bash syntax tree by
 * `inspectCommand`. They reach Cedar as `context.shell` (see `cedar-context.ts` and
 * `schema.cedarschema`). Every set is sorted and deduplicated; bounded by `MAX_FACT_ENTRIES`.
 */

/** Risk categories (`context.shell.risks`). The shipped policies deny the first group and hold the second. */
export const DENY_RISKS = [
  'recursive_delete_system', 'pipe_to_shell', 'credential_access', 'disk_wreck', 'permission_wreck',
  'fork_bomb', 'power', 'fetch_and_exec', 'raw_network',
] as const;
export const REVIEW_RISKS = [
  'parse_error', 'dynamic_command', 'dynamic_sensitive_arg', 'inline_code', 'system_write', 'permission_recursive',
] as const;
export type ShellRisk = (typeof DENY_RISKS)[number] | (typeof REVIEW_RISKS)[number];

/** Facts of one command string. Paths are patterns: `*` stands for glob or dynamic parts. */
export interface ShellFacts {
  /** Every command that would run, basename-normalized (`/bin/rm`, `\rm`, `"rm"` → `rm`), wrappers included. */
  readonly commands: readonly string[];
  /** Each simple command after unwrapping: `name arg …`, literal words as written out, dynamic ones as in the source. */
  readonly argv: readonly string[];
  /** Wrappers that were unwrapped: `sudo`, `env`, `timeout`, `xargs`, `find` (-exec), `bash` (-c), `eval` … */
  readonly wrappers: readonly string[];
  /** Redirection targets written (`>`, `>>`, `&>`, `<>`) and read (`<`). */
  readonly redirect_writes: readonly string[];
  readonly redirect_reads: readonly string[];
  /** Path-like arguments (containing `/`, or starting with `.` or `~`), resolved against `cd` targets. */
  readonly paths: readonly string[];
  /** Paths that name credentials (`~/.ssh/…`, `.aws/credentials`, `.env`, `/etc/shadow` …). */
  readonly credential_paths: readonly string[];
  /** Targets of recursive deletes (`rm -r`, `find -delete`, `rsync --delete` destinations). */
  readonly recursive_delete_targets: readonly string[];
  /** Something feeds a shell or interpreter a script the inspector cannot see (pipe, `<`, `<(…)`, the session's stdin, `$(…)` as code). */
  readonly pipes_to_shell: boolean;
  /** A command name is not a literal word (variable, substitution, glob, brace expansion). */
  readonly dynamic_command: boolean;
  /** Some argument is not literal (a variable or substitution). */
  readonly dynamic_args: boolean;
  /** The text did not parse cleanly, or a limit was hit: the facts above are then partial. */
  readonly parse_error: boolean;
  /** Runs with another identity (`sudo`, `doas`, `su`, `runuser`, `pkexec`). */
  readonly privileged: boolean;
  /** Risk categories found; see `DENY_RISKS` and `REVIEW_RISKS`. */
  readonly risks: readonly ShellRisk[];
}

/** The result of `inspectCommand`. */
export interface ShellInspection {
  /** False when the command did not parse cleanly or a limit was hit (then `facts.parse_error`). */
  readonly ok: boolean;
  /** Why not ok: `syntax_error`, `too_large`, `too_deep`, `too_many_nodes`, `control_char`, `too_many_commands`. */
  readonly reason?: string;
  /** The exact command text inspected; an approval is bound to this string. */
  readonly canonical: string;
  readonly facts: ShellFacts;
}

/** Options of `inspectCommand`. */
export interface ShellInspectOptions {
  /** Largest command text in UTF-16 code units (default 65 536). */
  readonly maxBytes?: number;
  /** Deepest nesting of `bash -c`, `eval`, heredoc scripts … (default 8). */
  readonly maxDepth?: number;
  /** Most syntax nodes visited, over all nested parses (default 50 000). */
  readonly maxNodes?: number;
}

/** Cap on the entries of each fact set. */
export const MAX_FACT_ENTRIES = 256;
