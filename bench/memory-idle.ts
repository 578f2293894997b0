/**
 * What the gateway's idle RSS is made of (issue 23): starts `gatehouse start` as `bench/memory.ts`
 * does (embedded store on disk, masking, one LLM and one PostgreSQL connection), waits, then
 * prints `smaps_rollup`, resident memory by kind of mapping (`bench/lib/smaps.ts`), the threads,
 * and V8's heap of every isolate (Node's diagnostic report: the main thread and each worker).
 * With `BENCH_TRIM=1` it then calls glibc's `malloc_trim(0)` in the process through gdb and
 * prints what that gave back (what the allocator held free). With a PostgreSQL URL as
 * `BENCH_STORE_URL` the store is that database instead of the embedded one. `BENCH_NO_PG=1`: no
 * PostgreSQL connection (an LLM-only gateway). `BENCH_ROOT=<worktree>`: run that checkout's
 * gateway (a before/after comparison in the same run). `BENCH_RESTART=1`: the gateway is started
 * once (its store initialized), stopped, and measured from its second start on the same
 * directory (a restart: no initdb).
 *
 *   npx node bench/memory-idle.ts [idle-seconds=30]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatehouse } from './lib/gatehouse-process.ts';
import { startUpstream } from './lib/llm-upstream.ts';
import { loadAverage, rssMiB, stopAll } from './lib/proc.ts';
import { mappings, smapsGroups, smapsRollup, threadNames } from './lib/smaps.ts';

const IDLE_S = Number(process.argv[2] ?? 30);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Heap { totalMemory: number; usedMemory: number; heapSpaces?: Record<string, { memorySize: number; used: number }> }
interface Report { javascriptHeap: Heap; workers?: Report[]; header?: { threadId?: number } }

const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
function heapLine(label: string, h: Heap): string {
  const spaces = Object.entries(h.heapSpaces ?? {}).filter(([, s]) => s.memorySize >= 1 << 20)
    .map(([k, s]) => `${k} ${mb(s.memorySize)}/${mb(s.used)}`).join(', ');
  return `  ${label}: committed ${mb(h.totalMemory)} MB, used ${mb(h.usedMemory)} MB (${spaces})`;
}

const dir = mkdtempSync(join(tmpdir(), 'gh-bench-idle-'));
const up = await startUpstream(600);
const children = [up.proc];
try {
  const options = (): Parameters<typeof startGatehouse>[0] => ({
    dir: join(dir, 'gw'), recording: true, actions: ['llm.invoke', 'sql.read'],
    connections: [
      `  - { name: openai, type: llm, provider: openai, url: "http://127.0.0.1:${up.port}", credentials: { api_key: "sk-bench-upstream" } }`,
      ...(process.env.BENCH_NO_PG ? [] : ['  - { name: db, type: postgres, url: "postgres://postgres@127.0.0.1:5432/postgres" }']),
    ],
    ...(process.env.BENCH_ROOT ? { root: process.env.BENCH_ROOT } : {}),
    maskingRules: ['    - { connections: ["*"], direction: both, entities: [EMAIL, CREDIT_CARD, US_SSN, PHONE, SECRET], strategy: redact }'],
    nodeArgs: ['--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${dir}`, ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    ...(process.env.BENCH_STORE_URL ? { storeUrl: process.env.BENCH_STORE_URL } : {}),
  });
  if (process.env.BENCH_RESTART) {
    const first = await startGatehouse(options());
    await sleep(3000);
    await stopAll([first.proc]);
  }
  const gw = await startGatehouse(options());
  children.push(gw.proc);
  await sleep(IDLE_S * 1000);
  const { rss, hwm } = rssMiB(gw.pid);
  console.log(`gatehouse idle ${IDLE_S} s after "listening": RSS ${rss.toFixed(0)} MiB (peak ${hwm.toFixed(0)}); ${smapsRollup(gw.pid)}; load average ${loadAverage()}`);
  console.log(`threads: ${threadNames(gw.pid)}`);
  for (const g of smapsGroups(gw.pid).filter((x) => x.rssKiB >= 512)) {
    console.log(`  ${(g.rssKiB / 1024).toFixed(1).padStart(6)} MiB  ${g.name} (${g.count} mapping${g.count > 1 ? 's' : ''}, ${(g.sizeKiB / 1024).toFixed(0)} MiB mapped)`);
  }
  if (process.env.BENCH_DETAIL) {
    const big = mappings(gw.pid).filter((m) => m.name === '' && m.rssKiB >= 1024);
    console.log(`anonymous mappings with >= 1 MiB resident: ${big.map((m) => `${(m.rssKiB / 1024).toFixed(1)}/${(m.sizeKiB / 1024).toFixed(0)}${m.perms.includes('x') ? ' x' : ''}`).join(', ')} (MiB resident/mapped)`);
  }
  process.kill(gw.pid, 'SIGUSR2');
  let file: string | undefined;
  for (let i = 0; i < 50 && !file; i++) { await sleep(200); file = readdirSync(dir).find((f) => f.startsWith('report.')); }
  if (file) {
    await sleep(300);
    const r = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Report;
    console.log('V8 heaps (committed/used MB):');
    console.log(heapLine('main', r.javascriptHeap));
    (r.workers ?? []).forEach((w, i) => { console.log(heapLine(`worker ${i + 1} (thread ${w.header?.threadId ?? '?'})`, w.javascriptHeap)); });
  }
  if (process.env.BENCH_TRIM) {
    execFileSync('gdb', ['-p', String(gw.pid), '-batch', '-ex', 'call (int)malloc_trim(0)'], { stdio: 'ignore' });
    console.log(`after malloc_trim(0) by gdb: RSS ${rssMiB(gw.pid).rss.toFixed(0)} MiB`);
  }
} finally {
  await stopAll(children);
  rmSync(dir, { recursive: true, force: true });
}
