/**
 * Per-command analysers for the command that really runs (wrappers already removed): deletes,
 * permission changes, disk tools, power, writes, network fetchers, interpreters with inline
 * code, `cd`. Every argument also goes through the generic path and credential checks.
 */
import { execOptions, readsStdin, runScript, show } from './commands.ts';
import { scanOptions } from './options.ts';
import { ANY, resolvePath, systemVerdict } from './paths.ts';
import type { Ctx, Walker } from './walk.ts';
import { literalValue, literalWord, type Word } from './words.ts';

const DISK_TOOLS = new Set([
  'mke2fs', 'mkswap', 'wipefs', 'fdisk', 'sfdisk', 'cfdisk', 'gdisk', 'sgdisk', 'parted', 'blkdiscard', 'mkdosfs',
  'mkntfs', 'pvcreate', 'pvremove', 'vgremove', 'lvremove', 'flashrom', 'badblocks', 'dmsetup', 'mdadm',
]);
/** Commands that read only a device's metadata, not its contents (a raw read is held for review). */
const DEVICE_INFO = new Set(['lsblk', 'blkid', 'smartctl', 'udevadm', 'stat', 'file', 'ls', 'df', 'blockdev', 'mount', 'umount', 'findmnt', 'fdisk', 'sfdisk', 'parted', 'hdparm', 'nvme', 'lsof', 'fuser']);
/** Commands that change accounts, firewall, kernel modules or mounts: held for review. */
const SYSTEM_CHANGERS = new Set([
  'useradd', 'usermod', 'userdel', 'adduser', 'deluser', 'groupadd', 'groupmod', 'groupdel', 'passwd', 'chpasswd', 'visudo',
  'iptables', 'ip6tables', 'nft', 'ufw', 'firewall-cmd', 'insmod', 'rmmod', 'modprobe', 'mount', 'umount', 'swapoff',
  'sysctl', 'update-alternatives', 'ldconfig',
]);
const POWER = new Set(['shutdown', 'reboot', 'halt', 'poweroff', 'kexec', 'killall5']);
const SYSTEMCTL_POWER = new Set(['poweroff', 'reboot', 'halt', 'kexec', 'emergency', 'rescue', 'suspend', 'hibernate', 'hybrid-sleep', 'soft-reboot', 'isolate', 'suspend-then-hibernate']);
const FETCHERS = new Set(['curl', 'wget', 'fetch', 'aria2c', 'nc', 'ncat', 'netcat', 'socat', 'ftp', 'tftp', 'lftp', 'http', 'https', 'scp', 'sftp', 'rsync', 'git']);
/** Interpreters and the short options that carry inline code. */
const INTERPRETERS: Readonly<Record<string, { code: string; long?: readonly string[]; withArg?: string }>> = {
  python: { code: 'c', withArg: 'mWXQ' }, perl: { code: 'eE', withArg: 'IlMmx' }, ruby: { code: 'e', withArg: 'IrEC' },
  node: { code: 'ep', long: ['eval', 'print'], withArg: 'r' }, nodejs: { code: 'ep', long: ['eval', 'print'], withArg: 'r' },
  php: { code: 'rBRFE', withArg: 'cdz' }, lua: { code: 'e', withArg: 'l' }, rscript: { code: 'e' }, osascript: { code: 'e' },
  pwsh: { code: 'cC', long: ['command', 'c', 'encodedcommand', 'ec'] }, powershell: { code: 'cC', long: ['command', 'encodedcommand'] },
  bun: { code: 'ep', long: ['eval', 'print'] }, deno: { code: '', long: [] }, tclsh: { code: '' }, jshell: { code: '' },
  julia: { code: 'eE', long: ['eval', 'print'] }, r: { code: 'e' }, expect: { code: 'c' },
  awk: { code: '', withArg: 'fvF' }, gawk: { code: '', withArg: 'fvF' }, mawk: { code: '', withArg: 'fvF' }, nawk: { code: '', withArg: 'fvF' },
};

const LOGINCTL_POWER = new Set(['reboot', 'poweroff', 'halt', 'kexec', 'suspend', 'hibernate', 'hybrid-sleep', 'suspend-then-hibernate', 'terminate-session', 'terminate-user', 'kill-session', 'kill-user', 'lock-sessions']);
/** D-Bus methods (login1, systemd1) that power off, reboot or isolate. */
const POWER_METHODS = ['Reboot', 'PowerOff', 'Halt', 'KExec', 'Suspend', 'Hibernate', 'Isolate', 'StartUnit', 'TerminateUser', 'KillUser', 'KillUnit', 'StopUnit'];
const POWER_TARGETS = ['reboot.target', 'poweroff.target', 'halt.target', 'kexec.target', 'rescue.target', 'emergency.target', 'soft-reboot.target', 'ctrl-alt-del.target', 'suspend', 'hibernate', 'systemd-reboot', 'systemd-poweroff', 'systemd-halt', 'systemd-kexec'];

/**
 * Programs with a command escape (editor `:!`, pager `!`, debugger `!`, SQL client `\!`/`.shell`,
 * Lisp `--eval`, container runs with the host filesystem, `kubectl exec`): the use that can run a
 * command is inline code (review). Exact modelling of each escape language is not attempted.
 */
