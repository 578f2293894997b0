/**
 * The syntax-tree walk: visits every statement of a bash tree (lists, pipelines, subshells,
 * groups, loops, conditionals, case, functions, substitutions, heredocs) and hands each simple
 * command, with its evaluated words and where its stdin comes from, to `commands.ts`. Nested
 * scripts (`bash -c`, `eval`, heredocs fed to a shell …) are parsed again with `script`.
 * Every visit counts against the node budget; every nesting against the depth budget.
 */
import type { Node } from 'web-tree-sitter';
import { embedsCode, envAssignment, executeCommand } from './commands.ts';
import { Facts } from './facts.ts';
import { withTree } from './parser.ts';
import { ANY } from './paths.ts';
import {
  ansiC, concatAlts, doubleQuotedText, dynamicAlt, expandBraces, kinded, MAX_ALTS, toPattern, unquotedAlt,
  type Alt, type Word,
} from './words.ts';
import type { ErrorCode } from '../../kernel/errors.ts';

/** Where a command's standard input comes from. */
export type Stdin =
  | { readonly kind: 'channel' } // the session's stdin: whatever the client sends
  | { readonly kind: 'pipe' } // the previous command of a pipeline
  | { readonly kind: 'file' } // a `<` redirection or process substitution
  | { readonly kind: 'text'; readonly text: string; readonly literal: boolean }; // heredoc / here-string

export interface Ctx {
  readonly stdin: Stdin;
  readonly depth: number;
}

/** Deepest syntactic nesting walked (subshells, groups, substitutions, quotes …). */
export const MAX_NESTING = 200;

/** Thrown when a budget is exhausted; caught by `inspectCommand`. */
export class LimitError extends Error {
  override readonly name = 'LimitError';
  /** The registry code: a command the inspector cannot finish is not run as it stands (refused, 126). */
  readonly code = 'policy_denied' satisfies ErrorCode;
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

/** One inspection: the budgets, the facts being gathered, and shell state (variables, cwd, functions). */
export class Walker {
  readonly facts = new Facts();
  /** Literal values assigned to variables so far (`undefined` entry: assigned something dynamic). */
  readonly vars = new Map<string, string[] | undefined>();
  /** Possible working directories (patterns); the session starts in the user's home. */
  cwds: string[] = ['~'];
  /** Functions being defined (innermost last), to find self-calls (fork bombs). */
  readonly fnStack: string[] = [];
  /** Calls seen in function bodies (caller → callees), bounded: finds mutual recursion (`a(){ b|b& }; b(){ a|a& }`). */
  readonly fnCalls = new Map<string, Set<string>>();
  readonly maxDepth: number;
  readonly maxNodes: number;
  /**
   * Walking code that runs later than where it stands (a function body, a trap action, an alias
   * value): the variables' values then are not known here, so none is substituted.
   */
  deferred = 0;
  /** Something may have assigned any variable (`source file`, `read "$name"`): none is substituted from then on. */
  allVarsUnknown = false;
  #nodes = 0;
  /** Current syntactic nesting of the walk (statements and words). */
  #nesting = 0;
  /** The text of the tree being walked (node offsets index into it). */
  #src = '';

  constructor(maxDepth: number, maxNodes: number) {
    this.maxDepth = maxDepth;
    this.maxNodes = maxNodes;
    for (const name of SHELL_SET_VARS) this.setVar(name, undefined);
  }

  /**
   * A variable bash may change otherwise than by a plain assignment the walk sees (`read x`,
   * `printf -v x`, `mapfile x`, `${x:=…}`, `(( x = … ))`, `x[0]=…`, `declare -n r=x` …): its
   * value is unknown from now on, whatever is assigned later (`setVar` keeps it unknown).
   */
  forgetVar(name: string): void {
    // PATH, the hash table (BASH_CMDS) and aliases (BASH_ALIASES) decide which program a name
    // runs: changed in a way not modelled, no later command name is known.
    if (RESOLUTION_VARS.has(name)) this.facts.dynamicCommand = true;
    this.setVar(name, undefined);
  }

  /**
   * Every name-like token of `text` is forgotten. Only the shell itself changes its variables, and
   * a builtin changes one only when a word names it (or the name is dynamic: see `allVarsUnknown`),
   * so forgetting every name a command's words mention covers every builtin, present or future.
   */
  forgetNamesIn(text: string): void {
    let start = -1;
    for (let i = 0; i <= text.length; i++) {
      const c = i < text.length ? text.charCodeAt(i) : 0;
      const ident = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || (start >= 0 && c >= 0x30 && c <= 0x39);
      if (ident && start < 0) start = i;
      else if (!ident && start >= 0) {
        if (this.vars.size < 4096) this.forgetVar(text.slice(start, i));
        else this.allVarsUnknown = true;
        start = -1;
      }
    }
  }

