/**
 * Memory of the gateway process (issue 23): idle RSS after start, then RSS sampled over a soak of
 * 1 000 keep-alive HTTP connections (`wrk -c1000`, a ~1 KB chat completion to a fake upstream)
 * and 80 PostgreSQL sessions (`pgbench -S -c 80`) at once, then idle again. Reports RSS at idle,
 * its range over the soak (first and second half: flat or growing), the peak (VmHWM), requests
 * refused (non-2xx), the RSS over time (min–max of each minute), the recorder's own counters from
 * `/metrics` (exchanges refused with `store_unavailable`, events dropped, queue length, exchanges
 * whose admission waited for the store; sampled
 * every minute), the store directory's size, and the same for the no-op Node proxy as a reference
 * for what Node itself holds. Gatehouse runs as deployed (bin/gatehouse start, embedded store on
 * disk, masking on).
 *
 *   npx node bench/memory.ts [soak-seconds=$BENCH_SECONDS or 600] [recording=on|off]
 * Needs wrk, pgbench and PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startGatehouse } from './lib/gatehouse-process.ts';
import { chatRequest, startUpstream } from './lib/llm-upstream.ts';
import { firstLine, loadAverage, range, rssMiB, stopAll } from './lib/proc.ts';
import { smapsGroups, threadNames } from './lib/smaps.ts';

const SOAK = Number(process.argv[2] ?? process.env.BENCH_SECONDS ?? 600);
const RECORDING = (process.argv[3] ?? 'on') !== 'off';
const admin = new URL(process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const DB = 'gh_bench_mem';

async function adminQuery(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: admin.toString() });
  await c.connect();
  try { await c.query(sql); } finally { await c.end(); }
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 24 }, (err, out, errOut) => {
      if (err) reject(new Error(`${cmd}: ${err.message} ${errOut.slice(-300)}`));
      else resolve(out);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Samples RSS of `pid` every second while `work` runs; `minute(i, samples)` is called after each
 * minute of wall time, without waiting for it (a slow /metrics under load must not stop the
 * sampling: in session 12 one fetch held it for 5 minutes).
 */
async function sampled(pid: number, work: Promise<unknown>, minute?: (i: number, xs: number[]) => Promise<void>): Promise<number[]> {
  const xs: number[] = [];
  let done = false;
  void work.finally(() => { done = true; }).catch(() => undefined);
  const t0 = Date.now();
  let minutes = 0;
  let from = 0;
  while (!done) {
    xs.push(rssMiB(pid).rss);
    if (minute && Date.now() - t0 >= (minutes + 1) * 60_000) {
      minutes++;
      void minute(minutes, xs.slice(from)).catch(() => undefined);
      from = xs.length;
    }
    await sleep(1000);
  }
  await work;
  return xs;
}

/** Bytes under `path` (files only, recursively). */
function duBytes(path: string): number {
  let n = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) n += duBytes(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

/** The recorder's counters from the gateway's /metrics. */
async function recorderMetrics(httpUrl: string): Promise<string> {
  const text = await (await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(20_000) })).text();
  const pick = (re: RegExp): string => re.exec(text)?.[1] ?? '?';
  return `refused ${pick(/^gatehouse_recording_refused_total (\S+)/m)}, events recorded ${pick(/^gatehouse_recording_events_total\{outcome="recorded"\} (\S+)/m)}, dropped ${pick(/^gatehouse_recording_events_total\{outcome="dropped"\} (\S+)/m)}, queued ${pick(/^gatehouse_recording_queued (\S+)/m)}, admissions delayed ${pick(/^gatehouse_recording_admission_delayed_total (\S+)/m)}`;
}

/** Resident memory of `pid` by kind of mapping (`bench/lib/smaps.ts`), the groups of ≥ 1 MiB, one line. */
function byMapping(pid: number): string {
  return smapsGroups(pid).filter((g) => g.rssKiB >= 1024).map((g) => `${g.name} ${(g.rssKiB / 1024).toFixed(0)}`).join(', ');
}