function escapes(name: string, args: readonly Word[]): boolean {
  const vals = args.map((a) => literalValue(a));
  const has = (...opts: string[]): boolean => vals.some((v) => v === undefined || opts.some((o) => v === o || v.startsWith(`${o}=`)));
  const someArg = (p: (v: string) => boolean): boolean => vals.some((v) => v === undefined || p(v));
  switch (name) {
    case 'vi': case 'vim': case 'nvim': case 'view': case 'vimdiff': case 'gvim': case 'rvim':
      return has('-c', '--cmd', '-S', '-s', '-es', '-Es', '-e', '-E') || someArg((v) => v.startsWith('+') && v.length > 1 && !/^\+[0-9]+$/.test(v));
    // ed/ex read commands (`!cmd`) from stdin or a script: always a possible escape.
    case 'ex': case 'ed': case 'red': return true;
    case 'emacs': case 'emacsclient': case 'xemacs':
      return has('--eval', '-eval', '--batch', '-batch', '-l', '--load', '-f', '--funcall', '-x', '--script', '-e');
    case 'less': case 'more': case 'most':
      return someArg((v) => v.includes('!'));
    case 'man': return has('-P', '--pager', '-H', '--html') || someArg((v) => v.startsWith('-P') && v.length > 2);
    case 'gdb': case 'lldb': case 'cgdb': return has('-ex', '--ex', '-eval-command', '--eval-command', '-x', '--command', '-iex', '-ix', '-o', '--one-line', '-s', '--source');
    case 'mysql': case 'mariadb': case 'psql': case 'sqlite3': case 'duckdb': case 'redis-cli':
      return someArg((v) => v.includes('\\!') || v.includes('.shell') || v.includes('.system') || v.includes('\\o |') || v.includes('.output |') || v.includes('.once |') || v.toLowerCase().includes('copy ') && v.toLowerCase().includes('program'));
    case 'zip': return has('-TT', '--unzip-command') || someArg((v) => v.startsWith('-TT'));
    case 'docker': case 'podman': case 'nerdctl': {
      const verb = vals.find((v) => v === undefined || !v.startsWith('-'));
      if (verb === 'exec' || verb === undefined) return true;
      if (verb !== 'run' && verb !== 'create' && verb !== 'container') return false;
      // Host namespaces, privileges, devices, or a host system path (or the Docker socket) mounted in.
      const hostMount = (spec: string | undefined): boolean => {
        if (spec === undefined) return true;
        const src = spec.includes('source=') || spec.includes('src=') ? (spec.split(',').find((x) => x.startsWith('source=') || x.startsWith('src='))?.split('=')[1] ?? '') : spec.split(':')[0] ?? '';
        const root = `/${src.split('/').filter((x) => x !== '' && x !== '.')[0] ?? ''}`;
        return src.startsWith('/') && (HOST_ROOTS.has(root) || src.includes('docker.sock') || src.includes('.ssh') || src.includes('..'));
      };
      return has('--privileged', '--pid=host', '--net=host', '--network=host', '--ipc=host', '--uts=host', '--userns=host', '--cap-add', '--security-opt', '--device') ||
        vals.some((v, i) => v === undefined || ((v === '--pid' || v === '--net' || v === '--network' || v === '--ipc') && vals[i + 1] === 'host') ||
          ((v === '-v' || v === '--volume' || v === '--mount') ? hostMount(vals[i + 1]) :
            v.startsWith('-v') && v.length > 2 ? hostMount(v.slice(2)) : v.startsWith('--volume=') || v.startsWith('--mount=') ? hostMount(v.slice(v.indexOf('=') + 1)) : false));
    }
    case 'kubectl': case 'oc': {
      const verb = vals.find((v) => v === undefined || !v.startsWith('-'));
      return verb === undefined || verb === 'exec' || verb === 'attach' || verb === 'debug' || verb === 'run' || verb === 'cp' || verb === 'port-forward';
    }
    default: return false;
  }
}

/**
 * Programs with a command escape that read their commands from standard input — on an exec that
 * is whatever the client sends (`echo ':!rm -rf /' | ssh gw vim notes.txt`; vim reads keystrokes
 * from a pipe too), or a pipe/heredoc the inspector cannot read as that program's language — unless
 * an option gives them their commands instead. Held for review (inline code).
 */
function readsCommandsFromStdin(name: string, args: readonly Word[]): boolean {
  const vals = args.map((a) => literalValue(a));
  const has = (...opts: string[]): boolean => vals.some((v) => v !== undefined && opts.some((o) => v === o || v.startsWith(`${o}=`) || (o.length === 2 && !o.startsWith('--') && v.startsWith(o))));
  switch (name) {
    case 'vi': case 'vim': case 'nvim': case 'view': case 'vimdiff': case 'rvim': case 'rview': case 'vim.basic': case 'vim.tiny': case 'gvim':
      return !has('--version', '--help', '-h');
    case 'ftp': case 'lftp': case 'tftp': case 'mail': case 'mailx': case 'Mail': case 'dc': case 'ed': case 'ex': case 'red':
    case 'telnet': case 'irb': case 'ghci': case 'rlwrap':
      return true;
    case 'psql': return !has('-c', '--command', '-f', '--file', '-l', '--list', '-V', '--version');
    case 'mysql': case 'mariadb': return !has('-e', '--execute', '-V', '--version');
    case 'sqlite3': case 'duckdb': return !has('-c', '-cmd', '-version', '--version') && vals.filter((v) => v === undefined || !v.startsWith('-')).length < 2;
    case 'gdb': case 'lldb': case 'cgdb': return !has('-batch', '--batch', '-version', '--version');
    default: return false;
  }
}