  /**
   * Walks a loop's body (and condition) until the variables it assigns stop changing: bash runs it
   * again with the values of the last pass (`x=ls; for i in 1 2; do $x -rf /; x=rm; done` runs rm
   * on the second pass). Bounded; a loop still changing them after the last pass leaves every
   * variable unknown.
   */
  #loop(run: () => void): void {
    let before = this.#varsKey();
    for (let pass = 0; pass < LOOP_PASSES; pass++) {
      run();
      const now = this.#varsKey();
      if (now === before) return;
      before = now;
    }
    this.allVarsUnknown = true;
    run();
  }

  #varsKey(): string {
    return `${this.allVarsUnknown}${JSON.stringify([...this.vars])}`;
  }

  /** Walks code that runs later (see `deferred`). */
  later(run: () => void): void {
    this.deferred++;
    try {
      run();
    } finally {
      this.deferred--;
    }
  }

  /** Parses `text` as a nested script at `depth` and walks it with `stdin`. */
  script(source: string, depth: number, stdin: Stdin = { kind: 'channel' }): void {
    if (depth > this.maxDepth) throw new LimitError('too_deep');
    // Dynamic parts of a nested script (placeholders, never in the input) become an unknown variable.
    const text = depth > 0 && source.includes(ANY) ? source.split(ANY).join('${__gatehouse_unknown}') : source;
    const outer = this.#src;
    this.#src = text;
    try {
      withTree(text, (tree) => {
        if (tree.rootNode.hasError) this.facts.parseError();
        this.statement(tree.rootNode, { stdin, depth });
      });
    } finally {
      this.#src = outer;
    }
  }

  #tick(): void {
    if (++this.#nodes > this.maxNodes) throw new LimitError('too_many_nodes');
  }

  /** Walks a statement-level node. */
  statement(node: Node, ctx: Ctx): void {
    if (++this.#nesting > MAX_NESTING) throw new LimitError('too_deep');
    try {
      this.#statement(node, ctx);
    } finally {
      this.#nesting--;
    }
  }

  #statement(node: Node, ctx: Ctx): void {
    this.#tick();
    switch (node.type) {
      case 'command': return this.#command(node, ctx, []);
      case 'pipeline': return this.#pipeline(node, ctx);
      case 'redirected_statement': return this.#redirected(node, ctx);
      case 'function_definition': return this.#function(node, ctx);
      case 'variable_assignment': return this.#assignment(node, ctx);
      case 'for_statement': return this.#for(node, ctx);
      case 'declaration_command':
      case 'unset_command': return this.#declaration(node, ctx);
      case 'comment': case 'heredoc_body': case 'heredoc_start': case 'heredoc_end': return;
      case 'ERROR': this.facts.parseError(); break;
      case 'variable_name': this.forgetVar(node.text); return; // arithmetic (`(( x = 1 ))`), subscripts
      case 'while_statement': case 'until_statement': case 'c_style_for_statement':
        // A loop that starts background jobs (`while :; do sleep 100 & done`) can exhaust the process table.
        if (hasBackground(node)) this.facts.risk('dynamic_sensitive_arg');
        this.#loop(() => { this.#children(node, ctx); });
        if (node.isMissing) this.facts.parseError();
        return;
      default: break;
    }
    if (node.isMissing) this.facts.parseError();
    this.#children(node, ctx);
  }

  #children(node: Node, ctx: Ctx): void {
    for (const child of node.namedChildren) {
      // Words outside a command (`[[ … ]]`, arithmetic, conditions): one whose literal value still
      // holds code is evaluated again by bash (`[ -v 'a[$(…)]' ]`): inline code. Arithmetic
      // evaluation may assign the variables they name (`[[ 'x=1' -eq 1 ]]`).
      if (isWordish(child.type)) {
        const w = this.word(child, ctx);
        if (embedsCode(w)) this.facts.risk('inline_code');
        for (const r of w.raws) this.forgetNamesIn(r);
      } else this.statement(child, ctx);
    }
  }

  #pipeline(node: Node, ctx: Ctx): void {
    let first = true;
    for (const child of node.namedChildren) {
      this.statement(child, first ? ctx : { ...ctx, stdin: { kind: 'pipe' } });
      first = false;
    }
  }

  #redirected(node: Node, ctx: Ctx): void {
    let stdin: Stdin = ctx.stdin;
    const later: { node: Node; ctx: Ctx }[] = [];
    for (const r of node.childrenForFieldName('redirect')) {
      const s = this.redirect(r, ctx, later);
      if (s) stdin = s;
    }
    const body = node.childForFieldName('body');
    if (body) this.statement(body, { ...ctx, stdin });
    for (const l of later) this.statement(l.node, l.ctx);
  }

  /**
   * Records a redirection and returns the stdin it gives the command, if any. Statements that
   * tree-sitter nests in a heredoc node (`cat <<EOF | sh`) are queued on `later` with a piped stdin.
   */
  redirect(r: Node, ctx: Ctx, later: { node: Node; ctx: Ctx }[]): Stdin | undefined {
    this.#tick();
    if (r.type === 'heredoc_redirect') return this.#heredoc(r, ctx, later);
    if (r.type === 'herestring_redirect') {
      const target = r.namedChildren[0];
      if (!target) return undefined;
      const w = this.word(target, ctx);
      return { kind: 'text', text: (w.raws[0] ?? '') + '\n', literal: !w.dynamic && w.alts.length === 1 };
    }
    if (r.type !== 'file_redirect') return undefined;
    const dest = r.childForFieldName('destination') ?? r.namedChildren.find((c) => c.type !== 'file_descriptor');
    const op = r.children.find((c) => !c.isNamed)?.type ?? '>';
    if (!dest) return undefined;
    const w = this.word(dest, ctx);
    if (op === '>&' || op === '<&' || op === '>&-' || op === '<&-') {
      if (/* fd duplication */ dest.type === 'number' || w.raws[0] === '-') return undefined;
    }
    if (w.alts.some((a) => a.startsWith('/dev/tcp/') || a.startsWith('/dev/udp/'))) this.facts.risk('raw_network');
    if (op.startsWith('<') && op !== '<>') {
      this.facts.redirectRead(w, this.cwds);
      return { kind: 'file' };
    }
    this.facts.redirectWrite(w, this.cwds);
    return op === '<>' ? { kind: 'file' } : undefined;
  }

  #heredoc(r: Node, ctx: Ctx, later: { node: Node; ctx: Ctx }[]): Stdin {
    let quoted = false;
    let literal = true;
    let text = '';
    let startEnd = r.startIndex;
    let misparsed = false;
    for (const c of r.namedChildren) {
      if (c.type === 'heredoc_start') {
        const t = c.text;
        startEnd = c.endIndex;
        quoted = t.includes("'") || t.includes('"') || t.includes('\\');
      } else if (c.type === 'heredoc_end' && text === '') {
        // tree-sitter-bash sometimes parses body lines as words (a body starting with `\`):
        // take the body from the source, and hold the line since the grammar went astray.
        const src = this.#src;
        const nl = src.indexOf('\n', startEnd);
        if (nl >= 0 && nl < c.startIndex) text = src.slice(nl + 1, c.startIndex);
        if (misparsed) { this.facts.parseError(); literal = false; }
      } else if (c.type === 'word' || c.type === 'concatenation' || c.type === 'string' || c.type === 'raw_string') {
        misparsed = true;
      } else if (c.type === 'heredoc_body') {
        text = c.text;
        if (!quoted) {
          for (const part of c.namedChildren) {
            if (part.type === 'heredoc_content') continue;
            literal = false;
            this.word(part, ctx);
          }
        }
      } else if (c.type !== 'heredoc_end') {
        later.push({ node: c, ctx: { ...ctx, stdin: { kind: 'pipe' } } });
      }
    }
    return { kind: 'text', text, literal };
  }

  #command(node: Node, ctx: Ctx, extra: Word[]): void {
    let stdin = ctx.stdin;
    const later: { node: Node; ctx: Ctx }[] = [];
    const words: Node[] = [];
    for (const child of node.namedChildren) {
      this.#tick();
      if (child.type === 'variable_assignment') this.#assignment(child, ctx);
      else if (child.type.endsWith('_redirect')) {
        const s = this.redirect(child, ctx, later);
        if (s) stdin = s;
      } else if (child.type === 'command_name') {
        const inner = child.namedChildren[0];
        if (inner) words.push(inner);
      } else words.push(child);
    }
    const argv = this.#mergeContinued(words, ctx);
    if (argv.length > 0) executeCommand(this, [...argv, ...extra], { ...ctx, stdin });
    for (const l of later) this.statement(l.node, l.ctx);
  }

  /**
   * Evaluates the words of a command. tree-sitter splits `r\<newline>m` and `"r"\m` into two words
   * where bash sees one word `rm`: words separated by nothing or only line continuations are joined.
   */
  #mergeContinued(nodes: readonly Node[], ctx: Ctx): Word[] {
    const out: Word[] = [];
    let prev: Node | undefined;
    const src = this.#src;
    for (const n of nodes) {
      const w = this.word(n, ctx);
      const last = out[out.length - 1];
      if (last && prev && onlyContinuations(src, prev.endIndex, n.startIndex)) out[out.length - 1] = joinWords(last, w);
      else out.push(w);
      prev = n;
    }
    return out;
  }

  #function(node: Node, ctx: Ctx): void {
    const name = node.childForFieldName('name')?.text ?? '';
    this.facts.functionDefined(name);
    this.fnStack.push(name);
    try {
      const body = node.childForFieldName('body');
      // The body runs when called, with the variables' values of then (`x=ls; f(){ $x; }; x=rm; f`).
      if (body) this.later(() => { this.statement(body, { ...ctx, stdin: { kind: 'channel' } }); });
    } finally {
      this.fnStack.pop();
    }
  }

  #assignment(node: Node, ctx: Ctx): void {
    const nameNode = node.childForFieldName('name');
    if (nameNode && nameNode.type !== 'variable_name') {
      // `x[0]=rm` changes what `$x` is (element 0); an index may assign too (`a[x=1]=2`).
      this.forgetVar(nameNode.childForFieldName('name')?.text ?? nameNode.text);
      this.statement(nameNode, ctx);
    }
    const name = nameNode?.text ?? '';
    const value = node.childForFieldName('value');
    if (!value) { this.setVar(name, ['']); return; }
    if (value.type === 'array') {
      for (const el of value.namedChildren) this.word(el, ctx);
      this.forgetVar(name);
      return;
    }
    const w = this.word(value, ctx);
    envAssignment(this, name, w, ctx);
    const appending = node.children.some((c) => c.type === '+=');
    this.setVar(name, w.dynamic || w.glob || appending ? undefined : [...w.raws]);
  }

  /** Records literal values of a variable (several assignments accumulate). */
  setVar(name: string, values: readonly string[] | undefined): void {
    if (values === undefined || (this.vars.has(name) && this.vars.get(name) === undefined)) {
      this.vars.set(name, undefined);
      return;
    }
    const known = this.vars.get(name) ?? [];
    const merged = [...new Set([...known, ...values])];
    this.vars.set(name, merged.length > MAX_ALTS ? undefined : merged);
  }

  #for(node: Node, ctx: Ctx): void {
    const variable = node.childForFieldName('variable')?.text ?? '';
    const values = node.childrenForFieldName('value').map((v) => this.word(v, ctx));
    const literal = values.length > 0 && values.every((v) => !v.dynamic);
    this.setVar(variable, literal ? values.flatMap((v) => v.raws) : undefined);
    const body = node.childForFieldName('body');
    if (body) this.#loop(() => { this.statement(body, ctx); });
  }

  #declaration(node: Node, ctx: Ctx): void {
    const keyword = node.children[0]?.text ?? '';
    this.facts.command(keyword);
    // An option (`-n` nameref, `-l`/`-u` case, `-i` arithmetic, `-a` array …) changes what later
    // assignments store, or where: every name the command mentions becomes unknown.
    let options = false;
    for (const c of node.namedChildren) {
      if (c.type === 'variable_assignment') this.#assignment(c, ctx);
      else if (c.type === 'variable_name') this.setVar(c.text, undefined);
      else {
        const w = this.word(c, ctx);
        options = true;
        if (w.dynamic) this.allVarsUnknown = true;
      }
    }
    if (options) this.forgetNamesIn(node.text);
  }

  /** Evaluates a word node; commands inside substitutions are walked (they run first). */
  word(node: Node, ctx: Ctx): Word {
    const flags = { dynamic: false, subst: false };
    const alts = this.#alts(node, ctx, false, flags);
    const budget = { n: MAX_ALTS * 4 };
    const expanded = alts.flatMap((a) => expandBraces(a, budget));
    const bounded = expanded.length > MAX_ALTS ? [dynamicAlt()] : expanded;
    let glob = expanded.length !== alts.length;
    const pats = bounded.map((a) => {
      const t = toPattern(a);
      if (t.glob) glob = true;
      return t.p;
    });
    const dynamic = flags.dynamic || bounded.some((a) => a.k.includes('d'));
    return {
      text: node.text, alts: pats, raws: bounded.map((a) => a.s), dynamic, subst: flags.subst,
      procSubst: node.type === 'process_substitution', glob,
    };
  }

  #alts(node: Node, ctx: Ctx, quoted: boolean, flags: { dynamic: boolean; subst: boolean }): Alt[] {
    if (++this.#nesting > MAX_NESTING) throw new LimitError('too_deep');
    try {
      return this.#altsOf(node, ctx, quoted, flags);
    } finally {
      this.#nesting--;
    }
  }

  #altsOf(node: Node, ctx: Ctx, quoted: boolean, flags: { dynamic: boolean; subst: boolean }): Alt[] {
    this.#tick();
    const q = quoted ? 'q' : 'u';
    switch (node.type) {
      case 'word': case 'command_name':
        if (node.type === 'command_name' && node.namedChildren[0]) return this.#alts(node.namedChildren[0], ctx, quoted, flags);
        return [quoted ? kinded(node.text, 'q') : unquotedAlt(node.text)];
      case 'variable_name':
        this.forgetVar(node.text);
        return [kinded(node.text, q)];
      case 'number': case 'extglob_pattern': case 'regex': case 'test_operator':
        return [kinded(node.text, q)];
      case 'raw_string':
        return [kinded(node.text.slice(1, -1), 'q')];
      case 'ansi_c_string':
        return [kinded(ansiC(node.text.slice(2, -1)), 'q')];
      case 'string': case 'translated_string': return this.#string(node, ctx, flags);
      case 'concatenation': {
        const parts: Alt[][] = [];
        let at = node.startIndex;
        const src = this.#src;
        for (const c of node.children) {
          if (c.startIndex > at) parts.push([unquotedAlt(src.slice(at, c.startIndex))]);
          parts.push(this.#alts(c, ctx, quoted, flags));
          at = c.endIndex;
        }
        if (node.endIndex > at) parts.push([unquotedAlt(src.slice(at, node.endIndex))]);
        return concatAlts(parts);
      }
      case 'simple_expansion': case 'expansion': return this.#expansion(node, ctx, quoted, flags);
      case 'command_substitution': case 'process_substitution':
        flags.subst = true;
        flags.dynamic = true;
        for (const c of node.namedChildren) this.statement(c, { ...ctx, stdin: { kind: 'channel' } });
        return [dynamicAlt()];
      default:
        flags.dynamic = true;
        for (const c of node.namedChildren) {
          if (isWordish(c.type)) this.#alts(c, ctx, quoted, flags);
          else this.statement(c, ctx);
        }
        return [dynamicAlt()];
    }
  }

  #string(node: Node, ctx: Ctx, flags: { dynamic: boolean; subst: boolean }): Alt[] {
    const parts: Alt[][] = [];
    const src = this.#src;
    const open = node.type === 'translated_string' ? 2 : 1;
    let at = node.startIndex + open;
    const end = node.endIndex - 1;
    for (const c of node.namedChildren) {
      if (c.startIndex > at) parts.push([kinded(doubleQuotedText(src.slice(at, c.startIndex)), 'q')]);
      if (c.type === 'string_content') parts.push([kinded(doubleQuotedText(c.text), 'q')]);
      else parts.push(this.#alts(c, ctx, true, flags));
      at = c.endIndex;
    }
    if (end > at) parts.push([kinded(doubleQuotedText(src.slice(at, end)), 'q')]);
    return concatAlts(parts);
  }

  #expansion(node: Node, ctx: Ctx, quoted: boolean, flags: { dynamic: boolean; subst: boolean }): Alt[] {
    const named = node.namedChildren;
    const simple = named.length === 1 && named[0]?.type === 'variable_name' &&
      (node.type === 'simple_expansion' || node.text === `\${${named[0].text}}`);
    // Any other form may assign (`${x:=rm}`, `${x=rm}`) or read through a name (`${!x}`).
    if (!simple) for (const c of named) if (c.type === 'variable_name') this.forgetVar(c.text);
    if (simple && named[0] && this.deferred === 0 && !this.allVarsUnknown) {
      const name = named[0].text;
      if (name === 'HOME' && !this.vars.has(name)) return [kinded('~', 'e')];
      const values = this.vars.get(name);
      // Unquoted, bash splits the value into fields and removes an empty one: `x=; $x rm -rf /`
      // runs `rm -rf /`, `x='rm -rf /'; $x` too. Such a value is not one word: unknown.
      if (values && (quoted || values.every((v) => v !== '' && !hasBlank(v)))) return values.map((v) => kinded(v, quoted ? 'q' : 'e'));
    }
    flags.dynamic = true;
    for (const c of named) {
      if (c.type === 'variable_name' || c.type === 'special_variable_name') continue;
      if (isWordish(c.type)) this.#alts(c, ctx, quoted, flags);
      else this.statement(c, ctx);
    }
    return [dynamicAlt()];
  }
}

