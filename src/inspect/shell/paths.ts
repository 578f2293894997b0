/**
 * Path patterns and what they may name. A word of a command becomes a *pattern*: its literal
 * characters, with `ANY` where a variable or substitution stands (may contain `/`), `STAR` for
 * an unquoted `*` and `ONE` for an unquoted `?` or `[…]` (neither crosses `/`). `~` is the
 * connection user's home, and relative paths are resolved against the possible working
 * directories. Classification answers `yes` (certainly may name such a path through literal
 * text or globs), `dynamic` (only through a dynamic part) or `no`.
 */

export const ANY = '\u0001';
export const STAR = '\u0002';
export const ONE = '\u0003';

export type Verdict = 'yes' | 'dynamic' | 'no';

/** Whether `p` contains any wildcard. */
export function hasWildcard(p: string): boolean {
  return p.includes(ANY) || p.includes(STAR) || p.includes(ONE);
}

/** The pattern written out for facts: wildcards as `*` / `?`. */
export function display(p: string): string {
  let out = '';
  for (const c of p) out += c === ANY || c === STAR ? '*' : c === ONE ? '?' : c;
  return out;
}

/** `/a//b/./c/../d/` → `/a/b/d`; `~/x/..` → `~`; relative `..` segments that cannot pop are kept. */
export function normalizePath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      const last = out[out.length - 1];
      if (last !== undefined && last !== '..' && !(last === '~' && out.length === 1)) out.pop();
      else if (!abs) out.push('..');
      continue;
    }
    out.push(seg);
  }
  const joined = out.join('/');
  return abs ? `/${joined}` : joined === '' ? '.' : joined;
}

/** Resolves `p` against the working directory `cwd` (itself absolute or `~`-based). */
export function resolvePath(cwd: string, p: string): string {
  p = tildeUser(p);
  if (p.startsWith('/') || p === '~' || p.startsWith('~/') || p.startsWith(ANY)) return normalizePath(p);
  return normalizePath(`${cwd}/${p}`);
}

/** `~root/x` → `/root/x`, `~alice` → `/home/alice` (`~`, `~/x` stay: the connection user's home). */
export function tildeUser(p: string): string {
  if (!p.startsWith('~') || p === '~' || p.startsWith('~/')) return p;
  const slash = p.indexOf('/');
  const user = slash < 0 ? p.slice(1) : p.slice(1, slash);
  const rest = slash < 0 ? '' : p.slice(slash);
  if (user === '+' || user === '-' || user.includes(ANY)) return `${ANY}${rest}`;
  return `${user === 'root' ? '/root' : `/home/${user}`}${rest}`;
}

