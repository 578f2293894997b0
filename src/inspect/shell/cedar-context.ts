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

export { SHELL_CEDAR_TYPE, SHELL_FACTS_DOC } from '../../protocols/ssh/facts.ts';
import { SHELL_CEDAR_TYPE, SHELL_FACTS_DOC } from '../../protocols/ssh/facts.ts';

/** The facts declaration for the protocol registry (shape of contract.ts `FactsDecl<ShellFacts>`). */
export const SHELL_FACTS_DECL = { doc: SHELL_FACTS_DOC, cedarType: SHELL_CEDAR_TYPE, toContext: shellCedarContext } as const;

/** The shell actions, as the ssh protocol declares them (src/protocols/ssh/protocol.ts). */
export { SHELL_ACTIONS } from '../../protocols/ssh/facts.ts';
import { SHELL_ACTIONS } from '../../protocols/ssh/facts.ts';

/** The Cedar schema text these declarations add (for tests and tools until the registry derives it). */
export function shellSchemaFragment(): string {
  const own = SHELL_ACTIONS.map((a) => `${'doc' in a ? `${a.doc.split('\n').map((l) => `// ${l}`).join('\n')}\n` : ''}action "${a.name}" appliesTo {\n  principal: [User, Agent],\n  resource: [Connection],\n  context: Context,\n};\n`);
  return own.join('\n');
}