/** Variables that change which program a command name runs (see `Walker.forgetVar`). */
export const RESOLUTION_VARS: ReadonlySet<string> = new Set(['PATH', 'BASH_CMDS', 'BASH_ALIASES']);

/** Most passes over a loop body before its variables are all taken as unknown. */
const LOOP_PASSES = 4;

/**
 * Variables bash itself sets (`read` without a name sets REPLY, `cd` PWD, `getopts` OPTARG …):
 * never substituted, whatever the line assigns them.
 */
const SHELL_SET_VARS = [
  'REPLY', 'MAPFILE', 'OPTARG', 'OPTIND', 'OPTERR', 'PWD', 'OLDPWD', 'BASH_REMATCH', 'COPROC', '_', 'RANDOM', 'SRANDOM', 'SECONDS',
  'LINENO', 'BASHPID', 'EPOCHSECONDS', 'EPOCHREALTIME', 'PIPESTATUS', 'FUNCNAME', 'BASH_COMMAND', 'HISTCMD', 'DIRSTACK',
  'BASH_ARGV0', 'BASH_SUBSHELL', 'GROUPS', 'PPID', 'UID', 'EUID', 'SHLVL', 'HOSTNAME', 'BASH_LINENO', 'BASH_SOURCE',
  'BASH_ARGC', 'BASH_ARGV', 'COLUMNS', 'LINES', 'BASH_EXECUTION_STRING', 'READLINE_LINE', 'READLINE_POINT', 'COMP_WORDS',
  'COMPREPLY', 'BASH_ALIASES', 'BASH_CMDS', 'BASH_VERSINFO', 'SHELLOPTS', 'BASHOPTS',
];

