/**
 * Differential property (red team round 4): what the inspector decides against what real bash
 * runs. Every external command bash would start is a stub on an otherwise empty PATH that logs
 * its argv and does nothing else; a line the shipped policies allow must not make bash start
 * `rm -rf /`, and a line the allow-list example allows must start only listed commands. Bash is
 * started only for lines the policies allow (few, once fixed), to keep CPU use modest.
 *
 * The classes generated are ways a variable's value, as bash sees it when a command runs, can
 * differ from the literal the inspector substituted: field splitting and removal of an unquoted
 * expansion (`x=; $x rm -rf /`, `x='rm -rf /'; $x`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { initShellInspector } from './inspect.ts';
import { ShellPolicyHarness } from './testing.ts';

const ALLOW_LIST = ['ls', 'cat', 'head', 'tail', 'grep', 'wc', 'df', 'du', 'free', 'uptime', 'ps', 'journalctl'];
const STUBS = [...ALLOW_LIST, 'rm', 'RM', 'chmod', 'reboot', 'touch'];

let shipped: ShellPolicyHarness;
let allowList: ShellPolicyHarness;
let dir: string;

before(async () => {
  await initShellInspector();
  shipped = new ShellPolicyHarness();
  allowList = new ShellPolicyHarness(['examples/policies/ssh-command-allow-list.cedar']);
  dir = mkdtempSync(join(tmpdir(), 'gh-bashdiff-'));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'home'));
  for (const s of STUBS) {
    const p = join(dir, 'bin', s);
    // The stub's own name, not $0: a link to it under another name (`ln -s …/rm b/ls`) still logs rm.
    writeFileSync(p, `#!/bin/sh\nprintf '%s\\n' "${s} $*" >> "$GH_LOG"\n`);
    chmodSync(p, 0o755);
  }
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

/** The external commands (name and arguments) real bash starts for `line`, stubs only. */
function bashRuns(line: string): string[] {
  const log = join(dir, 'log');
  writeFileSync(log, '');
  spawnSync('/bin/bash', ['--noprofile', '--norc', '-c', line], {
    cwd: join(dir, 'home'), env: { PATH: join(dir, 'bin'), HOME: join(dir, 'home'), GH_LOG: log },
    stdio: ['pipe', 'ignore', 'ignore'], input: 'rm\n', timeout: 5_000,
  });
  return readFileSync(log, 'utf8').split('\n').filter((l) => l !== '');
}

/** Fails when a line the policies allow makes bash run something they would not have allowed. */
function check(line: string): boolean {
  const s = shipped.decide(line);
  const a = allowList.decide(line);
  if (s !== 'allow' && a !== 'allow') return true;
  const ran = bashRuns(line);
  if (s === 'allow') assert.ok(!ran.some((r) => r.startsWith('rm ') && r.includes('-rf') && r.endsWith(' /')), `allowed, bash ran ${JSON.stringify(ran)}: ${line}`);
  if (a === 'allow') assert.ok(ran.every((r) => ALLOW_LIST.includes(r.split(' ')[0] ?? '')), `allow-list allowed, bash ran ${JSON.stringify(ran)}: ${line}`);
  return true;
}

/** Compositions that keep the inner line running in the same shell (or a copy of it). */
const WRAPS: readonly ((x: string) => string)[] = [
  (x) => x, (x) => `ls; ${x}`, (x) => `( ${x} )`, (x) => `{ ${x}; }`, (x) => `if true; then ${x}; fi`, (x) => `true && ${x}`,
  (x) => `echo $( ${x} )`, (x) => `case a in *) ${x};; esac`,
];

describe('bash differential: the oracle', () => {
  it('sees what bash runs', () => {
    assert.deepEqual(bashRuns('ls -l; x=rm; $x -rf /'), ['ls -l', 'rm -rf /']);
  });
});

