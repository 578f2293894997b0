/**
 * What one simple command does: unwraps wrappers (`sudo`, `env`, `timeout`, `xargs` …) until
 * the command that really runs, parses the scripts handed to shells (`bash -c`, `eval`,
 * `su -c` …), and hands the rest to the per-command analysers in `analyse.ts`.
 */
import { analyse, changeDir } from './analyse.ts';
import { firstOperandIndex, isAssignment, scanOptions, type OptionSpec } from './options.ts';
import { ANY, credentialNamePattern, systemVerdict } from './paths.ts';
import type { Ctx, Walker } from './walk.ts';
import { dynamicWord, isLiteral, literalValue, literalWord, type Word } from './words.ts';

/** Wrappers that run their operand command (after their options and `skip` leading operands). */
const WRAPPERS: Readonly<Record<string, OptionSpec & { skip?: number; privileged?: boolean }>> = {
  sudo: { short: 'ugpCDrtTUh', long: ['user', 'group', 'prompt', 'close-from', 'chdir', 'role', 'type', 'other-user', 'host', 'command-timeout'], assignments: true, privileged: true },
  doas: { short: 'uC', privileged: true },
  pkexec: { long: ['user'], privileged: true },
  env: { short: 'uCS', long: ['unset', 'chdir', 'split-string', 'block-signal', 'default-signal', 'ignore-signal'], assignments: true },
  timeout: { short: 'sk', long: ['signal', 'kill-after'], skip: 1 },
  nice: { short: 'n', long: ['adjustment'] },
  nohup: {}, setsid: {}, builtin: {}, coproc: {}, unbuffer: {}, caffeinate: {}, catchsegv: {},
  command: {}, exec: { short: 'a' },
  time: { short: 'of', long: ['output', 'format'] },
  stdbuf: { short: 'ioe', long: ['input', 'output', 'error'] },
  ionice: { short: 'cnpPu', long: ['class', 'classdata', 'pid', 'pgid', 'uid'] },
  chroot: { long: ['userspec', 'groups'], skip: 1, privileged: true },
  taskset: { short: '', skip: 1 },
  strace: { short: 'oeEpsuIbaXPS' }, ltrace: { short: 'oeEpsuna' },
  nsenter: { short: 'tSGnmuipUCT', long: ['target', 'setuid', 'setgid', 'wd', 'root'], privileged: true },
  unshare: { long: ['map-user', 'map-group', 'propagation', 'setgroups', 'wd', 'root'] },
  'systemd-run': { short: 'pEMHu', long: ['unit', 'property', 'description', 'slice', 'uid', 'gid', 'working-directory', 'setenv', 'machine', 'host', 'on-calendar'] },
  watch: { short: 'nq', long: ['interval', 'chgexit', 'equexit'] },
  flock: { short: 'wEc', long: ['wait', 'timeout', 'conflict-exit-code', 'command'], skip: 1 },
  busybox: {},
  xargs: { short: 'adEILnPs', long: ['arg-file', 'delimiter', 'eof', 'replace', 'max-lines', 'max-args', 'max-procs', 'max-chars', 'process-slot-var'] },
};

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'mksh', 'pdksh', 'yash', 'rbash', 'fish', 'csh', 'tcsh', 'posh', 'oksh', 'loksh']);