/** Node types evaluated as words (when met where a statement could be). */
function isWordish(type: string): boolean {
  return type === 'word' || type === 'string' || type === 'raw_string' || type === 'concatenation' ||
    type === 'simple_expansion' || type === 'expansion' || type === 'command_substitution' ||
    type === 'process_substitution' || type === 'ansi_c_string' || type === 'number' || type === 'translated_string';
}

/** Whether `src[from, to)` is empty or only `\<newline>` pairs (no blank between two words). */
function onlyContinuations(src: string, from: number, to: number): boolean {
  for (let i = from; i < to; i += 2) {
    if (src[i] !== '\\' || src[i + 1] !== '\n') return false;
  }
  return (to - from) % 2 === 0;
}

/** Joins two words split by a line continuation. */
function joinWords(a: Word, b: Word): Word {
  const alts: string[] = [];
  const raws: string[] = [];
  for (let i = 0; i < a.alts.length; i++) {
    for (let j = 0; j < b.alts.length; j++) {
      alts.push((a.alts[i] ?? '') + (b.alts[j] ?? ''));
      raws.push((a.raws[i] ?? '') + (b.raws[j] ?? ''));
    }
  }
  const many = alts.length > MAX_ALTS;
  return {
    text: a.text + b.text, alts: many ? [ANY] : alts, raws: many ? [ANY] : raws, dynamic: a.dynamic || b.dynamic || many,
    subst: a.subst || b.subst, procSubst: false, glob: a.glob || b.glob,
  };
}

/** Whether a node (a loop) contains a background `&` at any depth. */
function hasBackground(node: Node): boolean {
  const stack: Node[] = [node];
  for (let seen = 0; stack.length > 0 && seen < 10_000; seen++) {
    const n = stack.pop() as Node;
    if (n.type === '&') return true;
    for (const c of n.children) if (c) stack.push(c);
  }
  return false;
}

/** Whether `s` holds a character of the default IFS (space, tab, newline): an unquoted expansion splits there. */
function hasBlank(s: string): boolean {
  return s.includes(' ') || s.includes('\t') || s.includes('\n');
}
