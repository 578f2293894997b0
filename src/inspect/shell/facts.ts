/**
 * The facts being gathered for one command string, bounded (`MAX_FACT_ENTRIES` per set), and
 * the path checks applied to every word that names a file.
 */
import {
  ANY, credentialVerdict, dataVerdict, deviceVerdict, display, hasWildcard, normalizePath, resolvePath, runsLater, systemVerdict, tildeUser,
} from './paths.ts';
import { MAX_FACT_ENTRIES, type ShellFacts, type ShellRisk } from './types.ts';
import type { Word } from './words.ts';

class BoundedSet {
  readonly #items = new Set<string>();
  overflow = false;
  add(s: string): void {
    if (this.#items.size >= MAX_FACT_ENTRIES) { if (!this.#items.has(s)) this.overflow = true; return; }
    this.#items.add(s.length > 1024 ? `${s.slice(0, 1024)}…` : s);
  }
  get size(): number { return this.#items.size; }
  has(s: string): boolean { return this.#items.has(s); }
  sorted(): string[] { return [...this.#items].sort(); }
}

/** Resolves every alternative of `w` against every possible working directory. */
export function resolvedPatterns(w: Word, cwds: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of w.alts) {
    if (a === '' ) continue;
    const t = tildeUser(a);
    const absolute = t.startsWith('/') || t.startsWith('~') || t.startsWith(ANY);
    if (absolute) out.push(hasWildcard(t) ? t : normalizePath(t));
    else for (const c of cwds) out.push(resolvePath(c, a));
  }
  return out;
}

export class Facts {
  readonly commands = new BoundedSet();
  readonly argv = new BoundedSet();
  readonly wrappers = new BoundedSet();
  readonly writes = new BoundedSet();
  readonly reads = new BoundedSet();
  readonly paths = new BoundedSet();
  readonly credentials = new BoundedSet();
  readonly deletes = new BoundedSet();
  readonly risks = new Set<ShellRisk>();
  readonly functions = new Set<string>();
  pipes = false;
  dynamicCommand = false;
  dynamicArgs = false;
  parse = false;
  priv = false;
  /** A network fetcher ran (curl, wget …). */
  fetched = false;
  /** A script file or a non-system executable path ran. */
  ranLocal = false;
  /** Resolved paths of the script files and executables run (to find write-then-run). */
  readonly #ran = new Set<string>();

  /** A script file or an executable outside the system bin directories runs. */
  ranFile(w: Word, cwds: readonly string[]): void {
    this.ranLocal = true;
    for (const p of resolvedPatterns(w, cwds)) if (this.#ran.size < MAX_FACT_ENTRIES) this.#ran.add(display(p));
  }

  command(name: string): void { this.commands.add(name); }
  wrapper(name: string): void { this.wrappers.add(name); }
  risk(r: ShellRisk): void { this.risks.add(r); }
  parseError(): void { this.parse = true; this.risks.add('parse_error'); }
  functionDefined(name: string): void { this.functions.add(name); }
  privileged(): void { this.priv = true; }

  /** Something runs a script it reads from stdin or a substitution: `literal` when we saw and parsed it all. */
  feedsShell(seen: boolean): void {
    this.pipes = true;
    if (!seen) this.risks.add('pipe_to_shell');
  }

  /**
   * A word naming a file the command reads or uses: path and credential facts. `readsDevices`
   * false for commands that only inspect a device's metadata (`lsblk /dev/sda`).
   */
  pathArg(w: Word, cwds: readonly string[], readsDevices = true): void {
    if (w.dynamic) this.dynamicArgs = true;
    for (const raw of stripPrefixes(w)) {
      for (const p of resolvedPatterns(raw, cwds)) {
        const looksLikePath = raw.alts.some((a) => a.includes('/') || a.startsWith('.') || a.startsWith('~'));
        if (looksLikePath) this.paths.add(display(p));
        const cred = credentialVerdict(p);
        if (cred === 'yes') { this.credentials.add(display(p)); this.risks.add('credential_access'); }
        // A pattern that may name a credential (`find ~ … -exec cat {} +`): held for review.
        else if (cred === 'dynamic') this.risks.add('dynamic_sensitive_arg');
        // Raw disk or memory (`cat /dev/sda`, `/dev/mem`): reading it reads every file and secret.
        if (readsDevices && !p.startsWith(ANY) && p.startsWith('/dev/') && deviceVerdict(p) === 'yes') this.risks.add('dynamic_sensitive_arg');
      }
    }
  }

  /** A file the command writes (redirection, `tee`, `cp` destination, `dd of=` …). */
  written(w: Word, cwds: readonly string[]): void {
    this.pathArg(w, cwds);
    for (const p of resolvedPatterns(w, cwds)) {
      this.writes.add(display(p));
      if (p === '/proc/sysrq-trigger') { this.risks.add('power'); continue; }
      if (p.startsWith('/dev/tcp/') || p.startsWith('/dev/udp/')) { this.risks.add('raw_network'); continue; }
      const dev = deviceVerdict(p);
      if (dev === 'yes') { this.risks.add('disk_wreck'); continue; }
      if (p.startsWith(ANY)) continue;
      if (runsLater(p)) this.risks.add('inline_code');
      const sys = systemVerdict(p);
      if (sys === 'yes') this.risks.add('system_write');
      else if (sys === 'dynamic' || dev === 'dynamic') this.risks.add('dynamic_sensitive_arg');
    }
  }

  redirectWrite(w: Word, cwds: readonly string[]): void { this.written(w, cwds); }

  redirectRead(w: Word, cwds: readonly string[]): void {
    this.pathArg(w, cwds);
    for (const p of resolvedPatterns(w, cwds)) this.reads.add(display(p));
  }

  /** A target of a recursive delete. */
  recursiveDelete(w: Word, cwds: readonly string[]): void {
    this.pathArg(w, cwds);
    for (const p of resolvedPatterns(w, cwds)) {
      this.deletes.add(display(p));
      const v = systemVerdict(p);
      if (v === 'yes') this.risks.add('recursive_delete_system');
      else if (v === 'dynamic') this.risks.add('dynamic_sensitive_arg');
      else this.dataDelete(p);
    }
  }

  /** A resolved pattern that a command deletes (recursively or not): in a data tree, held for review. */
  dataDelete(p: string): void {
    const d = dataVerdict(p);
    if (d === 'yes') this.risks.add('system_write');
    else if (d === 'dynamic') this.risks.add('dynamic_sensitive_arg');
  }

  /** The operands of a plain (non-recursive) delete: `rm /var/lib/mysql/*.ibd` loses data too. */
  deleted(w: Word, cwds: readonly string[]): void {
    for (const p of resolvedPatterns(w, cwds)) if (!p.startsWith(ANY)) this.dataDelete(p);
  }

  /** Whether any set overflowed its bound. */
  overflowed(): boolean {
    return [this.commands, this.argv, this.wrappers, this.writes, this.reads, this.paths, this.credentials, this.deletes]
      .some((s) => s.overflow);
  }

  finish(): ShellFacts {
    if (this.fetched && this.ranLocal) this.risks.add('fetch_and_exec');
    // A file written by this command line and then run: its content is code nobody inspected.
    for (const r of this.#ran) if (this.writes.has(r)) this.feedsShell(false);
    if (this.dynamicCommand) this.risks.add('dynamic_command');
    return {
      commands: this.commands.sorted(), argv: this.argv.sorted(), wrappers: this.wrappers.sorted(),
      redirect_writes: this.writes.sorted(), redirect_reads: this.reads.sorted(), paths: this.paths.sorted(),
      credential_paths: this.credentials.sorted(), recursive_delete_targets: this.deletes.sorted(),
      pipes_to_shell: this.pipes, dynamic_command: this.dynamicCommand, dynamic_args: this.dynamicArgs,
      parse_error: this.parse, privileged: this.priv, risks: [...this.risks].sort(),
    };
  }
}

/** `--file=x` → `x`, `of=/dev/sda` → `/dev/sda`, `@/etc/shadow` → `/etc/shadow`, plus the word itself. */
function stripPrefixes(w: Word): Word[] {
  const out: Word[] = [w];
  const strip = (f: (a: string) => string | undefined): void => {
    const alts = w.alts.map(f);
    if (alts.every((a) => a !== undefined) && alts.length > 0) {
      const defined = alts.filter((a): a is string => a !== undefined);
      out.push({ ...w, alts: defined, raws: defined });
    }
  };
  strip((a) => {
    const eq = a.indexOf('=');
    return eq > 0 && eq < a.length - 1 ? a.slice(eq + 1) : undefined;
  });
  strip((a) => (a.startsWith('@') && a.length > 1 ? a.slice(1) : undefined));
  return out;
}