/** Bash reserved words: never a command name in a well-formed line. */
const RESERVED = new Set(['{', '}', 'if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'case', 'esac', 'while', 'until', 'for', 'in', 'function', 'select', '[[', ']]']);

/** Bash builtins that assign variables named by their words (also through a wrapper: `command read x`). */
const ASSIGNING_BUILTINS = new Set([
  'read', 'printf', 'mapfile', 'readarray', 'getopts', 'let', 'declare', 'typeset', 'local', 'export', 'readonly', 'unset',
  'wait', 'eval', 'enable', 'exec', 'builtin', 'command', 'coproc', 'select', 'set', 'shift', 'cd', 'pushd', 'popd',
]);

/** Most nested unwrapping steps for one command (each step consumes at least one word). */
const MAX_STEPS = 64;

/** The basename of a command path: `/usr/bin/rm` → `rm`. */
export function commandBasename(v: string): string {
  const slash = v.lastIndexOf('/');
  return slash >= 0 ? v.slice(slash + 1) : v;
}

const STANDARD_BIN = new Set(['/bin', '/usr/bin', '/sbin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin']);

/** Runs one simple command (its words evaluated) with `ctx`'s stdin. */
/**
 * Whether a word's literal value still holds shell code: `$(…)`, backticks, `${…}` or `$((…))`
 * that quoting kept from running here but that bash runs when something evaluates the string
 * again — an array subscript in `$((x))`, `[[ … -eq … ]]`, `declare`, `printf -v`, `read`, `let`,
 * `test -v`, prompt expansion `${x@P}`, a nested backtick. Such a word is inline code (review).
 */
export function embedsCode(word: Word): boolean {
  return word.raws.some((r) => r.includes('$(') || r.includes('`') || r.includes('${') || r.includes('$['));
}

export function executeCommand(w: Walker, argv: readonly Word[], ctx: Ctx): void {
  // A builtin assigns only variables its words name (`read x`, `printf -v x`, `getopts o x`,
  // `wait -p x`, `exec {x}>f` …): they are unknown from here on (see Walker.forgetNamesIn).
  for (const a of argv) for (const r of a.raws) w.forgetNamesIn(r);
  let args = argv;
  for (let step = 0; step < MAX_STEPS; step++) {
    const nameWord = args[0];
    if (!nameWord) return;
    const rest = args.slice(1);
    const v = literalValue(nameWord);
    if (v === undefined) return dynamicName(w, nameWord, rest, ctx);
    if (v === '') return;
    if (v === '!') { args = rest; continue; }
    if (RESERVED.has(v)) {
      // A reserved word where tree-sitter saw a command name (`! ! rm`, `sudo { rm …; }`): the
      // grammars disagree; assume the rest runs and hold the line for review.
      w.facts.parseError();
      args = rest;
      continue;
    }
    const name = commandBasename(v);
    // A builtin given a dynamic word may assign any variable (`read "$n"`); `source` runs a file
    // that may assign every variable.
    if (v === name && (name === 'source' || name === '.' || (ASSIGNING_BUILTINS.has(name) && rest.some((r) => r.dynamic)))) w.allVarsUnknown = true;
    if (v.includes('/') && !STANDARD_BIN.has(v.slice(0, v.lastIndexOf('/')))) w.facts.ranFile(nameWord, w.cwds);
    w.facts.command(name);
    if (w.fnStack.includes(name) || callsBack(w, name)) w.facts.risk('fork_bomb');
    const next = unwrap(w, name, rest, ctx);
    if (next === undefined) return;
    args = next;
  }
  w.facts.parseError();
}

/**
 * Records the call `name` made from the function being defined and answers whether `name` already
 * reaches that function (mutual recursion: `a(){ b|b& }; b(){ a|a& }; a`).
 */
function callsBack(w: Walker, name: string): boolean {
  const caller = w.fnStack[w.fnStack.length - 1];
  if (caller === undefined) return false;
  if (w.fnCalls.size < 256) {
    const set = w.fnCalls.get(caller) ?? new Set<string>();
    if (set.size < 256) set.add(name);
    w.fnCalls.set(caller, set);
  }
  const seen = new Set<string>();
  const todo = [name];
  while (todo.length > 0 && seen.size < 1024) {
    const n = todo.pop() as string;
    if (w.fnStack.includes(n) && n !== name) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const c of w.fnCalls.get(n) ?? []) todo.push(c);
  }
  return false;
}

/** A command name that is not one literal word. */
function dynamicName(w: Walker, name: Word, rest: readonly Word[], ctx: Ctx): void {
  w.facts.dynamicCommand = true;
  for (const r of rest) w.facts.pathArg(r, w.cwds);
  w.facts.argv.add([name.text, ...rest.map(show)].join(' '));
  if (name.subst) w.facts.feedsShell(false);
  if (name.dynamic && name.alts.every((a) => a === ANY)) return;
  if (name.glob && !name.dynamic && name.alts.every((a) => !a.includes('\u0002') && !a.includes('\u0003'))) {
    // Brace expansion: `{rm,-rf,/}` is the command `rm -rf /`.
    return executeCommand(w, [...name.raws.map(literalWord), ...rest], ctx);
  }
  for (let i = 0; i < name.alts.length; i++) {
    const alt = name.alts[i] ?? '';
    if (alt.includes(ANY) || alt.includes('\u0002') || alt.includes('\u0003')) continue;
    const split = splitFields(name.raws[i] ?? '');
    if (split.length > 0) executeCommand(w, [...split.map(literalWord), ...rest], ctx);
  }
}

/** Shows a word in an argv fact: literal words as their value (quoted when needed), others as written. */
export function show(word: Word): string {
  const v = literalValue(word);
  if (v === undefined) return word.text;
  if (v !== '' && !Array.from(v).some((c) => c === ' ' || c === '\t' || c === '\n' || c === "'" || c === '"')) return v;
  return `'${v.split("'").join("'\\''")}'`;
}

/** Parses a script word (`bash -c` string, `eval` arguments, `su -c` …) at the next depth. */
export function runScript(w: Walker, script: Word, ctx: Ctx, stdin = ctx.stdin): void {
  if (script.dynamic) {
    // Unseen code (`eval "$x"`) may assign any variable.
    w.allVarsUnknown = true;
    if (script.subst) w.facts.feedsShell(false);
    else w.facts.risk('dynamic_sensitive_arg');
  }
  for (const raw of script.raws) {
    // Dynamic parts are given back to the nested parse as an unknown variable.
    const text = raw.split(ANY).join('${__gatehouse_unknown}');
    w.script(text, ctx.depth + 1, stdin);
  }
}

/** Joins words into one script word (eval, watch, ssh, sudo -s): values joined by spaces. */
function joinWords(words: readonly Word[]): Word {
  if (words.length === 1 && words[0]) return words[0];
  const raws = [words.map((x) => x.raws.length === 1 && !x.dynamic ? x.raws[0] ?? '' : ANY).join(' ')];
  const dynamic = words.some((x) => x.dynamic || x.raws.length !== 1);
  return { text: words.map((x) => x.text).join(' '), alts: raws, raws, dynamic, subst: words.some((x) => x.subst), procSubst: false, glob: false };
}

/** A shell or interpreter reads its program from stdin. */
export function readsStdin(w: Walker, ctx: Ctx, shell: boolean): void {
  const s = ctx.stdin;
  if (s.kind === 'text') {
    w.facts.feedsShell(s.literal);
    if (shell) w.script(s.text, ctx.depth + 1, { kind: 'channel' });
    else w.facts.risk('inline_code');
    return;
  }
  w.facts.feedsShell(false);
}

/** Unwraps one wrapper; returns the words of the command it runs, or undefined when done. */
function unwrap(w: Walker, name: string, rest: readonly Word[], ctx: Ctx): readonly Word[] | undefined {
  const f = w.facts;
  if (SHELLS.has(name)) { f.wrapper(name); shell(w, rest, ctx); return undefined; }
  switch (name) {
    case 'eval': f.wrapper(name); if (rest.length > 0) runScript(w, joinWords(rest), ctx); return undefined;
    case 'source': case '.': {
      f.wrapper(name);
      const file = rest[0];
      if (file) scriptFile(w, file, ctx);
      return undefined;
    }
    case 'trap': {
      // `trap [-lp] [--] action signal…`: the action is code, whatever options come first.
      let i = 0;
      while (i < rest.length && (literalValue(rest[i]!)?.startsWith('-') ?? false)) { const o = literalValue(rest[i]!); i++; if (o === '--') break; }
      const s = rest[i];
      // The action runs later (on the signal, at exit), with the variables' values of then.
      if (s && rest.length > i + 1) w.later(() => { runScript(w, s, ctx); });
      else if (s && s.dynamic) f.risk('inline_code');
      return undefined;
    }
    case 'hash': case 'enable':
      // `hash -p /usr/bin/rm ls`, `enable -f lib.so ls`, `enable -n echo`: a name then runs another program.
      if (rest.length > 0 && !(name === 'hash' && rest.every((r) => { const v = literalValue(r); return v === '-r' || v === '-t' || v === '-l'; }))) f.dynamicCommand = true;
      f.argv.add([name, ...rest.map(show)].join(' '));
      return undefined;
    case 'alias':
      // An alias is text put before the rest of a later command (`alias cat=rm` then `cat -rf /`
      // runs `rm -rf /`): with one defined, no later command name is known.
      if (rest.some((r) => (literalValue(r) ?? '=').includes('='))) f.dynamicCommand = true;
      for (const r of rest) {
        const v = literalValue(r);
        const eq = v?.indexOf('=') ?? -1;
        if (v !== undefined && eq > 0) w.later(() => { w.script(v.slice(eq + 1), ctx.depth + 1); });
        else if (r.dynamic) f.risk('dynamic_sensitive_arg');
      }
      return undefined;
    case 'su': case 'runuser': case 'sg': return su(w, name, rest, ctx);
    case 'ssh': {
      f.wrapper(name);
      const s = scanOptions(rest, { short: 'bcDEeFIiJLlmOopQRSWwB' });
      execOptions(w, rest, ctx);
      const remote = s.operands.slice(1);
      if (remote.length > 0) runScript(w, joinWords(remote), ctx);
      return undefined;
    }
    case 'script': {
      const s = scanOptions(rest, { short: 'cEIOTtm', long: ['command', 'log-in', 'log-out', 'log-timing', 'logging-format', 'echo'], permute: true });
      const c = s.opts.get('c') ?? s.opts.get('command');
      f.wrapper(name);
      if (c && c !== true) runScript(w, c, ctx);
      else f.feedsShell(false);
      return undefined;
    }
    case 'find': f.wrapper(name); find(w, rest, ctx); return undefined;
    case 'parallel': {
      // GNU parallel: `parallel [options] command ::: args` runs the command once per argument.
      f.wrapper(name);
      const sep = rest.findIndex((x) => { const v = literalValue(x); return v === ':::' || v === '::::' || v === ':::+'; });
      const head = sep < 0 ? rest : rest.slice(0, sep);
      const s = scanOptions(head, { short: 'jSaEIdnNlLPs', long: ['jobs', 'sshlogin', 'arg-file', 'eof', 'replace', 'delimiter', 'max-args', 'max-lines', 'max-procs', 'max-chars', 'timeout', 'joblog', 'results', 'tmpdir', 'workdir'] });
      const tail = sep < 0 ? [dynamicWord('{stdin}')] : rest.slice(sep + 1).filter((x) => !(literalValue(x) ?? '').startsWith(':::'));
      if (s.operands.length === 0) { for (const t of tail) runScript(w, t, ctx); return undefined; }
      runScript(w, joinWords([...s.operands, ...tail]), ctx);
      return undefined;
    }
    default: break;
  }
  const spec = WRAPPERS[name];
  if (!spec) {
    // A command that is not itself a script runner (those parse their script above): a literal
    // argument that still holds code is evaluated by builtins and tools again (see embedsCode).
    if (rest.some(embedsCode)) f.risk('inline_code');
    analyse(w, name, rest, ctx);
    return undefined;
  }
  f.wrapper(name);
  if (spec.privileged) f.privileged();
  const s = scanOptions(rest, spec);
  if (spec.assignments) assignmentWords(w, rest.slice(0, rest.indexOf(s.operands[0] as Word) >>> 0), ctx);
  const operands = s.operands.slice(spec.skip ?? 0);
  switch (name) {
    case 'sudo': case 'doas':
      if (s.opts.has('e')) { for (const o of operands) f.written(o, w.cwds); return undefined; }
      if (s.opts.has('s') || s.opts.has('i')) {
        if (operands.length === 0) { readsStdin(w, ctx, true); return undefined; }
        runScript(w, joinWords(operands), ctx);
        return undefined;
      }
      return operands;
    case 'env': {
      const dir = s.opts.get('C') ?? s.opts.get('chdir');
      if (dir && dir !== true) changeDir(w, dir);
      const split = s.opts.get('S') ?? s.opts.get('split-string');
      if (split && split !== true) {
        const v = literalValue(split);
        if (v === undefined) { f.dynamicCommand = true; return undefined; }
        return [...splitFields(v).map(literalWord), ...operands];
      }
      return operands;
    }
    case 'chroot': if (operands.length === 0) readsStdin(w, ctx, true); return operands;
    case 'watch':
      if (s.opts.has('x') || s.opts.has('exec')) return operands;
      if (operands.length > 0) runScript(w, joinWords(operands), ctx);
      return undefined;
    case 'flock': {
      // `flock [options] file -c command`: the -c may follow the file.
      const after = operands[0] ? literalValue(operands[0]) : undefined;
      const c = s.opts.get('c') ?? s.opts.get('command') ?? (after === '-c' || after === '--command' ? operands[1] : undefined);
      if (c && c !== true) { runScript(w, c, ctx); return undefined; }
      return operands;
    }
    case 'xargs': return xargs(s.opts, operands);
    case 'exec': case 'command': case 'builtin':
      if (name === 'command' && (s.opts.has('v') || s.opts.has('V'))) return undefined;
      return operands;
    default: return operands;
  }
}

/** `-o ProxyCommand=…`, `-oLocalCommand=…` (ssh, scp, sftp, rsync -e) run local commands. */
export function execOptions(w: Walker, words: readonly Word[], ctx: Ctx): void {
  for (let i = 0; i < words.length; i++) {
    let v = literalValue(words[i] as Word);
    if (v === '-o' && words[i + 1]) v = literalValue(words[++i] as Word);
    else if (v?.startsWith('-o')) v = v.slice(2);
    if (v === undefined) continue;
    const eq = v.indexOf('=');
    const key = (eq > 0 ? v.slice(0, eq) : v.split(' ')[0] ?? '').toLowerCase();
    if (key === 'proxycommand' || key === 'localcommand' || key === 'knownhostscommand') {
      const value = eq > 0 ? v.slice(eq + 1) : v.slice(key.length + 1);
      runScript(w, literalWord(value), ctx);
    }
  }
}

/** Environment variables whose value some program runs as a command line. */
const COMMAND_VARS = new Set([
  'PROMPT_COMMAND', 'GIT_SSH_COMMAND', 'GIT_SSH', 'GIT_EXTERNAL_DIFF', 'GIT_PAGER', 'GIT_EDITOR', 'GIT_ASKPASS', 'PAGER',
  'MANPAGER', 'EDITOR', 'VISUAL', 'SUDO_EDITOR', 'LESSOPEN', 'LESSCLOSE', 'SSH_ASKPASS', 'SUDO_ASKPASS', 'BROWSER', 'RSYNC_RSH',
  'SYSTEMD_PAGER', 'SYSTEMD_EDITOR', 'PSQL_PAGER', 'PSQL_EDITOR', 'FCEDIT', 'GIT_SEQUENCE_EDITOR', 'KUBE_EDITOR', 'AWS_PAGER',
  'RSYNC_CONNECT_PROG', 'DIFF_PAGER', 'GH_PAGER', 'GH_EDITOR', 'MYSQL_PAGER',
]);
/** Environment variables that make programs load code. */
const CODE_VARS = new Set([
  'LD_PRELOAD', 'LD_AUDIT', 'LD_LIBRARY_PATH', 'BASH_ENV', 'ENV', 'PYTHONSTARTUP', 'PYTHONPATH', 'PERL5OPT', 'PERL5LIB',
  'NODE_OPTIONS', 'RUBYOPT', 'SHELLOPTS', 'PS4',
  // Options or configuration read from the environment that can run a command: `TAR_OPTIONS=
  // '--checkpoint-action=exec=…'`, `MANOPT='-P …'`, `LESS='+!…'`, a git configuration file or
  // repository (`core.fsmonitor`, aliases, hooks), code loaded at start (`LUA_INIT`, `PERL5DB`).
  'TAR_OPTIONS', 'MANOPT', 'LESS', 'LESSKEY', 'LESSKEYIN', 'GIT_CONFIG_GLOBAL', 'GIT_CONFIG_SYSTEM', 'GIT_CONFIG', 'GIT_DIR',
  'GIT_EXEC_PATH', 'GIT_TEMPLATE_DIR', 'LUA_INIT', 'PERL5DB', 'RUBYLIB', 'NODE_PATH', 'PYTHONHOME', 'ZIPOPT', 'PARALLEL',
  'SYSTEMD_LESS', 'WGETRC',
]);

/** An assignment (`NAME=value`, prefix or statement, or an `env`/`sudo` operand) with an effect on what runs. */
export function envAssignment(w: Walker, name: string, value: Word, ctx: Ctx): void {
  if (embedsCode(value)) w.facts.risk('inline_code');
  if (name === 'PATH' && !systemPath(value)) {
    // `ln -s /usr/bin/rm ~/ls; PATH=~:$PATH ls -rf /` runs rm: a directory searched before the
    // system ones may hold any program under any name, so no later command name is known.
    w.facts.dynamicCommand = true;
  }
  if (name === 'IFS' && literalValue(value) !== '') {
    // Word splitting on other characters: `IFS=,; x=rm,-rf,/; $x` runs a command whose name and
    // arguments no literal word shows. Every later unquoted expansion is treated as unknown.
    // An empty IFS (`while IFS= read -r line`) splits nothing and changes no command.
    w.facts.dynamicCommand = true;
  }
  if (COMMAND_VARS.has(name)) {
    const raws = value.raws.map((r) => { let x = r; while (x.startsWith('|')) x = x.slice(1); return x; });
    // Run later, by another program, with the values of then.
    w.later(() => { runScript(w, { ...value, raws, alts: raws }, ctx); });
  } else if (CODE_VARS.has(name) || name.startsWith('BASH_FUNC_') || name === 'GIT_CONFIG_COUNT' || name === 'GIT_CONFIG_PARAMETERS' ||
    name.startsWith('GIT_CONFIG_KEY_') || name.startsWith('GIT_CONFIG_VALUE_')) {
    // GIT_CONFIG_* set any git option, `core.sshCommand` included.

    w.facts.risk('inline_code');
  }
}

/**
 * Whether a PATH value searches only the system bin directories before the inherited `$PATH`
 * (`/usr/local/bin:$PATH`, `$PATH:/opt/tool/bin`, `/usr/bin:/bin`): then every name still
 * runs what the system has under it; anything after `$PATH` only adds names.
 */
function systemPath(value: Word): boolean {
  if (value.alts.length !== 1) return false;
  const raw = value.raws[0] ?? '';
  const parts = raw.split(':');
  const src = value.text.split('"').join('').split(':');
  if (value.dynamic && src.length !== parts.length) return false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] ?? '';
    if (p.includes(ANY)) {
      if (p === ANY && (src[i] === '$PATH' || src[i] === '${PATH}')) return true;
      return false;
    }
    if (!STANDARD_BIN.has(p.endsWith('/') && p.length > 1 ? p.slice(0, -1) : p)) return false;
  }
  return true;
}

