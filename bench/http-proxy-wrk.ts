/**
 * The LLM/HTTP data path as deployed: three processes. An upstream that answers every POST with
 * a small OpenAI chat completion (a child process), Gatehouse started with `gatehouse start`
 * (a child process: its own event loop, the embedded store on disk, recording on), and `wrk`
 * as the load generator (C, one thread). The same upstream is measured directly and through
 * the gateway, interleaved, in the same run: requests/s, p50 and p99 at fixed concurrency. A
 * no-op Node reverse proxy (bench/lib/reference-proxies.ts: no auth, policy, masking or
 * recording) is measured the same way: the floor of any Node proxy's two extra hops here.
 * Needs `wrk` (Debian package `wrk`).
 *
 *   npx node bench/http-proxy-wrk.ts [connections=16] [seconds=5] [recording=on|off]
 *   BENCH_GW_PROF=/tmp/prof …   also writes a CPU profile of the gateway process
 *   BENCH_UPSTREAM_MS=20 …      the upstream answers after 20 ms (default 0: the proxy's cost alone)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONNECTIONS = Number(process.argv[2] ?? 16);
const SECONDS = Number(process.argv[3] ?? 5);
const RECORDING = (process.argv[4] ?? 'on') !== 'off';
/** BENCH_UPSTREAM_MS: the upstream answers after this delay (a hosted model takes 300 ms and more). */
const UPSTREAM_MS = Number(process.env.BENCH_UPSTREAM_MS ?? 0);

// Child mode: the upstream.
if (process.env.BENCH_UPSTREAM === '1') {
  const answer = JSON.stringify({
    id: 'chatcmpl-bench', object: 'chat.completion', created: 1_700_000_000, model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content: 'The answer is 42. Nothing sensitive here.' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
  });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const send = (): void => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(answer); };
      if (UPSTREAM_MS > 0) setTimeout(send, UPSTREAM_MS);
      else send();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => { process.stdout.write(`${(server.address() as AddressInfo).port}\n`); });
} else {
  await main();
}

function firstLine(p: ChildProcess, match: RegExp, timeoutMs = Number(process.env.BENCH_START_MS ?? 30_000)): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => { reject(new Error(`timed out waiting for ${String(match)}: ${out.slice(-2000)}`)); }, timeoutMs);
    const on = (d: Buffer): void => {
      out += d.toString();
      const m = match.exec(out);
      if (m) { clearTimeout(t); p.stdout?.off('data', on); p.stderr?.off('data', on); resolve(m); }
    };
    p.stdout?.on('data', on);
    p.stderr?.on('data', on);
    p.once('exit', (code) => { clearTimeout(t); reject(new Error(`exited ${code}: ${out.slice(-2000)}`)); });
  });
}

interface WrkResult { rps: number; p50ms: number; p99ms: number; requests: number }

/** CPU seconds (user + system, every thread) a process has used so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** CPU seconds per thread name (Linux /proc/PID/task), summed over threads of the same name. */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try { stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'); } catch { continue; }
    const name = /\((.*)\)/.exec(stat)?.[1] ?? '?';
    const f = stat.replace(/^.*\) /, '').split(' ');
    out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
  }
  return out;
}