/** Host directories that, mounted into a container, give it the host (`-v /:/host`, `-v /etc:/x`). */
const HOST_ROOTS = new Set(['/', '/etc', '/root', '/home', '/run', '/var', '/proc', '/sys', '/dev', '/boot', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/opt']);

/** Commands that print credentials: `aws configure export-credentials`, `gcloud auth print-access-token` … */
function printsCredentials(name: string, args: readonly Word[]): boolean {
  const vals = args.map((a) => literalValue(a) ?? '');
  const line = vals.join(' ');
  switch (name) {
    case 'aws': return line.includes('export-credentials') || line.includes('get-session-token') || line.includes('get-secret-value') || (line.includes('configure get') && line.includes('secret'));
    case 'gcloud': return line.includes('print-access-token') || line.includes('print-identity-token') || line.includes('application-default print');
    case 'kubectl': case 'oc': {
      const secretOut = (line.startsWith('get secret') || line.includes(' get secret')) && vals.some((v) => v === '-o' || v.startsWith('-o') || v.startsWith('--output'));
      return (line.includes('config view') && (vals.includes('--raw') || vals.includes('--flatten'))) || secretOut || line.includes('whoami --show-token');
    }
    case 'git': return vals.includes('credential') || vals.includes('credential-store') || vals.includes('credential-cache');
    case 'az': return line.includes('get-access-token');
    case 'gh': return line.includes('auth token');
    case 'vault': return vals.includes('read') || line.includes('kv get');
    case 'security': return vals.includes('find-generic-password') || vals.includes('find-internet-password') || vals.includes('dump-keychain');
    default: return false;
  }
}

/** `python3.11` → `python`, `perl5.36` → `perl`. */
function interpreterKey(name: string): string {
  const lower = name.toLowerCase();
  for (const base of ['python', 'perl', 'ruby', 'php', 'lua']) {
    if (lower.startsWith(base) && Array.from(lower.slice(base.length)).every((c) => (c >= '0' && c <= '9') || c === '.')) return base;
  }
  return lower;
}

/** Analyses command `name` (already recorded) with its argument words. */
export function analyse(w: Walker, name: string, args: readonly Word[], ctx: Ctx): void {
  const f = w.facts;
  f.argv.add([name, ...args.map(show)].join(' '));
  for (const a of args) f.pathArg(a, w.cwds, !DEVICE_INFO.has(name));
  if (FETCHERS.has(name)) f.fetched = true;
  const interp = INTERPRETERS[interpreterKey(name)];
  if (interp) return interpreter(w, interpreterKey(name), interp, args, ctx);
  if (name.startsWith('mkfs') || DISK_TOOLS.has(name)) return disk(w, name, args);
  if (POWER.has(name)) { f.risk('power'); return; }
  if (escapes(name, args) || runsCommands(name, args) || readsCommandsFromStdin(name, args)) f.risk('inline_code');
  if (printsCredentials(name, args)) f.risk('credential_access');
  switch (name) {
    case 'loginctl': {
      const v = args.map((a) => literalValue(a)).find((x) => x === undefined || !x.startsWith('-'));
      if (v === undefined || LOGINCTL_POWER.has(v)) f.risk('power');
      return;
    }
    case 'busctl': case 'dbus-send': case 'gdbus': case 'qdbus':
      if (args.some((a) => { const v = literalValue(a); return v === undefined || POWER_METHODS.some((m) => v.includes(m)); })) f.risk('power');
      return;
    case 'rm': case 'srm': case 'unlink': case 'rmdir': case 'shred': case 'wipe': return remove(w, name, args);
    case 'rsync': return rsync(w, args, ctx);
    case 'mv': case 'tee': case 'truncate': return writesAll(w, args, name === 'truncate' ? 'sr' : 'a');
    case 'cp': case 'ln': case 'install': return writesLast(w, args);
    case 'dd': return dd(w, args);
    case 'sed': return sed(w, args);
    case 'curl': case 'wget': return download(w, name, args);
    case 'chmod': case 'chown': case 'chgrp': case 'chattr': case 'setfacl': return permissions(w, name, args);
    case 'init': case 'telinit': {
      const lvl = literalValue(args[0] ?? { text: '', alts: [], raws: [], dynamic: true, subst: false, procSubst: false, glob: false });
      if (lvl === undefined || lvl === '0' || lvl === '6' || lvl === '1' || lvl === 's' || lvl === 'S') f.risk('power');
      return;
    }
    case 'systemctl': {
      const s = scanOptions(args, { short: 'tspHMn', long: ['type', 'state', 'property', 'host', 'machine', 'signal', 'kill-whom', 'root', 'lines', 'output'], permute: true });
      const verb = s.operands[0];
      const v = verb ? literalValue(verb) : undefined;
      if (verb && (v === undefined || SYSTEMCTL_POWER.has(v))) f.risk('power');
      // Starting a power target (`start reboot.target`) powers off; stopping the SSH server
      // (service or socket) locks everyone out.
      if (v === 'start' || v === 'restart' || v === 'reload-or-restart' || v === 'try-restart' || v === 'enable') {
        if (s.operands.slice(1).some((u) => { const n = literalValue(u); return n === undefined || POWER_TARGETS.some((t) => n.startsWith(t)); })) f.risk('power');
      }
      if (v === 'stop' || v === 'disable' || v === 'mask' || v === 'kill' || v === 'isolate') {
        if (s.operands.slice(1).some((u) => { const n = literalValue(u); return n === undefined || n.startsWith('ssh'); })) f.risk('power');
      }
      return;
    }
    case 'kill': case 'pkill': case 'killall': return kill(w, name, args);
    case 'cd': case 'pushd': return cd(w, args);
    case 'nc': case 'ncat': case 'netcat': case 'socat': return netcat(w, name, args);
    case 'scp': case 'sftp': execOptions(w, args, ctx); return;
    case 'setcap': f.risk('permission_wreck'); return;
    case 'gpg': case 'gpg2':
      if (args.some((a) => { const v = literalValue(a) ?? ''; return v.startsWith('--export-secret') || v === '--export-ssh-key'; })) f.risk('credential_access');
      return;
    case 'tar': return tar(w, args, ctx);
    case 'make': case 'gmake': case 'bmake': case 'pmake': return make(w, args);
    case 'npm': case 'pnpm': case 'yarn': {
      // Package scripts (install hooks, `run`, `test`, `start`) are code from package.json.
      const verb = args.map((a) => literalValue(a)).find((v) => v === undefined || !v.startsWith('-'));
      if (verb === undefined || PACKAGE_SCRIPT_VERBS.has(verb)) w.facts.ranFile(literal('package.json'), w.cwds);
      return;
    }
    case 'git': return git(w, args, ctx);
    case 'at': case 'batch': {
      const s = scanOptions(args, { short: 'qfMmt' });
      const file = s.opts.get('f');
      if (file && file !== true) f.ranFile(file, w.cwds);
      else if (!s.opts.has('l') && !s.opts.has('r') && !s.opts.has('d') && !s.opts.has('c')) readsStdin(w, ctx, true);
      return;
    }
    case 'crontab': {
      const s = scanOptions(args, { short: 'u' });
      if (s.opts.has('l')) return;
      if (s.opts.has('r') || s.opts.has('e')) { f.risk('system_write'); return; }
      const file = s.operands[0];
      if (file && literalValue(file) !== '-') f.ranFile(file, w.cwds);
      f.feedsShell(false);
      return;
    }
    default:
      if (SYSTEM_CHANGERS.has(name)) f.risk('system_write');
      return;
  }
}

function interpreter(w: Walker, key: string, spec: { code: string; long?: readonly string[]; withArg?: string }, args: readonly Word[], ctx: Ctx): void {
  const s = scanOptions(args, { short: spec.code + (spec.withArg ?? ''), long: spec.long ?? [] });
  const hasCode = Array.from(spec.code).some((c) => s.opts.has(c)) || (spec.long ?? []).some((l) => s.opts.has(l));
  if (hasCode) { w.facts.risk('inline_code'); return; }
  if (key === 'deno' || key === 'bun') {
    const sub = literalValue(s.operands[0] ?? { text: '', alts: [], raws: [], dynamic: true, subst: false, procSubst: false, glob: false });
    if (sub === 'eval' || sub === undefined) w.facts.risk('inline_code');
    return;
  }
  if (key.endsWith('awk')) {
    const prog = s.opts.get('f');
    if (prog && prog !== true) {
      // `awk -f -`, `-f /dev/stdin`: the program is the session's stdin (or a pipe) — unseen code.
      const pv = literalValue(prog);
      if (pv === '-' || pv === '/dev/stdin' || pv?.startsWith('/dev/fd/') || pv?.startsWith('/proc/self/fd/')) { readsStdin(w, ctx, false); return; }
    }
    if (prog) { if (prog !== true) w.facts.ranFile(prog, w.cwds); return; }
    const text = s.operands[0];
    const v = text ? literalValue(text) : undefined;
    if (text && (v === undefined || v.includes('system') || v.includes('|') || v.includes('getline'))) w.facts.risk('inline_code');
    return;
  }
  if (key === 'python' && s.opts.has('m')) return;
  const file = s.operands[0];
  const fv = file ? literalValue(file) : undefined;
  if (!file || fv === '-' || fv === '/dev/stdin') { readsStdin(w, ctx, false); return; }
  if (file.procSubst || file.subst) { w.facts.feedsShell(false); return; }
  if (fv === undefined) { w.facts.risk('dynamic_sensitive_arg'); return; }
  w.facts.ranFile(file, w.cwds);
}

function remove(w: Walker, name: string, args: readonly Word[]): void {
  const s = scanOptions(args, { permute: true });
  const recursive = name === 'rm' || name === 'srm' ? s.opts.has('r') || s.opts.has('R') || s.opts.has('recursive') : false;
  for (const o of s.operands) {
    if (recursive) w.facts.recursiveDelete(o, w.cwds);
    else { w.facts.written(o, w.cwds); w.facts.deleted(o, w.cwds); }
    // Targets read from stdin (`find /etc -type f | xargs rm`) or from a find root pattern: unseen.
    if (o.dynamic && o.alts.some((a) => a === ANY || a.endsWith(ANY))) w.facts.risk('dynamic_sensitive_arg');
  }
  if (recursive && s.operands.length === 0 && s.dynamic) w.facts.risk('dynamic_sensitive_arg');
}

function rsync(w: Walker, args: readonly Word[], ctx: Ctx): void {
  const s = scanOptions(args, { short: 'eBfTM', long: ['rsh', 'filter', 'exclude', 'include', 'temp-dir', 'rsync-path', 'backup-dir', 'password-file'], permute: true });
  const rsh = s.opts.get('e') ?? s.opts.get('rsh');
  if (rsh && rsh !== true) runScript(w, rsh, ctx);
  const deletes = [...s.opts.keys()].some((k) => k.startsWith('delete') || k === 'remove-source-files');
  const dest = s.operands[s.operands.length - 1];
  if (dest && s.operands.length > 1) {
    if (deletes) w.facts.recursiveDelete(dest, w.cwds);
    else w.facts.written(dest, w.cwds);
  }
}

function writesAll(w: Walker, args: readonly Word[], withArg: string): void {
  const s = scanOptions(args, { short: withArg === 'a' ? 'St' : withArg, long: ['target-directory', 'size', 'reference', 'suffix'], permute: true });
  for (const o of s.operands) w.facts.written(o, w.cwds);
  const t = s.opts.get('t') ?? s.opts.get('target-directory');
  if (t && t !== true) w.facts.written(t, w.cwds);
}

function writesLast(w: Walker, args: readonly Word[]): void {
  const s = scanOptions(args, { short: 'tSmogT', long: ['target-directory', 'suffix', 'mode', 'owner', 'group', 'backup'], permute: true });
  const mode = s.opts.get('m') ?? s.opts.get('mode');
  const m = mode && mode !== true ? literalValue(mode) : undefined;
  if (m !== undefined && (m.includes('s') || (m.length === 4 && m[0] !== '0' && m[0] !== '1'))) w.facts.risk('permission_wreck');
  const t = s.opts.get('t') ?? s.opts.get('target-directory');
  if (t && t !== true) { w.facts.written(t, w.cwds); return; }
  const last = s.operands[s.operands.length - 1];
  if (last && s.operands.length > 1) w.facts.written(last, w.cwds);
}

function dd(w: Walker, args: readonly Word[]): void {
  for (const a of args) {
    for (const alt of a.alts) {
      if (alt.startsWith('of=')) w.facts.written({ ...a, alts: [alt.slice(3)], raws: [alt.slice(3)] }, w.cwds);
      if (alt.startsWith('if=/dev/') && !['if=/dev/zero', 'if=/dev/urandom', 'if=/dev/random', 'if=/dev/null'].includes(alt)) w.facts.risk('credential_access');
    }
  }
}

/** What a sed script does beyond editing its stream. */
interface SedEffects { exec: boolean; writes: string[]; reads: string[]; unknown: boolean }

/**
 * Parses a sed script enough to find the `e` command and `s///e` flag (run commands), `w`/`W`
 * and `s///w` (write files) and `r`/`R` (read files). Anything it does not recognise sets
 * `unknown` (the caller holds the command for review). Linear in the script length.
 */
export function sedScript(text: string): SedEffects {
  const out: SedEffects = { exec: false, writes: [], reads: [], unknown: false };
  const n = text.length;
  let i = 0;
  const toLineEnd = (): string => { let j = text.indexOf('\n', i); if (j < 0) j = n; const v = text.slice(i, j); i = j; return v.trim(); };
  const toCmdEnd = (): void => { while (i < n && text[i] !== ';' && text[i] !== '\n' && text[i] !== '}') i++; };
  // Skips a delimited part (regex or replacement) ending at an unescaped `d`; in a regex a
  // bracket expression (`[/]`, `[]x]`, `[^]x]`) may hold the delimiter.
  const part = (d: string, regex = false): boolean => {
    while (i < n) {
      const c = text[i] as string;
      if (c === '\\') { i += 2; continue; }
      if (regex && c === '[') {
        let j = i + 1;
        if (text[j] === '^') j++;
        if (text[j] === ']') j++;
        while (j < n && text[j] !== ']' && text[j] !== '\n') {
          // `[:alpha:]`, `[=e=]`, `[.-.]` inside the bracket end with their own `:]`, `=]`, `.]`.
          const k = text[j + 1];
          if (text[j] === '[' && (k === ':' || k === '=' || k === '.')) {
            const close = text.indexOf(`${k}]`, j + 2);
            if (close < 0) return false;
            j = close + 2;
            continue;
          }
          j++;
        }
        if (text[j] !== ']') return false;
        i = j + 1;
        continue;
      }
      i++;
      if (c === d) return true;
    }
    return false;
  };
  const digits = (): void => { while (i < n && /[0-9]/.test(text[i] as string)) i++; };
  while (i < n && !out.unknown) {
    const c0 = text[i] as string;
    if (c0 === ' ' || c0 === '\t' || c0 === '\n' || c0 === ';' || c0 === '{' || c0 === '}') { i++; continue; }
    if (c0 === '#') { toLineEnd(); continue; }
    for (let k = 0; k < 2; k++) {
      const c = text[i];
      if (c !== undefined && /[0-9]/.test(c)) { digits(); if (text[i] === '~') { i++; digits(); } }
      else if (c === '$') i++;
      else if (c === '/') { i++; if (!part('/', true)) out.unknown = true; while (text[i] === 'I' || text[i] === 'M') i++; }
      else if (c === '\\' && i + 1 < n) { const d = text[i + 1] as string; i += 2; if (!part(d, true)) out.unknown = true; while (text[i] === 'I' || text[i] === 'M') i++; }
      if (k === 0 && text[i] === ',') { i++; if (text[i] === '+' || text[i] === '~') { i++; digits(); k++; } continue; }
      break;
    }
    while (text[i] === ' ' || text[i] === '!') i++;
    const cmd = text[i];
    i++;
    switch (cmd) {
      case undefined: out.unknown = true; break;
      case '{': case '}': case '=': case 'd': case 'D': case 'g': case 'G': case 'h': case 'H': case 'n': case 'N':
      case 'p': case 'P': case 'x': case 'z': case 'F': break;
      case 'q': case 'Q': case 'l': case 'L': while (text[i] === ' ') i++; digits(); break;
      case ':': case 'b': case 't': case 'T': case 'v': toCmdEnd(); break;
      case 'a': case 'i': case 'c':
        // Text to the end of the line; a line ending in a backslash continues it.
        for (let line = toLineEnd(); line.endsWith('\\') && i < n; line = toLineEnd()) i++;
        break;
      case 'e': out.exec = true; toLineEnd(); break;
      case 'r': case 'R': out.reads.push(toLineEnd()); break;
      case 'w': case 'W': out.writes.push(toLineEnd()); break;
      case 'y': { const d = text[i++]; if (d === undefined || !part(d) || !part(d)) out.unknown = true; break; }
      case 's': {
        const d = text[i++];
        if (d === undefined || d === '\n' || d === '\\' || !part(d, true) || !part(d)) { out.unknown = true; break; }
        while (i < n && text[i] !== ';' && text[i] !== '\n' && text[i] !== '}') {
          const fl = text[i] as string;
          if (fl === 'e') out.exec = true;
          if (fl === 'w') { i++; out.writes.push(toLineEnd()); break; }
          if (!/[0-9gpiImMe ]/.test(fl)) { out.unknown = true; break; }
          i++;
        }
        break;
      }
      default: out.unknown = true;
    }
  }
  return out;
}

/** The script words of a sed command line: `-e`/`--expression` values, else the first operand; `fromFile` for `-f`. */
function sedScripts(args: readonly Word[]): { scripts: Word[]; fromFile: boolean } {
  const scripts: Word[] = [];
  let fromFile = false;
  let explicit = false;
  let first: Word | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as Word;
    const v = literalValue(a);
    if (v === '--') { if (!explicit && first === undefined) first = args[i + 1]; break; }
    if (v === undefined || !v.startsWith('-') || v === '-') { if (first === undefined) first = a; continue; }
    if (v === '--expression' || v === '--file') { explicit = true; const nx = args[++i]; if (v === '--file') fromFile = true; else if (nx) scripts.push(nx); continue; }
    if (v.startsWith('--expression=')) { explicit = true; scripts.push(literalWord(v.slice(13))); continue; }
    if (v.startsWith('--file=')) { explicit = true; fromFile = true; continue; }
    if (v.startsWith('--')) continue;
    for (let k = 1; k < v.length; k++) {
      const ch = v[k];
      if (ch === 'e' || ch === 'f' || ch === 'l') {
        const rest = v.slice(k + 1);
        const val = rest !== '' ? literalWord(rest) : args[++i];
        if (ch === 'e') { explicit = true; if (val) scripts.push(val); }
        if (ch === 'f') { explicit = true; fromFile = true; }
        break;
      }
      if (ch === 'i') break;
    }
  }
  if (!explicit && first) scripts.push(first);
  return { scripts, fromFile };
}

function sed(w: Walker, args: readonly Word[]): void {
  const { scripts, fromFile } = sedScripts(args);
  if (fromFile) w.facts.risk('dynamic_sensitive_arg');
  for (const script of scripts) {
    for (const alt of script.alts) {
      const e = sedScript(alt);
      if (e.exec) w.facts.risk('inline_code');
      if (e.unknown) w.facts.risk('dynamic_sensitive_arg');
      // `w /dev/stdout` and `w /dev/stderr` are sed's own streams.
      for (const p of e.writes) if (p !== '/dev/stdout' && p !== '/dev/stderr') w.facts.written(literalWord(p), w.cwds);
      for (const p of e.reads) w.facts.pathArg(literalWord(p), w.cwds);
      if (alt.includes(ANY) && (e.writes.length > 0 || e.reads.length > 0)) w.facts.risk('dynamic_sensitive_arg');
    }
  }
  const s = scanOptions(args, { short: 'efl', long: ['expression', 'file', 'line-length'], permute: true });
  const inPlace = [...s.opts.keys()].some((k) => k === 'i' || k === 'in-place');
  if (!inPlace) return;
  const files = s.opts.has('e') || s.opts.has('f') || s.opts.has('expression') ? s.operands : s.operands.slice(1);
  for (const o of files) w.facts.written(o, w.cwds);
}

function download(w: Walker, name: string, args: readonly Word[]): void {
  const s = scanOptions(args, name === 'curl'
    ? { short: 'oTdFHXuAeEKmwxyzbcDrUQ', long: ['output', 'upload-file', 'data', 'header', 'config', 'dump-header', 'cookie-jar'], permute: true }
    : { short: 'OPoaeitTUY', long: ['output-document', 'directory-prefix', 'output-file', 'append-output'], permute: true });
  for (const k of name === 'curl' ? ['o', 'output', 'D', 'dump-header', 'c', 'cookie-jar'] : ['O', 'output-document', 'o', 'output-file', 'a', 'append-output']) {
    const t = s.opts.get(k);
    if (t && t !== true && literalValue(t) !== '-') w.facts.written(t, w.cwds);
  }
}

function permissions(w: Walker, name: string, args: readonly Word[]): void {
  const f = w.facts;
  const s = scanOptions(args, { long: ['reference', 'from'], short: name === 'setfacl' ? 'mMxX' : '', permute: true });
  const recursive = s.opts.has('R') || s.opts.has('recursive');
  // chmod modes such as `-x` look like options: a cluster of mode letters is the mode.
  const modeLike = [...s.opts.keys()].filter((k) => k.length === 1 && 'rwxXst'.includes(k));
  const hasReference = s.opts.has('reference');
  const operands = [...s.operands];
  let mode: string | undefined;
  if ((name === 'chmod' && modeLike.length === 0) || name === 'chown' || name === 'chgrp') {
    if (!hasReference) mode = literalValue(operands.shift() ?? { text: '', alts: [], raws: [], dynamic: true, subst: false, procSubst: false, glob: false });
  }
  if (name === 'chmod' && mode !== undefined) {
    const octal = Array.from(mode).every((c) => c >= '0' && c <= '7');
    if ((octal && mode.length === 4 && mode[0] !== '0' && mode[0] !== '1') || (!octal && mode.includes('s'))) f.risk('permission_wreck');
  }
  const worldWritable = mode !== undefined && (mode.endsWith('7') || mode.endsWith('6') || mode.includes('o+w') || mode.includes('a+w') || mode.startsWith('+w'));
  for (const o of operands) {
    f.pathArg(o, w.cwds);
    for (const p of o.alts) {
      const resolved = p.startsWith('/') || p.startsWith('~') || p.startsWith(ANY) ? [p] : w.cwds.map((c) => resolvePath(c, p));
      for (const r of resolved) {
        if (r.startsWith(ANY)) continue;
        const v = systemVerdict(r);
        if (v === 'yes') f.risk('permission_wreck');
        else if (v === 'dynamic' && recursive) f.risk('dynamic_sensitive_arg');
      }
    }
  }
  if (recursive && (name === 'chown' || name === 'chgrp' || worldWritable)) f.risk('permission_recursive');
}

function disk(w: Walker, name: string, args: readonly Word[]): void {
  const s = scanOptions(args, { permute: true });
  const listing = (name === 'fdisk' || name === 'sfdisk' || name === 'parted') &&
    (s.opts.has('l') || s.opts.has('list') || args.some((a) => literalValue(a) === 'print'));
  if (!listing) w.facts.risk('disk_wreck');
}

function kill(w: Walker, name: string, args: readonly Word[]): void {
  // Killing the SSH server (`kill -9 $(pidof sshd)`) or every process of root locks everyone out.
  if (args.some((a) => a.text.includes('sshd'))) w.facts.risk('power');
  if (name !== 'kill') {
    for (let i = 0; i < args.length; i++) {
      const v = literalValue(args[i] as Word);
      const user = v === '-u' || v === '--user' || v === '-U' || v === '--uid' ? args[i + 1] : v?.startsWith('--user=') ? { ...(args[i] as Word), alts: [v.slice(7)], raws: [v.slice(7)] } : undefined;
      if (user) { const u = literalValue(user); if (u === undefined || u === 'root' || u === '0') w.facts.risk('power'); }
    }
    if (args.some((a) => literalValue(a) === 'sshd' || literalValue(a) === 'init' || literalValue(a) === 'systemd')) w.facts.risk('power');
    return;
  }
  let i = 0;
  const first = args[0] ? literalValue(args[0]) : undefined;
  if (first === '-s' || first === '-n') i = 2;
  else if (first?.startsWith('-') && first !== '-1' && first !== '--') i = 1;
  for (; i < args.length; i++) {
    const v = literalValue(args[i] as Word);
    if (v === '--') continue;
    if (v === '1' || v === '-1') w.facts.risk('power');
  }
}

function netcat(w: Walker, name: string, args: readonly Word[]): void {
  for (const a of args) {
    const v = literalValue(a) ?? a.text;
    const lower = v.toLowerCase();
    if (name === 'socat' ? lower.includes('exec:') || lower.includes('system:') : v === '-e' || v === '-c' || v.startsWith('--exec') || v.startsWith('--sh-exec') || v.startsWith('--lua-exec')) {
      w.facts.risk('raw_network');
    }
  }
}

/** Options whose value tar runs as a command. */
/** The same options with their value in the next word. */
const TAR_EXEC_SEPARATE = ['-I', '-F', '--to-command', '--use-compress-program', '--rsh-command', '--info-script', '--new-volume-script'];
const TAR_EXEC = ['--to-command=', '--use-compress-program=', '--rsh-command=', '--info-script=', '--new-volume-script=', '--checkpoint-action=exec='];

function tar(w: Walker, args: readonly Word[], ctx: Ctx): void {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as Word;
    const v = literalValue(a);
    if (v === undefined) continue;
    const opt = TAR_EXEC.find((p) => v.startsWith(p));
    if (opt) runScript(w, { ...a, alts: [v.slice(opt.length)], raws: [v.slice(opt.length)] }, ctx);
    else if (TAR_EXEC_SEPARATE.includes(v) && args[i + 1]) runScript(w, args[++i] as Word, ctx);
    else if (v === '--checkpoint-action' && args[i + 1]) {
      const next = args[++i] as Word;
      const nv = literalValue(next);
      if (nv === undefined) w.facts.risk('dynamic_sensitive_arg');
      else if (nv.startsWith('exec=')) runScript(w, { ...next, alts: [nv.slice(5)], raws: [nv.slice(5)] }, ctx);
    } else if ((v.startsWith('-I') || v.startsWith('-F')) && v.length > 2) runScript(w, { ...a, alts: [v.slice(2)], raws: [v.slice(2)] }, ctx);
  }
}

