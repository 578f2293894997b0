/**
 * The shell command inspector (issue 19): parses a command string with the bash grammar
 * (tree-sitter-bash) and returns facts for policy (`context.shell`). No regular expression
 * decides anything: every decision input comes from the syntax tree.
 *
 * @example
 *   await initShellInspector();
 *   const r = inspectCommand("sudo -u root rm -r -f /");
 *   r.facts.risks; // ['recursive_delete_system']
 *   r.facts.commands; // ['rm', 'sudo']
 */
import { initShellParser, ParseCancelled } from './parser.ts';
import { LimitError, Walker } from './walk.ts';
import { Facts } from './facts.ts';
import type { ShellFacts, ShellInspection, ShellInspectOptions } from './types.ts';

export type { ShellFacts, ShellInspection, ShellInspectOptions } from './types.ts';
export { ShellInspectorNotReady } from './parser.ts';

export const DEFAULT_MAX_BYTES = 65_536;
export const DEFAULT_MAX_DEPTH = 8;
export const DEFAULT_MAX_NODES = 50_000;

/** Loads the bash grammar (WASM) once. Await it before the first `inspectCommand`. */
export function initShellInspector(): Promise<void> {
  return initShellParser();
}

/**
 * Inspects one command string (as sent in an SSH `exec` request). Synchronous, never throws on
 * hostile input: limits and syntax errors become `parse_error` facts (fail closed: shipped
 * policies hold such commands for review). Throws `ShellInspectorNotReady` before init.
 */
export function inspectCommand(command: string, opts: ShellInspectOptions = {}): ShellInspection {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (command.length > maxBytes) return failed(command, 'too_large', new Facts());
  // Control characters but tab and newline fail closed. A carriage return too: bash and dash
  // split words only on blank, tab and newline (CR is a word character to them), while the bash
  // grammar reads CR as a blank, so `echo a\r#x; rm -rf /` parsed as `echo a` plus a comment,
  // and `\` CR LF as a line continuation, hiding a command the remote shell runs.
  for (let i = 0; i < command.length; i++) {
    const c = command.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || c === 0x7f) return failed(command, 'control_char', new Facts());
  }
  const w = new Walker(opts.maxDepth ?? DEFAULT_MAX_DEPTH, opts.maxNodes ?? DEFAULT_MAX_NODES);
  try {
    w.script(command, 0);
  } catch (e) {
    if (e instanceof LimitError) return failed(command, e.reason, w.facts);
    if (e instanceof ParseCancelled) return failed(command, 'parse_timeout', w.facts);
    if (e instanceof RangeError) return failed(command, 'too_deep', w.facts);
    throw e;
  }
  if (w.facts.overflowed()) return failed(command, 'too_many_commands', w.facts);
  const facts = w.facts.finish();
  return facts.parse_error ? { ok: false, reason: 'syntax_error', canonical: command, facts } : { ok: true, canonical: command, facts };
}

function failed(command: string, reason: string, f: Facts): ShellInspection {
  f.parseError();
  const facts: ShellFacts = f.finish();
  return { ok: false, reason, canonical: command, facts };
}
