/**
 * `context.shell` for Cedar, in the shape of the protocol contract's facts declaration
 * (issue 18: `FactsDecl<ShellFacts>` — doc, record type, toContext) and the shell actions, so
 * the ssh protocol module registers them as they are.
 */
import type { ShellFacts } from './types.ts';

/** Cedar JSON value of `context.shell`. */
export type ShellCedarValue = Record<string, readonly string[] | boolean>;

/**
 * Copies exactly the attributes of `SHELL_CEDAR_TYPE` (sets as arrays).
 * @example context: { ...base, shell: shellCedarContext(inspectCommand('ls -la').facts) }
 */
export function shellCedarContext(f: ShellFacts): ShellCedarValue {
  return {
    commands: [...f.commands], argv: [...f.argv], wrappers: [...f.wrappers], redirect_writes: [...f.redirect_writes],
    redirect_reads: [...f.redirect_reads], paths: [...f.paths], credential_paths: [...f.credential_paths],
    recursive_delete_targets: [...f.recursive_delete_targets], pipes_to_shell: f.pipes_to_shell,
    dynamic_command: f.dynamic_command, dynamic_args: f.dynamic_args, parse_error: f.parse_error,
    privileged: f.privileged, risks: [...f.risks],
  };
}

/** Comment above `shell?:` in the Cedar schema's Context. */
export const SHELL_FACTS_DOC = 'Shell facts from the bash parser (src/inspect/shell) of an SSH exec command; present on shell.exec.';

/** The Cedar record type of `context.shell`, indented for its place inside `type Context = { … }`. */
export const SHELL_CEDAR_TYPE = `{
    // Every command that would run, basename-normalized (\`/bin/rm\`, \`\\rm\`, \`"rm"\` -> "rm"), wrappers included.
    commands: Set<String>,
    // Each simple command after unwrapping, \`name arg ...\` (dynamic words as written).
    argv: Set<String>,
    // Wrappers unwrapped: "sudo", "env", "timeout", "xargs", "find" (-exec), "bash" (-c), "eval" ...
    wrappers: Set<String>,
    // Files written (redirections, tee, cp/mv destinations, dd of=, curl -o ...) and read (\`<\`).
    redirect_writes: Set<String>,
    redirect_reads: Set<String>,
    // Path-like arguments, resolved against \`cd\` targets.
    paths: Set<String>,
    // Paths naming credentials (~/.ssh, .aws/credentials, .env, /etc/shadow ...).
    credential_paths: Set<String>,
    // Targets of recursive deletes (rm -r, find -delete, rsync --delete).
    recursive_delete_targets: Set<String>,
    // A shell or interpreter runs a script it reads from a pipe, a file redirection, \`<(...)\`,
    // a heredoc, or the session's stdin.
    pipes_to_shell: Bool,
    // A command name is not a literal word (variable, substitution, glob, brace expansion).
    dynamic_command: Bool,
    // Some argument is not literal.
    dynamic_args: Bool,
    // The command did not parse cleanly or a limit was hit (the other facts are then partial).
    parse_error: Bool,
    // Runs as another user (sudo, doas, su, runuser, pkexec, chroot, nsenter).
    privileged: Bool,
    // Risk categories. Denied by the shipped policies: "recursive_delete_system", "pipe_to_shell"
    // (unseen code fed to an interpreter), "credential_access", "disk_wreck", "permission_wreck",
    // "fork_bomb", "power", "fetch_and_exec", "raw_network". Held for review by the shipped review rule:
    // "parse_error", "dynamic_command", "dynamic_sensitive_arg", "inline_code", "system_write",
    // "permission_recursive".
    risks: Set<String>,
  }`;

/** The facts declaration for the protocol registry (shape of contract.ts `FactsDecl<ShellFacts>`). */
export const SHELL_FACTS_DECL = { doc: SHELL_FACTS_DOC, cedarType: SHELL_CEDAR_TYPE, toContext: shellCedarContext } as const;

/**
 * The shell actions (shape of contract.ts `ActionDecl`). `shell.exec` joins the data-plane
 * actions on a connection; the other two are declared with their own comment.
 */
export const SHELL_ACTIONS = [
  { name: 'shell.exec', resources: ['Connection'] },
  { name: 'shell.interactive', resources: ['Connection'], doc: 'An interactive shell (SSH `shell` request with a PTY): keystrokes cannot be judged command by command;\noff unless a policy permits it (typically after a just-in-time review).' },
  { name: 'shell.transfer', resources: ['Connection'], doc: 'File transfer over SSH (the sftp subsystem, scp).' },
] as const;

/** The Cedar schema text these declarations add (for tests and tools until the registry derives it). */
export function shellSchemaFragment(): string {
  const own = SHELL_ACTIONS.map((a) => `${'doc' in a ? `${a.doc.split('\n').map((l) => `// ${l}`).join('\n')}\n` : ''}action "${a.name}" appliesTo {\n  principal: [User, Agent],\n  resource: [Connection],\n  context: Context,\n};\n`);
  return own.join('\n');
}