/** Checks the `NAME=value` words of env/sudo. */
function assignmentWords(w: Walker, words: readonly Word[], ctx: Ctx): void {
  for (const x of words) {
    const v = literalValue(x);
    if (v === undefined || !isAssignment(v)) continue;
    const eq = v.indexOf('=');
    envAssignment(w, v.slice(0, eq), literalWord(v.slice(eq + 1)), ctx);
  }
}

/** xargs: the command (default `echo`) gets words from stdin, unknown here. */
function xargs(opts: Map<string, Word | true>, operands: readonly Word[]): readonly Word[] {
  const replace = opts.get('I') ?? opts.get('replace');
  const stdinWord = dynamicWord('{stdin}');
  const cmd = operands.length > 0 ? [...operands] : [literalWord('echo')];
  const r = replace && replace !== true ? literalValue(replace) : opts.has('i') ? '{}' : undefined;
  if (r !== undefined && r !== '') {
    return cmd.map((x, i) => (i > 0 && (x.raws.some((raw) => raw.includes(r)) || x.dynamic) ? dynamicWord(x.text, x.alts.map((a) => a.split(r).join(ANY))) : x));
  }
  return [...cmd, stdinWord];
}

/** `bash [options] [-c script | file | (stdin)]`. */
function shell(w: Walker, rest: readonly Word[], ctx: Ctx): void {
  const s = scanOptions(rest, { short: 'oO', long: ['rcfile', 'init-file'] });
  const command = s.opts.get('c') ?? (s.opts.has('command') ? s.opts.get('command') : undefined);
  if (command !== undefined) {
    const script = command === true ? s.operands[0] : command;
    if (script) runScript(w, script, ctx, { kind: 'channel' });
    return;
  }
  const file = s.operands[0];
  if (s.dynamic && file && !isLiteral(file) && !file.procSubst) { w.facts.risk('dynamic_sensitive_arg'); return; }
  if (!file || s.opts.has('s')) { readsStdin(w, ctx, true); return; }
  scriptFile(w, file, ctx);
}