describe('bash differential: unquoted expansions are split into fields and an empty one removed', () => {
  // [value assigned to x, a use of $x that makes bash run `rm -rf /` with that value]
  const SPLITS: readonly (readonly [string, string])[] = [
    ['', '$x rm -rf /'], ["''", '$x rm -rf /'], ['""', '$x rm -rf /'], ["''", 'command $x rm -rf /'], ["''", '$x $x rm -rf /'],
    ["'rm -rf /'", '$x'], ["'rm -rf'", '$x /'], ["$'rm\\t-rf'", '$x /'], ["$'rm\\n-rf /'", '$x'], ['"rm -rf /"', 'command $x'],
    ["'-rf /'", 'rm $x'], ["' '", 'rm$x-rf$x/'], ["'rm -rf /'", 'eval $x'], ["'rm -rf /'", 'time $x'],
  ];
  it('a value bash splits or removes is never resolved to one literal word (shipped policies and allow-list)', () => {
    const line = fc.tuple(fc.constantFrom(...SPLITS), fc.constantFrom(...WRAPS), fc.boolean())
      .map(([[value, use], wrap, prefix]) => `${prefix ? 'ls; ' : ''}x=${value}; ${wrap(use)}`);
    fc.assert(fc.property(line, check), { numRuns: 100 });
  });
  it('a plain value still resolves (no false alarm on ordinary scripts)', () => {
    assert.equal(shipped.decide('d=/var/log/app; ls $d'), 'allow');
    assert.equal(shipped.decide('x=rm; $x -rf /'), 'deny');
    assert.equal(shipped.decide('x="a b"; echo "$x"'), 'allow');
  });
});

describe('bash differential: a variable changed otherwise than by an assignment seen in order', () => {
  // Lines where x starts as `ls` and bash, when `$x -rf /` runs, has x = rm: through a builtin
  // that assigns a named variable, an assigning expansion, an array element, a nameref or case
  // attribute, a later assignment reaching an earlier use (loops, function bodies, traps).
  const U = '$x -rf /';
  const CHANGES: readonly ((use: string) => string)[] = [
    (u) => `read x <<< rm; ${u}`, (u) => `read -r x < <(echo rm); ${u}`, (u) => `printf -v x rm; ${u}`, (u) => `printf -v x %s rm; ${u}`,
    (u) => `mapfile -t x <<< rm; ${u}`, (u) => `readarray -t x <<< rm; ${u}`, (u) => `command read x <<< rm; ${u}`,
    (u) => `x[0]=rm; ${u}`, (u) => `declare -n r=x; r=rm; ${u}`, (u) => `declare -l x; x=RM; ${u}`, (u) => `typeset -l x; x=RM; ${u}`,
    (u) => `x=; : \${x:=rm}; ${u}`, (u) => `unset x; : \${x=rm}; ${u}`, (u) => `. /dev/stdin <<< x=rm; ${u}`, (u) => `n=x; read $n <<< rm; ${u}`,
    (u) => `while read x; do ${u}; done <<< rm`, (u) => `f() { ${u}; }; x=rm; f`, (u) => `trap '${u}' EXIT; x=rm`,
    (u) => `for i in 1 2; do ${u}; x=rm; done`, (u) => `for i in 1 2 3; do ${u}; x=$y; y=rm; done`,
    (u) => `i=0; while [ $i -lt 2 ]; do ${u}; x=rm; i=$((i+1)); done`, (u) => `f() { x=rm; }; f; ${u}`,
  ];
  it('the inspector never substitutes a value bash no longer has (shipped policies and allow-list)', () => {
    const line = fc.tuple(fc.constantFrom(...CHANGES), fc.constantFrom(...WRAPS), fc.constantFrom('x=ls; ', 'x=ls; ls; ', 'REPLY=ls; x=ls; '))
      .map(([change, wrap, start]) => `${start}${change(wrap(U))}`);
    fc.assert(fc.property(line, check), { numRuns: 200 });
  });
  it('bash itself sets REPLY, OPTARG, PWD …: never substituted', () => {
    assert.ok(check('REPLY=ls; read <<< rm; $REPLY -rf /'));
    assert.notEqual(shipped.decide('REPLY=ls; read <<< rm; $REPLY -rf /'), 'allow');
  });
  it('ordinary scripts keep their substitutions', () => {
    assert.equal(shipped.decide('d=/var/log/app; for f in a b; do ls $d/$f; done'), 'allow');
    assert.equal(shipped.decide('x=rm; for i in 1 2; do $x -rf /; done'), 'deny');
    assert.equal(shipped.decide('while read -r line; do echo "$line"; done < /etc/hosts'), 'allow');
  });
});