/** Trees whose every member is a system path. */
const SYSTEM_TREES = ['/etc', '/boot', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/usr', '/dev', '/proc', '/sys'];
/** Trees whose top two levels are system paths (`/var/lib`, `/home/alice`). */
const SHALLOW_TREES = ['/var', '/home', '/opt', '/srv', '/snap', '/root', '/run'];
/** Directories whose children may be deleted freely. */
const SCRATCH = new Set(['/tmp', '/var/tmp', '/dev/shm']);

/** Whether the (normalized, literal) path is one whose deletion or rewrite wrecks the host. */
export function isSystemPath(p: string): boolean {
  if (p === '/' || p === '~' || p === '..' || p.startsWith('../') || p.startsWith('~/..')) return true;
  if (p.startsWith('~/')) {
    const rest = p.slice(2);
    return !rest.includes('/') && rest.startsWith('.');
  }
  if (!p.startsWith('/')) return false;
  const segs = p.slice(1).split('/');
  if (segs.length === 1) return true;
  const top = `/${segs[0] ?? ''}`;
  if (SCRATCH.has(top) || SCRATCH.has(`${top}/${segs[1] ?? ''}`)) return false;
  if (SYSTEM_TREES.includes(top)) return true;
  return SHALLOW_TREES.includes(top) && segs.length <= 2;
}

/** Whether deleting unknown children of `dir` (a literal path) may wreck the host. */
function protectsChildren(dir: string): boolean {
  return !SCRATCH.has(dir) && (isSystemPath(dir) || dir === '/home' || dir === '~');
}

/** The literal directory before the first wildcard of `p`, and that wildcard. */
function wildcardDir(p: string): { dir: string; wildcard: string } | undefined {
  let i = 0;
  while (i < p.length && p[i] !== ANY && p[i] !== STAR && p[i] !== ONE) i++;
  if (i === p.length) return undefined;
  const slash = p.lastIndexOf('/', i);
  const dir = slash < 0 ? '' : slash === 0 ? '/' : normalizePath(p.slice(0, slash));
  return { dir, wildcard: p[i] ?? ANY };
}

/** May the resolved pattern `p` name a system path? */
export function systemVerdict(p: string): Verdict {
  const w = wildcardDir(p);
  if (!w) return isSystemPath(normalizePath(p)) ? 'yes' : 'no';
  if (w.dir === '') return w.wildcard === ANY ? 'dynamic' : 'no';
  if (!protectsChildren(w.dir)) return 'no';
  return w.wildcard === ANY ? 'dynamic' : 'yes';
}

const CRED_DIRS = new Set(['.ssh', '.gnupg', '.aws', '.azure', '.password-store', '.gcloud']);
const CRED_FILES = new Set([
  'id_rsa', 'id_dsa', 'id_ecdsa', 'id_ed25519', 'id_ecdsa_sk', 'id_ed25519_sk', '.netrc', '.pgpass',
  '.git-credentials', '.npmrc', '.pypirc', '.my.cnf', '.vault-token', '.htpasswd', '.envrc', '.bash_history',
  '.zsh_history', '.mysql_history', '.psql_history', '.python_history', 'privkey.pem', 'admin.conf', '.boto', '.s3cfg',
]);
const ETC_SECRETS = new Set(['shadow', 'gshadow', 'sudoers', 'master.passwd', 'shadow-', 'gshadow-', 'sudoers.d']);
const CRED_SAMPLES = [
  '~/.ssh/id_rsa', '~/.ssh/authorized_keys', '~/.aws/credentials', '~/.env', '~/app/.env', '/etc/shadow', '/etc/gshadow',
  '/etc/sudoers', '~/.netrc', '~/.pgpass', '~/.git-credentials', '~/.kube/config', '~/.docker/config.json',
  '/root/.ssh/id_rsa', '/home/u/.ssh/id_ed25519', '/home/u/.aws/credentials', '/proc/self/environ',
  '/proc/1/environ', '~/.gnupg/private-keys-v1.d/k.key', '/etc/ssl/private/k.pem',
];

/**
 * Whether a file-name pattern (find `-name 'id_*'`, `-path` with `.ssh`) may match a credential file:
 * `*`, `?` and `[…]` are matched against the credential names and sample paths. Bounded: patterns
 * longer than 256 characters are answered `true` (fail closed).
 */
export function credentialNamePattern(pattern: string): boolean {
  if (pattern.length > 256) return true;
  let re = '';
  for (const c of pattern) {
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[' || c === ']') re += c === '[' ? '[' : ']';
    else re += c.replace(/[\\^$.|+(){}]/g, (m) => `\\${m}`);
  }
  let rx: RegExp;
  try { rx = new RegExp(`^${re}$`, 'i'); } catch { return true; }
  const names = [...CRED_FILES, ...CRED_DIRS, ...ETC_SECRETS, '.env', 'credentials', 'config.json'];
  return names.some((n) => rx.test(n)) || CRED_SAMPLES.some((p) => rx.test(p) || rx.test(p.slice(p.lastIndexOf('/') + 1)));
}

/** Whether a literal, normalized path names credentials. */
export function isCredentialPath(p: string): boolean {
  const segs = p.split('/');
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i] ?? '';
    const next = segs[i + 1];
    if (CRED_DIRS.has(s) || CRED_FILES.has(s) || s.startsWith('.env')) return true;
    if (i === segs.length - 1 && (s.endsWith('.key') || s.endsWith('.ppk') || (s.startsWith('ssh_host_') && s.endsWith('_key')))) return true;
    if (s === 'serviceaccount' && next === 'token') return true;
    if ((s === 'etc' || (s === '' && i === 0 && next === 'etc')) && next !== undefined) {
      const after = s === 'etc' ? next : segs[i + 2];
      if (after !== undefined && ETC_SECRETS.has(after)) return true;
      if (s === 'etc' && next === 'ssl' && segs[i + 2] === 'private') return true;
    }
    if (s === '.kube' && next === 'config') return true;
    if (s === '.docker' && next === 'config.json') return true;
    if (s === 'proc' && segs[i + 2] === 'environ') return true;
    if (s === '.config' && (next === 'gcloud' || next === 'gh')) return true;
  }
  return false;
}

/** May the resolved pattern `p` name a credential file? */
export function credentialVerdict(p: string): Verdict {
  if (!hasWildcard(p)) return isCredentialPath(normalizePath(p)) ? 'yes' : 'no';
  // The literal segments alone may already say so (`~/.ssh/*`, `/home/*/.aws/credentials`).
  if (isCredentialPath(p.split(ANY).join('\u0004'))) return 'yes';
  if (CRED_SAMPLES.some((s) => globMatch(p, s, false))) return 'yes';
  if (p.startsWith(ANY)) return 'no';
  return CRED_SAMPLES.some((s) => globMatch(p, s, true)) ? 'dynamic' : 'no';
}

