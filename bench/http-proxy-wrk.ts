/**
 * The LLM/HTTP data path as deployed, against reference proxies in the same run: `wrk` (C, one
 * thread) posts a ~1 KB OpenAI chat completion request (answer ~0.6 KB) to a fake upstream in its
 * own process (bench/lib/llm-upstream.ts) directly and through each proxy, rounds interleaved;
 * reported per proxy: **µs of proxy CPU per request** (whole process and its children, every
 * thread, user + system, from `/proc`), requests/s (ratio to direct, for information) and p50/p99.
 *
 * - Gatehouse (`gatehouse start`, embedded store on disk, masking both ways on every connection),
 *   recording off and recording on;
 * - nginx (C; Debian `nginx-light`, `apt-get install nginx-light`; skipped with a note when
 *   missing): one worker, upstream keep-alive;
 * - a no-op Node reverse proxy (bench/lib/reference-proxies.ts, undici pool): the Node floor;
 * - the Portkey AI gateway (`@portkey-ai/gateway`, a devDependency; started from
 *   node_modules/@portkey-ai/gateway/build/start-server.js, or BENCH_PORTKEY=<path to that file>),
 *   pass-through with `x-portkey-provider: openai` and `x-portkey-custom-host` pointing at the
 *   bench upstream, no guardrails.
 *
 *   npx node bench/http-proxy-wrk.ts [connections=16] [seconds=5]
 *   BENCH_ROUNDS=2 BENCH_CONNECTIONS=16,1 BENCH_TARGETS=direct,off,on,nginx,noop,portkey
 *   BENCH_GW_PROF=<dir>      CPU profile of the recording-off gateway (written when it stops;
 *                            BENCH_GW_PROF_RECORDING=on: of the recording-on one)
 *   BENCH_UPSTREAM_MS=20     the upstream answers after 20 ms (default 0: the proxy's cost alone)
 *   BENCH_WARMUP_ROUNDS=3    warm-up runs per target before measuring (default 1): a gateway tiers its
 *                            JavaScript and WebAssembly (PGlite, Cedar) up on V8's background threads for
 *                            tens of seconds after start, CPU a short warm-up counts per request
 *   BENCH_BEFORE=<worktree>  Gatehouse from that tree too (node_modules symlinked), recording on
 *                            (BENCH_BEFORE_RECORDING=off: off), in the same interleaved rounds
 * Needs `wrk` (Debian package `wrk`).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/harness/net.ts';
import { startGatehouse } from './lib/gatehouse-process.ts';
import { chatRequest, startUpstream } from './lib/llm-upstream.ts';
import { firstLine, loadAverage, perThreadUs, range, stopAll, threadCpu, treeCpuSeconds } from './lib/proc.ts';

const SECONDS = Number(process.argv[3] ?? 5);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? `${process.argv[2] ?? 16},1`).split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const TARGETS = new Set((process.env.BENCH_TARGETS ?? 'direct,off,on,nginx,noop,portkey').split(','));
TARGETS.add('direct');
const UPSTREAM_MS = Number(process.env.BENCH_UPSTREAM_MS ?? 0);
const BEFORE = process.env.BENCH_BEFORE;
const BEFORE_RECORDING = (process.env.BENCH_BEFORE_RECORDING ?? 'on') !== 'off';
if (BEFORE !== undefined) TARGETS.add('before');
const NGINX = '/usr/sbin/nginx';

interface WrkResult { rps: number; p50ms: number; p99ms: number; requests: number }
interface Target { name: string; url: string; script: string; pid?: number; threads?: boolean }

function wrk(url: string, script: string, connections: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t1', `-c${connections}`, `-d${SECONDS}s`, '--latency', '-s', script, url], { encoding: 'utf8' }, (err, out) => {
      if (err) { reject(err); return; } // eslint-disable-line @typescript-eslint/prefer-promise-reject-errors
      const pct = (p: string): number => {
        const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
        if (!m) return NaN;
        const v = Number(m[1]);
        return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
      };
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      if (non2xx) { reject(new Error(`${non2xx[1]} requests failed against ${url}`)); return; }
      resolve({ rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN), p50ms: pct('50'), p99ms: pct('99'), requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN) });
    });
  });
}

async function startNginx(dir: string, upPort: number): Promise<{ proc: ChildProcess; port: number }> {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, `daemon off; worker_processes 1; error_log ${dir}/nginx-error.log; pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream up { server 127.0.0.1:${upPort}; keepalive 64; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`);
  const proc = spawn(NGINX, ['-c', conf, '-p', dir], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}' }).then((r) => r.status, () => 0) === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, port };
}

async function startPortkey(): Promise<{ proc: ChildProcess; port: number } | string> {
  const script = process.env.BENCH_PORTKEY ?? fileURLToPath(new URL('../node_modules/@portkey-ai/gateway/build/start-server.js', import.meta.url));
  if (!existsSync(script)) return `not found (${script}): npm install (it is a devDependency) or set BENCH_PORTKEY`;
  const port = await freePort();
  const proc = spawn(process.execPath, [script, `--port=${port}`, '--headless'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await firstLine(proc, /(listening|running|Gateway|localhost:)/i);
  proc.stdout?.resume();
  proc.stderr?.resume();
  return { proc, port };
}

const dir = mkdtempSync(join(tmpdir(), 'gh-bench-wrk-'));
const children: ChildProcess[] = [];
try {
  const up = await startUpstream(600);
  children.push(up.proc);
  const body = chatRequest(1000);
  const script = (name: string, headers: Record<string, string>): string => {
    const f = join(dir, `${name}.lua`);
    writeFileSync(f, ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(body)}`, 'wrk.headers["content-type"] = "application/json"',
      ...Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)].join('\n'));
    return f;
  };
  const plain = script('direct', { authorization: 'Bearer sk-bench-upstream' });
  const list: Target[] = [{ name: 'direct', url: `http://127.0.0.1:${up.port}/v1/chat/completions`, script: plain }];
  for (const rec of ['off', 'on', 'before'] as const) {
    if (!TARGETS.has(rec) || (rec === 'before' && BEFORE === undefined)) continue;
    const gw = await startGatehouse({
      dir: join(dir, `gw-${rec}`), recording: rec === 'before' ? BEFORE_RECORDING : rec === 'on', actions: ['llm.invoke'],
      ...(rec === 'before' && BEFORE !== undefined ? { root: BEFORE } : {}),
      ...(rec === (process.env.BENCH_GW_PROF_RECORDING ?? 'off') && process.env.BENCH_GW_PROF ? { cpuProfDir: process.env.BENCH_GW_PROF } : {}),
      connections: [`  - { name: openai, type: llm, provider: openai, url: "http://127.0.0.1:${up.port}", credentials: { api_key: "sk-bench-upstream" } }`],
      maskingRules: ['    - { connections: ["*"], direction: both, entities: [EMAIL, CREDIT_CARD, US_SSN, PHONE, SECRET], strategy: redact }'],
    });
    children.push(gw.proc);
    const key = await gw.mint('alice');
    list.push({ name: rec === 'before' ? `gatehouse before, recording ${BEFORE_RECORDING ? 'on' : 'off'}` : `gatehouse recording ${rec}`, url: `${gw.httpUrl}/proxy/openai/v1/chat/completions`, script: script(`gw-${rec}`, { authorization: `Bearer ${key}` }), pid: gw.pid, threads: true });
  }
  if (TARGETS.has('nginx')) {
    if (existsSync(NGINX)) {
      const n = await startNginx(dir, up.port);
      children.push(n.proc);
      list.push({ name: 'nginx (1 worker)', url: `http://127.0.0.1:${n.port}/v1/chat/completions`, script: plain, pid: n.proc.pid! });
    } else console.log(`nginx: not installed (${NGINX}); apt-get install nginx-light to measure it`);
  }
  if (TARGETS.has('noop')) {
    const ref = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', fileURLToPath(new URL('./lib/reference-proxies.ts', import.meta.url)), 'http', String(up.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(ref);
    const port = Number((await firstLine(ref, /^(\d+)\n/))[1]);
    list.push({ name: 'no-op Node proxy (undici pool)', url: `http://127.0.0.1:${port}/v1/chat/completions`, script: plain, pid: ref.pid! });
  }
  if (TARGETS.has('portkey')) {
    const pk = await startPortkey();
    if (typeof pk === 'string') console.log(`Portkey gateway: ${pk}`);
    else {
      children.push(pk.proc);
      list.push({ name: 'Portkey gateway 1.15.2, pass-through', url: `http://127.0.0.1:${pk.port}/v1/chat/completions`, pid: pk.proc.pid!,
        script: script('portkey', { authorization: 'Bearer sk-bench-upstream', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `http://127.0.0.1:${up.port}/v1` }) });
    }
  }
  console.log(`wrk -t1 -d${SECONDS}s (${process.env.BENCH_WARMUP_ROUNDS ?? 1} warm-up runs per target), ~1 KB chat completion request, ~0.6 KB answer, upstream delay ${UPSTREAM_MS} ms; ${ROUNDS} interleaved rounds; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${loadAverage()}`);
  const warmups = Number(process.env.BENCH_WARMUP_ROUNDS ?? 1);
  for (let w = 0; w < warmups; w++) for (const t of list) await wrk(t.url, t.script, CONNECTIONS[0]!); // warm-up (JIT, pools)
  for (const c of CONNECTIONS) {
    const samples = new Map<string, { r: WrkResult; cpuUs: number; threads: string }[]>(list.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of round % 2 === 0 ? list : [...list].reverse()) {
        const cpu0 = t.pid === undefined ? 0 : treeCpuSeconds(t.pid);
        const th0 = t.threads && t.pid !== undefined ? threadCpu(t.pid) : undefined;
        const r = await wrk(t.url, t.script, c);
        const cpuUs = t.pid === undefined ? NaN : ((treeCpuSeconds(t.pid) - cpu0) * 1e6) / r.requests;
        const threads = th0 && t.pid !== undefined ? perThreadUs(th0, threadCpu(t.pid), r.requests) : '';
        samples.get(t.name)!.push({ r, cpuUs, threads });
      }
    }
    const direct = samples.get('direct')!;
    console.log(`${c} connection(s) (load average ${loadAverage()}):`);
    for (const t of list) {
      const s = samples.get(t.name)!;
      const cpu = t.pid === undefined ? '' : `${range(s.map((x) => x.cpuUs))} µs/req`;
      const ratio = t.name === 'direct' ? '' : ` (${range(s.map((x, i) => (100 * x.r.rps) / direct[i]!.r.rps))} %)`;
      console.log(`  ${t.name.padEnd(38)} ${cpu.padStart(16)}  ${range(s.map((x) => x.r.rps)).padStart(13)} req/s${ratio}  p50 ${range(s.map((x) => x.r.p50ms), 2)} ms  p99 ${range(s.map((x) => x.r.p99ms), 2)} ms`);
      if (t.threads) for (const x of s) console.log(`      by thread (µs/req): ${x.threads}`);
    }
  }
} finally {
  await stopAll(children);
  rmSync(dir, { recursive: true, force: true });
}