describe('bash differential: which program a command name runs', () => {
  // `ls` or `cat` written, bash runs the `rm` stub: the hash table, aliases, PATH, builtins.
  const RM = (): string => join(dir, 'bin', 'rm');
  const CHANGES: readonly ((rm: string) => string)[] = [
    (rm) => `BASH_CMDS[ls]=${rm}; ls -rf /`, (rm) => `BASH_CMDS=([ls]=${rm}); ls -rf /`, (rm) => `hash -p ${rm} ls; ls -rf /`,
    () => "shopt -s expand_aliases\nBASH_ALIASES[ls]='rm -rf /'\nls", () => 'shopt -s expand_aliases; alias cat=rm\ncat -rf /',
    () => "shopt -s expand_aliases\nalias ls='rm -rf'\nls /", () => 'shopt -s expand_aliases; alias ls=rm; eval "ls -rf /"',
    (rm) => `/usr/bin/mkdir -p b; /usr/bin/ln -sf ${rm} b/cat; PATH=b:$PATH cat -rf /`, (rm) => `/usr/bin/mkdir -p b; /usr/bin/ln -sf ${rm} b/ls; PATH=~/b:$PATH; ls -rf /`,
    (rm) => `/usr/bin/mkdir -p b; /usr/bin/ln -sf ${rm} b/ls; export PATH=$HOME/b:$PATH; ls -rf /`, (rm) => `/usr/bin/mkdir -p b; /usr/bin/ln -sf ${rm} b/ls; declare -x PATH=b; ls -rf /`,
  ];
  it('a line that changes what a name runs leaves no command name known (shipped policies and allow-list)', () => {
    const line = fc.tuple(fc.constantFrom(...CHANGES), fc.boolean()).map(([change, prefix]) => `${prefix ? 'ls; ' : ''}${change(RM())}`);
    for (const change of CHANGES) check(change(RM()));
    fc.assert(fc.property(line, check), { numRuns: 30 });
  });
  it('a PATH that only puts system directories first, or adds after $PATH, keeps names known', () => {
    assert.equal(shipped.decide('export PATH=$PATH:/opt/bin; which node'), 'allow');
    assert.equal(shipped.decide('PATH=/usr/local/bin:/usr/bin:/bin ls'), 'allow');
    assert.equal(shipped.decide('PATH="/usr/local/bin:$PATH" make -j4'), 'allow');
    assert.equal(shipped.decide('PATH=~/bin:$PATH ls'), 'review');
    assert.equal(shipped.decide('hash -r; ls'), 'allow');
  });
});

describe('bash differential: options and commands a program reads from its environment', () => {
  it('TAR_OPTIONS with a checkpoint action, a pager variable … is not a plain tar or systemctl', () => {
    for (const line of [
      "TAR_OPTIONS='--checkpoint=1 --checkpoint-action=exec=rm\\ -rf\\ /' /usr/bin/tar -cf /dev/null /etc/hostname",
      "export TAR_OPTIONS='--checkpoint=1 --checkpoint-action=exec=rm\\ -rf\\ /'; /usr/bin/tar -cf /dev/null /etc/hostname",
      "env TAR_OPTIONS='--checkpoint=1 --checkpoint-action=exec=rm\\ -rf\\ /' /usr/bin/tar -cf /dev/null /etc/hostname",
    ]) check(line);
    assert.notEqual(shipped.decide("SYSTEMD_PAGER='rm -rf /' systemctl status"), 'allow');
    assert.notEqual(shipped.decide('MANOPT="-P /tmp/x" man ls'), 'allow');
    assert.equal(shipped.decide('tar -czf /tmp/backup.tgz ./site'), 'allow');
  });
});