function wrk(url: string, script: string, connections = CONNECTIONS): WrkResult {
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${SECONDS}s`, '--latency', '-s', script, url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) throw new Error(`${non2xx[1]} requests failed against ${url}`);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  return { rps, p50ms: pct('50'), p99ms: pct('99'), requests };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-wrk-'));
  const children: ChildProcess[] = [];
  try {
    const self = fileURLToPath(import.meta.url);
    const up = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', self], { env: { ...process.env, BENCH_UPSTREAM: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(up);
    const upPort = Number((await firstLine(up, /^(\d+)\n/))[1]);
    const refScript = fileURLToPath(new URL('./lib/reference-proxies.ts', import.meta.url));
    const ref = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', refScript, 'http', String(upPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(ref);
    const refPort = Number((await firstLine(ref, /^(\d+)\n/))[1]);

    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'bench.cedar'), '@id("bench-llm")\npermit (principal in Group::"bench", action == Action::"llm.invoke", resource);\n');
    writeFileSync(join(dir, 'gatehouse.yaml'), [
      'server:', '  http: { listen: "127.0.0.1:0" }', '  postgres: { listen: "127.0.0.1:0" }',
      'store:', '  embedded: { path: ./state }',
      'policies:', '  files: [ "policies/*.cedar" ]',
      'log: { level: info }',
      'connections:',
      `  - { name: openai, type: llm, provider: openai, url: "http://127.0.0.1:${upPort}", credentials: { api_key: "sk-bench-upstream" } }`,
      'masking:', '  rules:', '    - { connections: ["*"], direction: both, entities: [EMAIL, CREDIT_CARD, US_SSN, PHONE, SECRET], strategy: redact }',
      `recording: { enabled: ${RECORDING} }`,
    ].join('\n'));
    const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
    // BENCH_GW_PROF=<dir>: a CPU profile of the gateway process (written when it stops).
    const prof = process.env.BENCH_GW_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_GW_PROF}`] : [];
    const gw = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...prof, main, 'start', '--config', join(dir, 'gatehouse.yaml')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(gw);
    const listening = await firstLine(gw, /"http":"(http:\/\/[^"]+)"/);
    const gwUrl = listening[1]!;
    const adminKey = readFileSync(join(dir, 'state', 'admin.key'), 'utf8').trim();
    const created = await fetch(`${gwUrl}/api/v1/api-keys`, {
      method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'alice', agent: 'bench-agent', groups: ['bench'] }),
    });
    const key = ((await created.json()) as { key: string }).key;

    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is six times seven?' }] });
    const script = (auth: string): string => {
      const f = join(dir, `post-${auth.length}.lua`);
      writeFileSync(f, [
        'wrk.method = "POST"',
        `wrk.body = ${JSON.stringify(body)}`,
        'wrk.headers["content-type"] = "application/json"',
        `wrk.headers["authorization"] = ${JSON.stringify(`Bearer ${auth}`)}`,
      ].join('\n'));
      return f;
    };
    const directScript = script('sk-bench-upstream');
    const gwScript = script(key);
    const directUrl = `http://127.0.0.1:${upPort}/v1/chat/completions`;
    const viaUrl = `${gwUrl}/proxy/openai/v1/chat/completions`;
    const refUrl = `http://127.0.0.1:${refPort}/v1/chat/completions`;
    // Warm up all three (JIT, pools), then interleave.
    wrk(directUrl, directScript);
    wrk(viaUrl, gwScript);
    wrk(refUrl, directScript);
    const ref0 = cpuSeconds(ref.pid!);
    const noop = [wrk(refUrl, directScript)];
    const refCpuUs = ((cpuSeconds(ref.pid!) - ref0) * 1e6) / noop[0]!.requests;
    const direct = [wrk(directUrl, directScript)];
    const cpu0 = cpuSeconds(gw.pid!);
    const threads0 = threadCpu(gw.pid!);
    const via = [wrk(viaUrl, gwScript)];
    const gwCpuUs = ((cpuSeconds(gw.pid!) - cpu0) * 1e6) / via[0]!.requests;
    const perThread = [...threadCpu(gw.pid!)]
      .map(([name, s]) => [name, ((s - (threads0.get(name) ?? 0)) * 1e6) / via[0]!.requests] as const)
      .filter(([, us]) => us >= 1).sort((a, b) => b[1] - a[1])
      .map(([name, us]) => `${name} ${us.toFixed(0)}`).join(', ');
    const up0 = cpuSeconds(up.pid!);
    direct.push(wrk(directUrl, directScript));
    const upCpuUs = ((cpuSeconds(up.pid!) - up0) * 1e6) / direct[1]!.requests;
    via.push(wrk(viaUrl, gwScript));
    noop.push(wrk(refUrl, directScript));
    const best = (xs: WrkResult[]): WrkResult => xs.reduce((a, b) => (b.rps > a.rps ? b : a));
    const d = best(direct);
    const g = best(via);
    const n = best(noop);
    console.log(`wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, small non-streamed chat completion, upstream delay ${UPSTREAM_MS} ms; gateway in its own process (embedded store, recording ${RECORDING ? 'on' : 'off'}, masking on); best of 2`);
    console.log(`  direct   ${d.rps.toFixed(0).padStart(7)} req/s  p50 ${d.p50ms.toFixed(3)} ms  p99 ${d.p99ms.toFixed(3)} ms`);
    console.log(`  gateway  ${g.rps.toFixed(0).padStart(7)} req/s  p50 ${g.p50ms.toFixed(3)} ms  p99 ${g.p99ms.toFixed(3)} ms`);
    console.log(`  no-op Node proxy ${n.rps.toFixed(0).padStart(7)} req/s  p50 ${n.p50ms.toFixed(3)} ms  p99 ${n.p99ms.toFixed(3)} ms  (${(100 * n.rps / d.rps).toFixed(1)} % of direct: the floor of any Node proxy here)`);
    console.log(`  CPU per request: upstream ${upCpuUs.toFixed(0)} µs (direct run); gateway process ${gwCpuUs.toFixed(0)} µs (all its threads, user + system); no-op proxy ${refCpuUs.toFixed(0)} µs`);
    console.log(`  gateway CPU per request by thread (µs): ${perThread}`);
    console.log(`  added    p50 ${(g.p50ms - d.p50ms).toFixed(3)} ms  p99 ${(g.p99ms - d.p99ms).toFixed(3)} ms;  throughput ratio ${(100 * g.rps / d.rps).toFixed(1)} %`);
    const d1 = wrk(directUrl, directScript, 1);
    const g1 = wrk(viaUrl, gwScript, 1);
    const n1 = wrk(refUrl, directScript, 1);
    console.log(`  one connection: direct p50 ${d1.p50ms.toFixed(3)} ms p99 ${d1.p99ms.toFixed(3)} ms, gateway p50 ${g1.p50ms.toFixed(3)} ms p99 ${g1.p99ms.toFixed(3)} ms: added p50 ${(g1.p50ms - d1.p50ms).toFixed(3)} ms, p99 ${(g1.p99ms - d1.p99ms).toFixed(3)} ms`);
    console.log(`  one connection, throughput: direct ${d1.rps.toFixed(0)} req/s, gateway ${g1.rps.toFixed(0)} (${(100 * g1.rps / d1.rps).toFixed(1)} %), no-op Node proxy ${n1.rps.toFixed(0)} (${(100 * n1.rps / d1.rps).toFixed(1)} %, added p50 ${(n1.p50ms - d1.p50ms).toFixed(3)} ms)`);
  } finally {
    // Stop the children and wait for them (the gateway shuts down cleanly and writes its profile).
    await Promise.all(children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null) { resolve(); return; }
      const t = setTimeout(() => { c.kill('SIGKILL'); resolve(); }, 15_000);
      c.once('exit', () => { clearTimeout(t); resolve(); });
      c.kill('SIGTERM');
    })));
    rmSync(dir, { recursive: true, force: true });
  }
}