/** `git -c core.sshCommand=…`, `-c alias.x=!cmd`, `core.pager`, `core.editor` … run commands. */
function git(w: Walker, args: readonly Word[], ctx: Ctx): void {
  for (let i = 0; i < args.length; i++) {
    const opt = literalValue(args[i] as Word);
    if (opt?.startsWith('--config-env')) { w.facts.risk('inline_code'); continue; }
    if (opt === undefined || !opt.startsWith('-c') || opt.startsWith('--')) continue;
    const attached = opt.length > 2;
    if (!attached && i + 1 >= args.length) continue;
    const kv: Word = attached ? { ...(args[i] as Word), alts: [opt.slice(2)], raws: [opt.slice(2)] } : args[i + 1] as Word;
    const v = literalValue(kv);
    if (v === undefined) { w.facts.risk('dynamic_sensitive_arg'); continue; }
    const eq = v.indexOf('=');
    const key = v.slice(0, eq).toLowerCase();
    const value = v.slice(eq + 1);
    const runs = key.startsWith('alias.') ? value.startsWith('!') : ['core.sshcommand', 'core.pager', 'core.editor', 'core.fsmonitor', 'core.hookspath', 'sequence.editor', 'diff.external', 'credential.helper', 'gpg.program', 'core.askpass'].includes(key) || key.endsWith('.textconv') || key.endsWith('.command');
    const script = value.startsWith('!') ? value.slice(1) : value;
    if (eq > 0 && runs) runScript(w, { ...kv, alts: [script], raws: [script] }, ctx);
  }
}

