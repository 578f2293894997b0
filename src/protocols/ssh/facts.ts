/**
 * `context.shell` and the shell actions, as the ssh protocol declares them (protocol.ts). The
 * facts come from the shell inspector (src/inspect/shell), already as Cedar values.
 */

/**
 * Shell facts of a command (`context.shell`), as Cedar values: sets as arrays, flags as booleans.
 * Built by `inspect/shell` (`shellCedarContext`); `SHELL_CEDAR_TYPE` names each field.
 */
export type ShellContext = Readonly<Record<string, readonly string[] | boolean>>;

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

/**
 * The shell actions (shape of contract.ts `ActionDecl`). `shell.exec` joins the data-plane
 * actions on a connection; the other two are declared with their own comment.
 */
export const SHELL_ACTIONS = [
  { name: 'shell.exec', resources: ['Connection'] },
  { name: 'shell.interactive', resources: ['Connection'], doc: 'An interactive shell (SSH `shell` request with a PTY): keystrokes cannot be judged command by command;\noff unless a policy permits it (typically after a just-in-time review).' },
  { name: 'shell.transfer', resources: ['Connection'], doc: 'File transfer over SSH (the sftp subsystem, scp).' },
] as const;