const SAFE_DEVICES = new Set(['/dev/null', '/dev/zero', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/stdout', '/dev/stderr', '/dev/stdin', '/dev/full']);

/** May the resolved pattern `p` name a disk, memory or other device that writing wrecks? */
export function deviceVerdict(p: string): Verdict {
  const n = hasWildcard(p) ? p : normalizePath(p);
  if (!n.startsWith('/dev/')) return n.startsWith(ANY) ? 'dynamic' : 'no';
  if (SAFE_DEVICES.has(n) || n.startsWith('/dev/fd/') || n.startsWith('/dev/pts/') || n.startsWith('/dev/shm/')) return 'no';
  return hasWildcard(n) && !globMatch(n, '/dev/sda', false) ? (globMatch(n, '/dev/sda', true) ? 'dynamic' : 'no') : 'yes';
}

/**
 * Whether pattern `p` matches the literal `s`. `ANY` matches any run (when `anyOn`, else
 * nothing); `STAR` a run without `/` (not a leading `.` of a segment); `ONE` one such character.
 * Dynamic programming over (pattern, subject): O(|p|·|s|), no backtracking blow-up.
 */
export function globMatch(p: string, s: string, anyOn: boolean): boolean {
  let prev: boolean[] = new Array<boolean>(s.length + 1).fill(false);
  prev[0] = true;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    const cur: boolean[] = new Array<boolean>(s.length + 1).fill(false);
    for (let j = 0; j <= s.length; j++) {
      const ch = s[j - 1];
      const segStart = j === 1 || s[j - 2] === '/';
      if (c === ANY) {
        cur[j] = anyOn && (prev[j] === true || (j > 0 && cur[j - 1] === true));
      } else if (c === STAR) {
        cur[j] = prev[j] === true || (j > 0 && ch !== '/' && !(ch === '.' && segStart) && cur[j - 1] === true);
      } else if (j > 0) {
        cur[j] = prev[j - 1] === true && (c === ONE ? ch !== '/' && !(ch === '.' && segStart) : c === ch);
      }
    }
    prev = cur;
  }
  return prev[s.length] === true;
}

/**
 * Trees that hold a host's persistent data (databases, mail, spools, web roots, backups, mounted
 * volumes, home directories) at any depth: `/var/lib/postgresql/15/main` is not a system path,
 * but deleting it loses the database. A delete there is held for review.
 */
const DATA_TREES = ['/var/lib', '/var/opt', '/var/spool', '/var/mail', '/var/www', '/var/backups', '/var/db', '/srv', '/opt', '/data', '/mnt', '/media', '/home', '/root'];

/** May deleting the resolved pattern `p` lose persistent data (a member of a data tree, at any depth)? */
export function dataVerdict(p: string): Verdict {
  const w = wildcardDir(p);
  const literal = w ? w.dir : normalizePath(p);
  if (w && w.dir === '') return w.wildcard === ANY ? 'dynamic' : 'no';
  const inside = DATA_TREES.some((t) => literal === t || literal.startsWith(`${t}/`));
  if (inside) return 'yes';
  // A wildcard right under a parent of a data tree (`/var/*`, `/*`) may reach into one.
  if (w && DATA_TREES.some((t) => t.startsWith(`${w.dir === '/' ? '' : w.dir}/`))) return 'yes';
  return 'no';
}

/**
 * Files whose content some program runs later without being asked to on this command line: git
 * hooks and git configuration (aliases, `core.pager`, `core.hooksPath` …), shell start-up files,
 * Makefiles and package manifests are covered where they run (make, npm); these run at the next
 * commit, checkout or login. Writing one is inline code (review).
 */
export function runsLater(p: string): boolean {
  const n = normalizePath(p);
  const base = n.slice(n.lastIndexOf('/') + 1);
  if (n.includes('.git/hooks/') || n.endsWith('.git/hooks') || n.endsWith('.git/config') || base === '.gitconfig' || n.endsWith('.config/git/config')) return true;
  return STARTUP_FILES.has(base) || n.endsWith('.config/fish/config.fish') || n.includes('/etc/profile.d/');
}
const STARTUP_FILES = new Set(['.bashrc', '.bash_profile', '.bash_login', '.bash_logout', '.profile', '.zshrc', '.zprofile', '.zshenv', '.zlogin', '.kshrc', '.cshrc', '.tcshrc', '.inputrc', '.xinitrc', '.xsession', '.xprofile', '.pam_environment']);