function cd(w: Walker, args: readonly Word[]): void {
  const target = args.find((a) => !(literalValue(a) ?? '').startsWith('-')) ?? args[0];
  changeDir(w, target);
}

/** Adds `target` (cd, pushd, env -C) to the possible working directories. */
export function changeDir(w: Walker, target: Word | undefined): void {
  const v = target ? literalValue(target) : '~';
  const next = v === undefined || v === '-' ? ANY : v;
  const resolved = next === ANY ? ANY : [...new Set(w.cwds.map((c) => resolvePath(c, next)))];
  const all = [...new Set([...w.cwds, ...(Array.isArray(resolved) ? resolved : [resolved])])];
  w.cwds = all.length > 8 ? [...all.slice(0, 7), ANY] : all;
}

/** Package-manager verbs that run package.json scripts (install runs the lifecycle hooks). */
const PACKAGE_SCRIPT_VERBS = new Set(['install', 'i', 'ci', 'add', 'run', 'run-script', 'test', 't', 'start', 'stop', 'restart', 'rebuild', 'exec', 'x', 'dlx', 'pack', 'publish', 'link']);

/** A literal word (a file a program opens by convention). */
function literal(text: string): Word {
  return { text, alts: [text], raws: [text], dynamic: false, subst: false, procSubst: false, glob: false };
}