/** A shell runs the script in `file`: stdin and process substitutions are unseen code. */
function scriptFile(w: Walker, file: Word, ctx: Ctx): void {
  const v = literalValue(file);
  if (file.procSubst || file.subst) { w.facts.feedsShell(false); return; }
  if (v === undefined) { w.facts.risk('dynamic_sensitive_arg'); return; }
  if (v === '-' || v === '/dev/stdin' || v.startsWith('/dev/fd/') || v.startsWith('/proc/self/fd/')) { readsStdin(w, ctx, true); return; }
  w.facts.pathArg(file, w.cwds);
  w.facts.ranFile(file, w.cwds);
}

/** `su [-] [user] -c cmd`, `runuser -u user -- cmd`, `sg group -c cmd`: options permute. */
function su(w: Walker, name: string, rest: readonly Word[], ctx: Ctx): undefined {
  w.facts.wrapper(name);
  if (name !== 'sg') w.facts.privileged();
  const s = scanOptions(rest, { short: 'cCsugwG', long: ['command', 'session-command', 'shell', 'user', 'group', 'whitelist-environment', 'supp-group'], permute: true });
  const c = s.opts.get('c') ?? s.opts.get('command') ?? s.opts.get('C') ?? s.opts.get('session-command');
  if (c && c !== true) { runScript(w, c, ctx); return undefined; }
  if (name === 'runuser' && s.opts.has('u')) {
    const at = firstOperandIndex(rest, { short: 'cCsugwG' });
    const cmd = rest.slice(at);
    if (cmd.length > 0) { executeCommand(w, cmd, ctx); return undefined; }
  }
  if (name === 'sg' && s.operands.length > 1) { runScript(w, joinWords(s.operands.slice(1)), ctx); return undefined; }
  readsStdin(w, ctx, true);
  return undefined;
}

