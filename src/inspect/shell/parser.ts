/**
 * The bash grammar: tree-sitter-bash compiled to WASM, run by web-tree-sitter. Both `.wasm`
 * files are resolved from node_modules (no install script is needed). Loading is async and
 * happens once (`initShellParser`); parsing is synchronous afterwards.
 */
import { createRequire } from 'node:module';
import { Language, Parser, type Tree } from 'web-tree-sitter';
import type { ErrorCode } from '../../kernel/errors.ts';

const require = createRequire(import.meta.url);

let parser: Parser | undefined;
let loading: Promise<void> | undefined;

/** Loads the runtime and the bash grammar. Idempotent; concurrent calls share one load. */
export function initShellParser(): Promise<void> {
  loading ??= (async () => {
    const runtime = require.resolve('web-tree-sitter/web-tree-sitter.wasm');
    await Parser.init({ locateFile: () => runtime });
    const bash = await Language.load(require.resolve('tree-sitter-bash/tree-sitter-bash.wasm'));
    const p = new Parser();
    p.setLanguage(bash);
    parser = p;
  })();
  return loading;
}

/** The inspector was used before `initShellParser` resolved. */
export class ShellInspectorNotReady extends Error {
  override readonly name = 'ShellInspectorNotReady';
  /** The registry code: inspection could not run, so the command is refused. */
  readonly code = 'inspection_unavailable' satisfies ErrorCode;
  constructor() {
    super('the shell inspector is not loaded: await initShellInspector() first');
  }
}

/** The parse took longer than its budget (pathological nesting) and was cancelled. */
export class ParseCancelled extends Error {
  override readonly name = 'ParseCancelled';
  /** The registry code: a command the parser cannot finish is not run as it stands (refused, 126). */
  readonly code = 'policy_denied' satisfies ErrorCode;
  constructor() {
    super('parse_timeout');
  }
}

/** Most milliseconds one parse may take (a real command line takes well under one). */
export const PARSE_BUDGET_MS = 250;

/**
 * Parses `text` and hands the tree to `use`; the tree's WASM memory is freed afterwards.
 * Throws `ShellInspectorNotReady` before init, `ParseCancelled` past `PARSE_BUDGET_MS`.
 */
export function withTree<T>(text: string, use: (tree: Tree) => T): T {
  if (!parser) throw new ShellInspectorNotReady();
  const deadline = performance.now() + PARSE_BUDGET_MS;
  const tree = parser.parse(text, null, { progressCallback: () => performance.now() > deadline });
  if (!tree) {
    parser.reset();
    throw new ParseCancelled();
  }
  try {
    return use(tree);
  } finally {
    tree.delete();
  }
}
