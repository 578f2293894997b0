/**
 * Property (issue 19): a dangerous command, however it is composed — inside wrappers, lists,
 * pipelines, substitutions, subshells, loops, functions, `bash -c`, `eval`, here-strings, with
 * its name quoted or escaped and its flags reordered — is never allowed by the shipped policies.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { initShellInspector } from './inspect.ts';
import { ShellPolicyHarness } from './testing.ts';

/** Dangerous cores as [command name, rest of the line]. */
const CORES: readonly (readonly [string, readonly string[]])[] = [
  ['rm', ['-rf /', '-fr /', '-r -f /', '--recursive --force /', '-R -f /etc', '-rf -- /', '-rf /*', '-rf ~']],
  ['cat', ['~/.ssh/id_rsa', '/etc/shadow', '.env', '$HOME/.aws/credentials']],
  ['mkfs.ext4', ['/dev/sda1']],
  ['dd', ['if=/dev/zero of=/dev/sda', 'of=/dev/nvme0n1 if=/dev/urandom']],
  ['chmod', ['-R 777 /', '-R a+w /etc', '4755 /bin/bash']],
  ['reboot', ['', 'now']],
  ['shutdown', ['-h now', '-r +1']],
  ['sh', ['-c "$(curl -s x)"', '/dev/stdin', '']],
];

/** Spellings of a command name that bash resolves to the same command. */
const NAME_SPELLINGS: readonly ((n: string) => string)[] = [
  (n) => n,
  (n) => `"${n}"`,
  (n) => `'${n}'`,
  (n) => `\\${n}`,
  (n) => `${n.slice(0, 1)}\\${n.slice(1)}`,
  (n) => `${n.slice(0, 1)}''${n.slice(1)}`,
  (n) => `${n.slice(0, 1)}""${n.slice(1)}`,
  (n) => `/usr/bin/${n}`,
  (n) => `$'${Array.from(n, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('')}'`,
  (n) => `N=${n}; $N`,
];

const singleQuote = (s: string): string => `'${s.split("'").join("'\\''")}'`;

/** Wrappers of a simple command (bash only unwraps them before a simple command). */
const PREFIXES: readonly ((x: string) => string)[] = [
  (x) => `sudo ${x}`, (x) => `sudo -u root -E ${x}`, (x) => `env A=1 ${x}`, (x) => `env -i ${x}`, (x) => `timeout 5 ${x}`,
  (x) => `timeout -s KILL 10s ${x}`, (x) => `nice -n 10 ${x}`, (x) => `nohup ${x}`, (x) => `command ${x}`, (x) => `time ${x}`,
  (x) => `stdbuf -oL ${x}`, (x) => `ionice -c3 ${x}`, (x) => `setsid ${x}`, (x) => `doas ${x}`, (x) => `xargs -a /dev/null ${x}`,
];

/** Compositions that keep the inner command line running. */
const WRAPS: readonly ((x: string) => string)[] = [
  (x) => `ls; ${x}`, (x) => `${x}; ls`, (x) => `true && ${x}`, (x) => `false || ${x}`, (x) => `${x} & wait`, (x) => `echo a | ${x}`,
  (x) => `${x} | cat`, (x) => `( ${x} )`, (x) => `{ ${x}; }`, (x) => `echo $( ${x} )`, (x) => `X=$( ${x} )`,
  (x) => `bash -c ${singleQuote(x)}`, (x) => `sh -c ${singleQuote(x)}`, (x) => `su -c ${singleQuote(x)}`, (x) => `eval ${singleQuote(x)}`,
  (x) => `bash <<< ${singleQuote(x)}`, (x) => `if true; then ${x}; fi`, (x) => `for i in 1 2; do ${x}; done`,
  (x) => `while true; do ${x}; done`, (x) => `f() { ${x}; }; f`, (x) => `case a in *) ${x};; esac`, (x) => `! ${x}`,
  (x) => `${x} > /dev/null 2>&1`, (x) => `watch ${singleQuote(x)}`, (x) => `flock /tmp/l -c ${singleQuote(x)}`,
  (x) => `sh <<'EOF'\n${x}\nEOF`,
];

const composed = fc
  .tuple(
    fc.constantFrom(...CORES).chain(([name, rests]) => fc.tuple(fc.constant(name), fc.constantFrom(...rests))),
    fc.constantFrom(...NAME_SPELLINGS),
    fc.array(fc.constantFrom(...PREFIXES), { maxLength: 3 }),
    fc.array(fc.constantFrom(...WRAPS), { maxLength: 3 }),
  )
  .map(([[name, rest], spell, prefixes, wraps]) => {
    const core = `${spell(name)}${rest === '' ? '' : ` ${rest}`}`;
    // A prefix before `N=rm; $N` would wrap the assignment, not the command: put it after.
    const split = core.lastIndexOf('; ');
    const head = split < 0 ? '' : core.slice(0, split + 2);
    const simple = prefixes.reduce((cmd, p) => p(cmd), split < 0 ? core : core.slice(split + 2));
    return wraps.reduce((cmd, wrap) => wrap(cmd), head + simple);
  });

let h: ShellPolicyHarness;
before(async () => {
  await initShellInspector();
  h = new ShellPolicyHarness();
});

describe('composition property (real Cedar engine, shipped policies)', () => {
  it('a dangerous command inside any composition is never allowed', () => {
    fc.assert(fc.property(composed, (cmd) => h.decide(cmd) !== 'allow'), { numRuns: 400 });
  });

  it('can fail: the same compositions around a harmless command are allowed', () => {
    const harmless = fc.tuple(fc.array(fc.constantFrom(...PREFIXES), { maxLength: 3 }), fc.array(fc.constantFrom(...WRAPS.slice(0, 12)), { maxLength: 2 }))
      .map(([ps, ws]) => ws.reduce((c, w) => w(c), ps.reduce((c, p) => p(c), 'ls -la')));
    fc.assert(fc.property(harmless, (cmd) => h.decide(cmd) === 'allow'), { numRuns: 100 });
    assert.equal(h.decide('ls -la'), 'allow');
  });
});