/** Roots under which `find … -name x -delete` is routine cleanup. */
const FIND_CLEANUP_ROOTS = new Set(['/tmp', '/var/tmp', '/var/log', '/var/cache']);

/** `find roots… expression`: `-exec/-execdir/-ok/-okdir cmd … ;|+` and `-delete`. */
function find(w: Walker, rest: readonly Word[], ctx: Ctx): void {
  const f = w.facts;
  const roots: Word[] = [];
  let i = 0;
  while (i < rest.length) {
    const v = literalValue(rest[i] as Word);
    if (v !== undefined && (v.startsWith('-') || v === '(' || v === '!')) break;
    roots.push(rest[i] as Word);
    i++;
  }
  if (roots.length === 0) roots.push(literalWord('.'));
  for (const r of roots) f.pathArg(r, w.cwds);
  let filtered = false;
  const rootPattern = (star: string): Word =>
    dynamicWord('{}', roots.flatMap((r) => r.alts.map((a) => `${a === '/' ? '' : a}/${star}`)));
  for (; i < rest.length; i++) {
    const v = literalValue(rest[i] as Word);
    if (v === '-name' || v === '-iname' || v === '-path' || v === '-ipath' || v === '-regex' || v === '-newer' ||
      v === '-mtime' || v === '-mmin' || v === '-size' || v === '-user' || v === '-perm' || v === '-inum' || v === '-type') filtered = true;
    if (v === '-name' || v === '-iname' || v === '-path' || v === '-ipath' || v === '-wholename' || v === '-iwholename' || v === '-regex' || v === '-iregex' || v === '-lname') {
      // Searching for credential files (`find ~ -name id_rsa | xargs cat`): what is done with them is not seen here.
      const pat = rest[i + 1] ? literalValue(rest[i + 1] as Word) : undefined;
      if (pat === undefined || credentialNamePattern(pat)) f.risk('dynamic_sensitive_arg');
    }
    if (v === '-delete') {
      for (const r of roots) {
        if (!filtered) { f.recursiveDelete(r, w.cwds); continue; }
        // Filters do not make a delete under a system root safe (`find / -name '*' -delete`): review.
        f.pathArg(r, w.cwds);
        // Nor under a data tree (`find /var/lib/redis -type f -delete`).
        f.deleted(r, w.cwds);
        for (const alt of r.alts) {
          const p = alt.startsWith('/') || alt.startsWith('~') ? alt : undefined;
          if (p === undefined) continue;
          // Under a system root (`/usr/…`), or at the root of a tree that is itself protected (`~`, `/`),
          // except the scratch and log roots where filtered cleanups are routine.
          const base = p.endsWith('/') ? p.slice(0, -1) : p;
          if (systemVerdict(`${base}/x`) !== 'no' || (systemVerdict(p) !== 'no' && !FIND_CLEANUP_ROOTS.has(base))) f.risk('dynamic_sensitive_arg');
        }
      }
    }
    if (v === '-fprint' || v === '-fprintf' || v === '-fprint0' || v === '-fls') { const t = rest[i + 1]; if (t) f.written(t, w.cwds); }
    if (v === '-exec' || v === '-execdir' || v === '-ok' || v === '-okdir') {
      const cmd: Word[] = [];
      let j = i + 1;
      for (; j < rest.length; j++) {
        const x = rest[j] as Word;
        const xv = literalValue(x);
        if (xv === ';' || (xv === '+' && cmd.length > 0)) break;
        cmd.push(xv !== undefined && xv.includes('{}') ? rootPattern(filtered ? ANY : '\u0002') : x);
      }
      executeCommand(w, cmd, ctx);
      i = j;
    } else if (v === undefined) {
      f.pathArg(rest[i] as Word, w.cwds);
    }
  }
  f.argv.add(['find', ...rest.map(show)].join(' '));
}

/** Splits on blanks (space, tab, newline) like unquoted field splitting with the default IFS. */
export function splitFields(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const c of s) {
    if (c === ' ' || c === '\t' || c === '\n') { if (cur !== '') out.push(cur); cur = ''; } else cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}