/**
 * `make` runs the recipes of its makefile as shell commands: the makefile (`-f`, else
 * GNUmakefile/makefile/Makefile in the directory) is a file run, so one written by the same
 * command line is unseen code (`pipe_to_shell`, as for `sh file`); `--eval`/`-E` is inline code;
 * `-C dir` moves where the makefile is read.
 */
function make(w: Walker, args: readonly Word[]): void {
  const s = scanOptions(args, { short: 'fCEIjloW', long: ['file', 'makefile', 'directory', 'eval', 'include-dir', 'jobs', 'load-average', 'old-file', 'what-if', 'assume-old', 'assume-new', 'new-file'], permute: true });
  if (s.opts.has('E') || s.opts.has('eval')) w.facts.risk('inline_code');
  const dirOpt = s.opts.get('C') ?? s.opts.get('directory');
  if (dirOpt !== undefined && dirOpt !== true && dirOpt.dynamic) w.facts.risk('dynamic_sensitive_arg');
  const dir = dirOpt !== undefined && dirOpt !== true ? literalValue(dirOpt) : undefined;
  const file = s.opts.get('f') ?? s.opts.get('file') ?? s.opts.get('makefile');
  if (file !== undefined && file !== true) { w.facts.ranFile(file, w.cwds); return; }
  for (const n of ['GNUmakefile', 'makefile', 'Makefile']) w.facts.ranFile(literal(dir === undefined ? n : `${dir}/${n}`), w.cwds);
}

