/**
 * Where a process's resident memory is (Linux `/proc/PID/smaps`), grouped by kind of mapping:
 * file-backed (by file), `[heap]` (glibc's main arena), WebAssembly linear memories (V8 reserves
 * each as a ≥ 4 GiB region and commits what the module grew to: the "touched" figure is what is
 * resident), the large anonymous mappings (thread arenas, 64 MiB-aligned; V8's code range), and
 * the small anonymous ones (V8 heap pages, thread stacks, malloc'd blocks above the mmap threshold).
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface SmapsGroup { name: string; count: number; rssKiB: number; sizeKiB: number }

/** One mapping of `/proc/PID/smaps`. */
export interface Mapping { name: string; sizeKiB: number; rssKiB: number; perms: string }

/** Every mapping of `pid`, in address order. */
export function mappings(pid: number): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = { name: head[4] ?? '', sizeKiB: 0, rssKiB: 0, perms: head[3] ?? '' };
      out.push(cur);
      continue;
    }
    const kv = /^(Size|Rss):\s+(\d+) kB/.exec(line);
    if (kv && cur) {
      if (kv[1] === 'Size') cur.sizeKiB = Number(kv[2]);
      else cur.rssKiB = Number(kv[2]);
    }
  }
  return out;
}

/** Resident memory of `pid` by kind of mapping, largest first (KiB). */
export function smapsGroups(pid: number): SmapsGroup[] {
  const groups = new Map<string, SmapsGroup>();
  const add = (name: string, m: Mapping): void => {
    const g = groups.get(name) ?? { name, count: 0, rssKiB: 0, sizeKiB: 0 };
    g.count++;
    g.rssKiB += m.rssKiB;
    g.sizeKiB += m.sizeKiB;
    groups.set(name, g);
  };
  // A WebAssembly memory's reservation is split into adjacent mappings (committed, then PROT_NONE).
  const all = mappings(pid);
  let wasm = 0;
  for (let i = 0; i < all.length; i++) {
    const m = all[i]!;
    if (m.name.startsWith('/')) add(m.name.includes('/node') && !m.name.endsWith('.so') ? 'node binary' : m.name.includes('.so') ? 'shared libraries' : `file ${m.name.split('/').slice(-2).join('/')}`, m);
    else if (m.name === '[heap]') add('[heap] (main malloc arena)', m);
    else if (m.name.startsWith('[stack')) add('[stack]', m);
    else if (m.name !== '') add(m.name, m);
    else if (m.sizeKiB >= 1 << 22 || (all[i + 1]?.name === '' && (all[i + 1]?.sizeKiB ?? 0) >= 1 << 22 && all[i + 1]?.perms.startsWith('---'))) add(`WebAssembly memory #${++wasm}`, m);
    else if (m.sizeKiB >= 60 * 1024 && m.sizeKiB <= 64 * 1024 + 8) add('anonymous 60-64 MiB (thread malloc arenas)', m);
    else if (m.sizeKiB >= 8192) add('anonymous >= 8 MiB', m);
    else if (m.sizeKiB === 256 || m.sizeKiB === 252 || m.sizeKiB === 260) add('anonymous 256 KiB (V8 heap pages)', m);
    else add('anonymous < 8 MiB', m);
  }
  return [...groups.values()].sort((a, b) => b.rssKiB - a.rssKiB);
}

/** The `smaps_rollup` of a process (Rss, Anonymous, file-backed). */
export function smapsRollup(pid: number): string {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? NaN);
  return `Rss ${(kb('Rss') / 1024).toFixed(0)} MiB (anonymous ${(kb('Anonymous') / 1024).toFixed(0)}, file ${((kb('Rss') - kb('Anonymous')) / 1024).toFixed(0)})`;
}

/** Thread names of a process, with how many of each. */
export function threadNames(pid: number): string {
  const names = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let n = '?';
    try { n = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(); } catch { /* exited */ }
    names.set(n, (names.get(n) ?? 0) + 1);
  }
  return [...names].map(([n, c]) => (c > 1 ? `${n} x${c}` : n)).join(', ');
}