const dir = mkdtempSync(join(tmpdir(), 'gh-bench-mem-'));
const children: ChildProcess[] = [];
try {
  await adminQuery(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE ${DB}`);
  execFileSync('pgbench', ['-i', '-q', '-s', '1', '-h', admin.hostname, '-p', admin.port || '5432', '-U', admin.username, DB], { stdio: 'ignore' });
  const dbUrl = new URL(admin.toString());
  dbUrl.pathname = `/${DB}`;
  const up = await startUpstream(600);
  children.push(up.proc);
  const gw = await startGatehouse({
    dir: join(dir, 'gw'), recording: RECORDING, actions: ['llm.invoke', 'sql.read'],
    connections: [
      `  - { name: openai, type: llm, provider: openai, url: "http://127.0.0.1:${up.port}", credentials: { api_key: "sk-bench-upstream" } }`,
      `  - { name: ${DB}, type: postgres, url: "${dbUrl.toString()}" }`,
    ],
    maskingRules: ['    - { connections: ["*"], direction: both, entities: [EMAIL, CREDIT_CARD, US_SSN, PHONE, SECRET], strategy: redact }'],
    // One principal holds every connection here: raise its concurrency bounds above the load.
    extraYaml: ['limits: { per_principal: { http_requests: 2000, postgres_sessions: 200 } }'],
  });
  children.push(gw.proc);
  const key = await gw.mint('bench');
  const ref = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', fileURLToPath(new URL('./lib/reference-proxies.ts', import.meta.url)), 'http', String(up.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(ref);
  const refPort = Number((await firstLine(ref, /^(\d+)\n/))[1]);
  await sleep(5000);
  const idle = rssMiB(gw.pid).rss;
  const refIdle = rssMiB(ref.pid!).rss;
  const script = join(dir, 'post.lua');
  writeFileSync(script, ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(chatRequest(1000))}`, 'wrk.headers["content-type"] = "application/json"', `wrk.headers["authorization"] = "Bearer ${key}"`].join('\n'));
  const refScript = join(dir, 'ref.lua');
  writeFileSync(refScript, ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(chatRequest(1000))}`, 'wrk.headers["content-type"] = "application/json"'].join('\n'));
  console.log(`memory soak: ${SOAK} s of wrk -c1000 (keep-alive HTTP) and pgbench -S -c80 at once; recording ${RECORDING ? 'on' : 'off'}; load average ${loadAverage()}`);
  console.log(`idle after start: gatehouse ${idle.toFixed(0)} MiB RSS (peak during start ${rssMiB(gw.pid).hwm.toFixed(0)} MiB); no-op Node proxy ${refIdle.toFixed(0)} MiB`);
  console.log(`  by mapping (MiB): ${byMapping(gw.pid)}; threads: ${threadNames(gw.pid)}`);
  const wrkRun = run('wrk', ['-t1', '-c1000', `-d${SOAK}s`, '--timeout', '30s', '-s', script, `${gw.httpUrl}/proxy/openai/v1/chat/completions`]);
  const pgRun = run('pgbench', ['-S', '-n', '-c', '80', '-j', '2', '-T', String(SOAK), '-h', '127.0.0.1', '-p', String(gw.pgPort), '-U', 'bench', DB], { PGPASSWORD: key });
  const storeDir = join(dir, 'gw', 'state');
  const store0 = duBytes(storeDir);
  const xs = await sampled(gw.pid, Promise.all([wrkRun, pgRun]), async (i, last) => {
    const rss = `RSS ${range(last)} MiB (${last.length} samples); store ${(duBytes(storeDir) / 2 ** 20).toFixed(0)} MiB; load average ${loadAverage()}`;
    const m = await recorderMetrics(gw.httpUrl).catch((err: unknown) => String(err));
    console.log(`  minute ${i}: ${rss}; recorder: ${m}`);
  });
  const [wrkOut, pgOut] = await Promise.all([wrkRun, pgRun]);
  const half = Math.floor(xs.length / 2);
  const requests = Number(/(\d+) requests in/.exec(wrkOut)?.[1] ?? NaN);
  const refused = Number(/Non-2xx or 3xx responses: (\d+)/.exec(wrkOut)?.[1] ?? 0);
  const errors = /Socket errors: .*/.exec(wrkOut)?.[0] ?? 'no socket errors';
  const tx = Number(/number of transactions actually processed: (\d+)/.exec(pgOut)?.[1] ?? NaN);
  console.log(`soak: ${requests} HTTP requests (${refused} non-2xx; ${errors}), ${tx} PostgreSQL transactions; load average ${loadAverage()}`);
  console.log(`  recorder after the soak: ${await recorderMetrics(gw.httpUrl)}; store grew ${((duBytes(storeDir) - store0) / 2 ** 20).toFixed(0)} MiB`);
  console.log(`  by mapping at the end of the soak (MiB): ${byMapping(gw.pid)}; threads: ${threadNames(gw.pid)}`);
  console.log(`  gatehouse RSS over the soak: first half ${range(xs.slice(0, half))} MiB, second half ${range(xs.slice(half))} MiB, peak ${rssMiB(gw.pid).hwm.toFixed(0)} MiB`);
  await sleep(10_000);
  console.log(`  gatehouse RSS 10 s after the soak: ${rssMiB(gw.pid).rss.toFixed(0)} MiB; by mapping (MiB): ${byMapping(gw.pid)}`);
  // Is it given back while idle (V8's memory reducer acts after some seconds without allocation)?
  await sleep(50_000);
  console.log(`  gatehouse RSS 60 s after the soak: ${rssMiB(gw.pid).rss.toFixed(0)} MiB; by mapping (MiB): ${byMapping(gw.pid)}`);
  const refRun = run('wrk', ['-t1', '-c1000', `-d${Math.min(SOAK, 60)}s`, '--timeout', '30s', '-s', refScript, `http://127.0.0.1:${refPort}/v1/chat/completions`]);
  const rs = await sampled(ref.pid!, refRun);
  console.log(`  no-op Node proxy under wrk -c1000 alone (${Math.min(SOAK, 60)} s): ${range(rs)} MiB`);
} finally {
  await stopAll(children);
  await adminQuery(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
