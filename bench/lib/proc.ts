/**
 * Process helpers shared by the benchmarks: CPU time of another process from Linux `/proc`
 * (whole process, every thread, user + system), per thread, resident memory, waiting for a
 * child's first line of output, and stopping children cleanly.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of `/proc/PID/stat` (USER_HZ, 100 on Linux). */
const HZ = 100;

/** CPU seconds (user + system, every thread) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / HZ;
}

/** CPU seconds of a process and all its descendants that are alive now (e.g. nginx workers). */
export function treeCpuSeconds(pid: number): number {
  let total = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try { total += cpuSeconds(p); } catch { /* exited */ }
  }
  return total;
}

function descendants(pid: number): number[] {
  const out: number[] = [];
  let children: string;
  try {
    children = readdirSync(`/proc/${pid}/task`).map((t) => {
      try { return readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8'); } catch { return ''; }
    }).join(' ');
  } catch { return out; }
  for (const c of children.split(/\s+/).filter(Boolean).map(Number)) out.push(c, ...descendants(c));
  return out;
}

/** CPU seconds per thread name (`/proc/PID/task`), summed over threads of the same name. */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try { stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'); } catch { continue; }
    const name = /\((.*)\)/.exec(stat)?.[1] ?? '?';
    const f = stat.replace(/^.*\) /, '').split(' ');
    out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / HZ);
  }
  return out;
}

/** µs of CPU per unit by thread name between two `threadCpu` snapshots, largest first. */
export function perThreadUs(before: Map<string, number>, after: Map<string, number>, units: number): string {
  return [...after]
    .map(([name, s]) => [name, ((s - (before.get(name) ?? 0)) * 1e6) / units] as const)
    .filter(([, us]) => us >= 1).sort((a, b) => b[1] - a[1])
    .map(([name, us]) => `${name} ${us.toFixed(0)}`).join(', ');
}

/** Resident set size of a process in MiB (`VmRSS`), and its peak (`VmHWM`). */
export function rssMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** The system's 1-minute load average (the machine is shared: say how loaded it was). */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Resolves with the first match of `match` in a child's stdout + stderr; rejects on exit or timeout. */
export function firstLine(p: ChildProcess, match: RegExp, timeoutMs = Number(process.env.BENCH_START_MS ?? 180_000)): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => { reject(new Error(`timed out waiting for ${String(match)}: ${out.slice(-2000)}`)); }, timeoutMs);
    const on = (d: Buffer): void => {
      out += d.toString();
      if (out.length > 1_000_000) out = out.slice(-100_000);
      const m = match.exec(out);
      if (m) { clearTimeout(t); p.stdout?.off('data', on); p.stderr?.off('data', on); p.off('exit', onExit); resolve(m); }
    };
    const onExit = (code: number | null): void => { clearTimeout(t); reject(new Error(`exited ${code}: ${out.slice(-2000)}`)); };
    p.stdout?.on('data', on);
    p.stderr?.on('data', on);
    p.once('exit', onExit);
  });
}

/** Stops children with SIGTERM (SIGKILL after 15 s) and waits for them (a profile is written on exit). */
export async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(children.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) { resolve(); return; }
    const t = setTimeout(() => { c.kill('SIGKILL'); resolve(); }, 15_000);
    c.once('exit', () => { clearTimeout(t); resolve(); });
    c.kill('SIGTERM');
  })));
}

/** min–max of a list, formatted with `digits` decimals ("12–15", or "12" when equal). */
export function range(xs: readonly number[], digits = 0): string {
  if (xs.length === 0) return '–';
  const lo = Math.min(...xs).toFixed(digits);
  const hi = Math.max(...xs).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
}