/**
 * Options that make a program run a command or code (GTFOBins): `nmap --script`/`--interactive`,
 * `tcpdump -z`, `split --filter`, `sort --compress-program`, `apt -o …Invoke…`,
 * `git config` of a key that runs a program, `rsync -e` is handled with rsync. A dynamic option
 * word is treated as such an option (fail closed).
 */
function runsCommands(name: string, args: readonly Word[]): boolean {
  const vals = args.map((a) => literalValue(a));
  const opt = (...names: string[]): boolean => vals.some((v) => v === undefined || names.some((o) => v === o || (o.startsWith('--') && v.startsWith(`${o}=`)) || (!o.startsWith('--') && o.length === 2 && v.startsWith(o) && v.length > 2 && !v.startsWith('--'))));
  switch (name) {
    case 'nmap': return opt('--script', '--interactive', '--script-args-file');
    case 'tcpdump': case 'windump': return opt('-z');
    case 'split': case 'gsplit': return opt('--filter');
    case 'sort': case 'gsort': return opt('--compress-program');
    case 'apt': case 'apt-get': case 'aptitude': case 'apt-cache':
      return vals.some((v, i) => v === undefined || ((v === '-o' || v === '--option') && (vals[i + 1] === undefined || /invoke|pre-install-pkgs|dpkg::tools|::options/i.test(vals[i + 1] ?? ''))) || (v.startsWith('-o') && /invoke|pre-install-pkgs|dpkg::tools/i.test(v)));
    case 'dpkg': return opt('--post-invoke', '--pre-invoke');
    case 'git': {
      const i = vals.indexOf('config');
      if (i < 0) return false;
      const key = vals.slice(i + 1).find((v) => v === undefined || !v.startsWith('-'));
      if (key === undefined) return vals.slice(i + 1).length > 0 && vals.slice(i + 1).some((v) => v === undefined);
      const k = key.toLowerCase();
      const after = vals.slice(vals.indexOf(key) + 1);
      if (after.length === 0) return false;
      return k.startsWith('alias.') || ['core.sshcommand', 'core.pager', 'core.editor', 'core.fsmonitor', 'core.hookspath', 'sequence.editor', 'diff.external', 'credential.helper', 'gpg.program', 'core.askpass', 'include.path'].includes(k)
        || k.endsWith('.textconv') || k.endsWith('.command') || k.startsWith('includeif.') || k.endsWith('.sshcommand') || k.endsWith('.program') || k.endsWith('.cmd') || k.endsWith('.clean') || k.endsWith('.smudge') || k.endsWith('.process');
    }
    default: return false;
  }
}
